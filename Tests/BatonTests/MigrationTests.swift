import Baton
import BatonCore
import BatonTesting
import Foundation
import Postgres
import Testing

@Suite("Migrations")
struct MigrationTests {
    @Test func embeddedMigrationsMatchSqlFolder() throws {
        let folder = packageRoot.appendingPathComponent("sql")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sql") && $0.first?.isNumber == true }.sorted()
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

    @Test("applied migrations carry checksums; an edited migration makes migrate refuse and apply nothing")
    func checksums() async throws {
        let pool = ConnectionPool(try await TestDatabase.create("checksum"), maxConnections: 2)
        defer { Task { await pool.close() } }
        let store = Store(pool: pool)
        _ = try await store.migrate(Array(Migration.all.prefix(2)))
        let stored: [String] = try await pool.withConnection { connection in
            try await connection.query("SELECT checksum FROM baton_migrations ORDER BY version").map { try $0.decode(String.self, at: 0) }
        }
        #expect(stored == Migration.all.prefix(2).map(\.checksum))

        // 0002 as this binary carries it no longer matches what was applied.
        let edited = Migration(version: 2, name: Migration.all[1].name, sql: Migration.all[1].sql + "\n-- edited\n")
        await #expect {
            _ = try await store.migrate([Migration.all[0], edited] + Migration.all.dropFirst(2))
        } throws: { error in
            "\(error)".contains("0002_api") && "\(error)".contains("must never be edited")
        }
        #expect(try await store.appliedMigrations() == [1, 2], "nothing applied after the refusal")
        // The lock was released: the unedited set migrates to head.
        _ = try await store.migrate()
        #expect(try await store.appliedMigrations() == Migration.all.map(\.version))
    }

    @Test("a database migrated before checksums existed gets them filled in")
    func checksumsFilledIn() async throws {
        let pool = ConnectionPool(try await TestDatabase.create("checksumfill"), maxConnections: 2)
        defer { Task { await pool.close() } }
        let store = Store(pool: pool)
        _ = try await store.migrate()
        try await pool.withConnection { _ = try await $0.executeScript("ALTER TABLE baton_migrations DROP COLUMN checksum") }
        let report = try await store.migrate()
        #expect(report.applied.isEmpty)
        let missing: Int = try await pool.withConnection {
            try await $0.query("SELECT count(*) FROM baton_migrations WHERE checksum IS NULL")[0].decode(at: 0)
        }
        #expect(missing == 0)
    }

    @Test("a no-transaction migration can CREATE INDEX CONCURRENTLY, which a transaction refuses")
    func noTransactionMigration() async throws {
        let pool = ConnectionPool(try await TestDatabase.create("concurrently"), maxConnections: 2)
        defer { Task { await pool.close() } }
        let store = Store(pool: pool)
        let next = Migration.all.count + 1
        let inTransaction = Migration(version: next, name: "\(next)_index", sql: """
            CREATE INDEX CONCURRENTLY IF NOT EXISTS instances_step ON workflow_instances (step);
            """)
        await #expect(throws: (any Error).self) { _ = try await store.migrate(Migration.all + [inTransaction]) }
        #expect(try await store.appliedMigrations() == Migration.all.map(\.version))

        let outside = Migration(version: next, name: "\(next)_index", sql: """
            -- baton: no-transaction
            -- Two statements, each on its own.
            CREATE INDEX CONCURRENTLY IF NOT EXISTS instances_step ON workflow_instances (step);
            CREATE INDEX CONCURRENTLY IF NOT EXISTS instances_outcome
                ON workflow_instances (outcome);
            """)
        #expect(!outside.runsInTransaction && inTransaction.runsInTransaction)
        let report = try await store.migrate(Migration.all + [outside])
        #expect(report.applied.map(\.version) == [next])
        let valid: Int = try await pool.withConnection {
            try await $0.query("""
                SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                WHERE c.relname IN ('instances_step', 'instances_outcome') AND i.indisvalid
                """)[0].decode(at: 0)
        }
        #expect(valid == 2)
    }

