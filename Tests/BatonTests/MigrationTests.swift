import Baton
import BatonTesting
import Foundation
import Postgres
import Testing

@Suite("Migrations")
struct MigrationTests {
    @Test func embeddedMigrationsMatchSqlFolder() throws {
        let folder = packageRoot.appendingPathComponent("sql")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sql") }.sorted()
        #expect(files.map { String($0.dropLast(4)) } == Migration.all.map(\.name), "run scripts/gen-migrations")
        for (file, migration) in zip(files, Migration.all) {
            let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            #expect(text == migration.sql, "\(file) differs from the embedded copy: run scripts/gen-migrations")
        }
        // Numbered from 1 with no gaps.
        #expect(Migration.all.map(\.version) == Array(1...Migration.all.count))
    }

    @Test func migrateFromEmptyThenAgainChangesNothing() async throws {
        let pool = ConnectionPool(try await TestDatabase.create("migrate"), maxConnections: 2)
        defer { Task { await pool.close() } }
        let store = Store(pool: pool)
        let first = try await store.migrate()
        #expect(first.applied.map(\.version) == Migration.all.map(\.version))
        let second = try await store.migrate()
        #expect(second.applied.isEmpty)
        #expect(try await store.appliedMigrations() == Migration.all.map(\.version))
    }

    @Test func twoProcessesMigratingAtOnceApplyEachMigrationOnce() async throws {
        let config = try await TestDatabase.create("migrate2")
        let a = Store(pool: ConnectionPool(config, maxConnections: 1))
        let b = Store(pool: ConnectionPool(config, maxConnections: 1))
        async let ra = a.migrate()
        async let rb = b.migrate()
        let (reportA, reportB) = try await (ra, rb)
        #expect(reportA.applied.count + reportB.applied.count == Migration.all.count)
        #expect(try await a.appliedMigrations() == Migration.all.map(\.version))
        await a.pool.close()
        await b.pool.close()
    }
}
