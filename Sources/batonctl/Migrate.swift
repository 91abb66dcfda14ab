import ArgumentParser
import Baton

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create or update Baton's tables (safe to run again, and from several hosts at once).",
        discussion: "The migrations are built into batonctl; it works from any directory.\n\nExample:\n  batonctl migrate --database-url postgresql://baton@db/baton")

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        // The migrations hold a session-level advisory lock, which a transaction pooler would lend
        // to other clients between statements: refuse rather than migrate unlocked.
        let settings = try database.settings()
        if try Baton.pooling(flag: settings["pooler"], environment: [:]) == .transactionPooler {
            throw BatonError.invalid("migrate needs a direct connection, not a transaction pooler (pooler: \(settings["pooler"] ?? "") from "
                                     + "\(settings.source("pooler"))): give the direct URL with BATON_POOLER=none")
        }
        let store = try database.store(connections: 1)
        let report = try await store.migrate()
        if report.applied.isEmpty {
            print("schema is up to date (version \(report.version)); nothing to do")
        } else {
            for migration in report.applied { print("applied \(migration.name)") }
            print("schema is at version \(report.version)")
        }
        // A member of baton_owner re-applies the grants, so new tables get theirs (sql/roles.sql).
        if let roles = try await store.applyRolesIfOwner() {
            print("grants applied to \(roles.tables) tables (baton_admin, baton_worker, baton_readonly)")
        }
        await store.pool.close()
    }
}
