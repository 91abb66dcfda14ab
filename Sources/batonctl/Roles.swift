import ArgumentParser
import Baton

/// `batonctl roles apply`: the database roles of sql/roles.sql.
struct Roles: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Set up Baton's database roles: baton_owner, baton_admin, baton_worker, baton_readonly.",
        discussion: """
            Run by the login that migrates (it becomes a member of baton_owner, which then owns the
            tables). Creating the four NOLOGIN group roles needs CREATEROLE once; logins are then made
            members, e.g. CREATE ROLE worker1 LOGIN PASSWORD '…' IN ROLE baton_worker.
            `batonctl migrate` run by a member of baton_owner re-applies the grants by itself.
            See docs/operations.md, "Roles".
            """,
        subcommands: [Apply.self])

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the group roles when missing and grant each its privileges (safe to repeat).",
            discussion: "Example:\n  batonctl migrate && batonctl roles apply")
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let store = try database.store(connections: 1)
            defer { Task { await store.pool.close() } }
            let report = try await store.applyRoles()
            print("roles applied: baton_owner (member: \(report.user)) owns \(report.tables) tables; "
                  + "baton_admin, baton_worker, baton_readonly granted")
        }
    }
}