    @Test("a database at 0001 with live instances migrates to head and its instances run to the end")
    func upgradeFromFirstRelease() async throws {
        let config = try await TestDatabase.create("upgrade")
        let store = Store(pool: ConnectionPool(config, maxConnections: 6, checkoutTimeout: .seconds(60)))
        defer { Task { await store.pool.close() } }
        _ = try await store.migrate(Array(Migration.all.prefix(1)))
        // Rows as the first release wrote them, with that release's columns only.
        let workflow = try DefinitionLoader.workflow(from: """
            name: upgrade
            start: route
            steps:
              route:
                assign: { team: sales, strategy: round_robin }
                next: done
              done:
                end: { outcome: routed }
            """, file: "upgrade.yaml", known: KnownNames(teams: ["sales"], calendars: [], channels: [], members: ["m1", "m2"]))
        try await store.pool.withConnection { connection in
            _ = try await connection.executeScript("""
                INSERT INTO teams (name, kind) VALUES ('sales', 'sales');
                INSERT INTO members (id, team, name) VALUES ('m1', 'sales', 'One'), ('m2', 'sales', 'Two');
                INSERT INTO routing_cursors (team) VALUES ('sales');
                INSERT INTO contacts (id) SELECT 'C-' || g FROM generate_series(1, 20) g;
                """)
            try await connection.query(
                "INSERT INTO workflow_definitions (name, version, spec, source) VALUES ('upgrade', 1, $1::jsonb, 'upgrade.yaml')",
                [PostgresJSON(workflow)])
            _ = try await connection.executeScript("""
                INSERT INTO workflow_instances (workflow, version, contact, state, step)
                SELECT 'upgrade', 1, 'C-' || g, 'ready', 'route' FROM generate_series(1, 20) g;
                """)
        }
        let report = try await store.migrate()
        #expect(report.applied.map(\.version) == Array(Migration.all.map(\.version).dropFirst()))
        let worker = Worker(store: store, configuration: WorkerConfiguration(
            id: "upgrade", concurrency: 2, batchSize: 50, pollInterval: .milliseconds(100), lease: .seconds(10), untilIdle: true))
        try await worker.run()
        let done: Int = try await store.pool.withConnection {
            try await $0.query("SELECT count(*) FROM workflow_instances WHERE state = 'completed'")[0].decode(at: 0)
        }
        let owned: Int = try await store.pool.withConnection {
            try await $0.query("SELECT count(*) FROM contacts WHERE owner IN ('m1', 'm2')")[0].decode(at: 0)
        }
        #expect(done == 20)
        #expect(owned == 20)
    }

    @Test("baton-worker refuses a schema older or newer than it knows, with the command that fixes it")
    func workerRefusesOtherSchemas() async throws {
        let config = try await TestDatabase.create("schemaguard")
        let store = Store(pool: ConnectionPool(config, maxConnections: 2))
        defer { Task { await store.pool.close() } }
        let engine = Engine(config: config, store: store)
        _ = try await store.migrate(Array(Migration.all.prefix(1)))
        let older = try engine.spawnWorker(["--until-idle", "--log-level", "warning"])
        #expect(await older.wait() == 1)
        #expect(older.output.contains("needs version \(Store.knownSchemaVersion)") && older.output.contains("batonctl migrate"), "\(older.output)")

        _ = try await store.migrate()
        try await store.pool.withConnection { connection in
            try await connection.query("INSERT INTO baton_migrations (version, name) VALUES ($1, 'from_the_future')",
                                       [Store.knownSchemaVersion + 1])
        }
        let newer = try engine.spawnWorker(["--until-idle", "--log-level", "warning"])
        #expect(await newer.wait() == 1)
        #expect(newer.output.contains("newer than this baton-worker knows"), "\(newer.output)")
    }
}
