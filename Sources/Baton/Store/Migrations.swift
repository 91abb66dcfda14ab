import Crypto
import Foundation
import Postgres

/// One numbered schema change from sql/.
public struct Migration: Sendable, Hashable {
    public let version: Int
    public let name: String
    public let sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// A migration whose first line is `-- baton: no-transaction` runs outside a transaction, one
    /// statement at a time (statements end with `;` at the end of a line), for what PostgreSQL
    /// refuses inside one, such as `CREATE INDEX CONCURRENTLY`. Each statement must be safe to run
    /// again (`IF NOT EXISTS`, or a `DROP ... IF EXISTS` first): a run that fails halfway leaves the
    /// statements before the failure applied and the migration unrecorded, so the next run repeats it.
    public var runsInTransaction: Bool {
        !(sql.split(separator: "\n", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces) == "-- baton: no-transaction" } ?? false)
    }

    /// SHA-256 of the file's text, hex: recorded when the migration is applied and compared on every
    /// later `migrate`, so an edited migration is noticed rather than silently diverging.
    public var checksum: String {
        SHA256.hash(data: Data(sql.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// The statements of a no-transaction migration: split after each line that ends with `;`
    /// (comments and blank lines dropped).
    var statements: [String] {
        var statements: [String] = []
        var current: [Substring] = []
        for line in sql.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("--") { continue }
            current.append(line)
            if trimmed.hasSuffix(";") {
                statements.append(current.joined(separator: "\n"))
                current = []
            }
        }
        if !current.isEmpty { statements.append(current.joined(separator: "\n")) }
        return statements
    }
}

/// What `migrate` did.
public struct MigrationReport: Sendable {
    /// The migrations applied by this run, in order.
    public var applied: [Migration]
    /// The schema version after the run.
    public var version: Int
}

/// `migrate` found an applied migration whose text differs from the one these binaries carry.
public struct MigrationChanged: Error, CustomStringConvertible {
    /// The names of the changed migrations.
    public let names: [String]
    public var description: String {
        "applied migration\(names.count == 1 ? "" : "s") \(names.joined(separator: ", ")) differ\(names.count == 1 ? "s" : "") "
            + "from the copy in this binary (checksum mismatch): a released migration must never be edited; "
            + "restore it and put the change in a new numbered migration"
    }
}

/// The database's schema is not the one these binaries were built for.
public struct SchemaMismatch: Error, CustomStringConvertible {
    /// The version the database is at (0: never migrated).
    public let database: Int
    /// The version these binaries know.
    public let known: Int
    /// The program that refuses to run, for the message.
    public let program: String

    public var description: String {
        if database < known {
            return "the database schema is at version \(database) but this \(program) needs version \(known): "
                + "run `batonctl migrate` (with the same --database-url) first"
        }
        return "the database schema is at version \(database), newer than this \(program) knows (\(known)): "
            + "upgrade \(program) to the release that migrated the database"
    }
}

extension Store {
    // Constant statements of the migrations runner.

    /// The bookkeeping table; created before anything else, idempotently.
    static let createMigrationsTable = """
        CREATE TABLE IF NOT EXISTS baton_migrations (
            version     int PRIMARY KEY,
            name        text NOT NULL,
            applied_at  timestamptz NOT NULL DEFAULT now()
        )
        """
    /// Checksums came after the table: added to databases migrated before them; NULL until filled in.
    static let addChecksumColumn = "ALTER TABLE baton_migrations ADD COLUMN IF NOT EXISTS checksum text"
    /// A session-level advisory lock held for the whole run: two processes migrating at once take
    /// turns; the second then sees the first one's versions and applies nothing twice. Session-level
    /// (not per transaction) because no-transaction migrations run outside one. The key is fixed
    /// ("baton" in hex). Tried, not waited for (see `migrate`): true when this session now holds it.
    static let tryLockMigrations = "SELECT pg_try_advisory_lock(x'6261746f6e'::bigint)"
    /// Releases the run's lock.
    static let unlockMigrations = "SELECT pg_advisory_unlock(x'6261746f6e'::bigint)"
    static let appliedVersions = "SELECT version FROM baton_migrations ORDER BY version"
    /// The applied migrations with their checksums (NULL for ones applied before checksums).
    static let appliedChecksums = "SELECT version, name, checksum FROM baton_migrations ORDER BY version"
    /// Fills in the checksum of a migration applied before checksums were recorded.
    static let fillChecksum = "UPDATE baton_migrations SET checksum = $2 WHERE version = $1 AND checksum IS NULL"
    static let recordMigration = "INSERT INTO baton_migrations (version, name, checksum) VALUES ($1, $2, $3)"

    /// Applies the pending migrations in order, each in its own transaction with its version row
    /// (or statement by statement for a no-transaction migration, recorded after its last
    /// statement), all under an advisory lock. Refuses with `MigrationChanged`, applying nothing,
    /// when an applied migration's text differs from the copy given here.
    public func migrate(_ migrations: [Migration] = Migration.all) async throws -> MigrationReport {
        try await pool.withConnection { connection in
            // Wait for the lock between statements, never inside one: a CREATE INDEX CONCURRENTLY in
            // the holder's run waits for every open transaction, so a blocked pg_advisory_lock here
            // would deadlock with it.
            while try await !connection.query(Self.tryLockMigrations)[0].decode(Bool.self, at: 0) {
                try await Task.sleep(for: .milliseconds(100))
            }
            do {
                let report = try await migrateLocked(migrations.sorted(by: { $0.version < $1.version }), on: connection)
                try await connection.query(Self.unlockMigrations)
                return report
            } catch {
                // A failed statement inside a transaction was rolled back; the session is usable.
                _ = try? await connection.query(Self.unlockMigrations)
                throw error
            }
        }
    }

    private func migrateLocked(_ migrations: [Migration], on connection: Connection) async throws -> MigrationReport {
        try await connection.query(Self.createMigrationsTable)
        try await connection.query(Self.addChecksumColumn)
        var recorded: [Int: String?] = [:]
        for row in try await connection.query(Self.appliedChecksums) {
            recorded[try row.decode(Int.self, "version")] = try row.decode(String?.self, "checksum")
        }
        let changed = migrations.filter { migration in
            guard let stored = recorded[migration.version], let stored else { return false }
            return stored != migration.checksum
        }
        if !changed.isEmpty { throw MigrationChanged(names: changed.map(\.name)) }
        for migration in migrations where recorded[migration.version] != nil {
            try await connection.query(Self.fillChecksum, [migration.version, migration.checksum])
        }

        var applied: [Migration] = []
        for migration in migrations where recorded[migration.version] == nil {
            if migration.runsInTransaction {
                try await connection.transaction { connection in
                    _ = try await connection.executeScript(migration.sql)
                    try await connection.query(Self.recordMigration, [migration.version, migration.name, migration.checksum])
                }
            } else {
                for statement in migration.statements { _ = try await connection.executeScript(statement) }
                try await connection.query(Self.recordMigration, [migration.version, migration.name, migration.checksum])
            }
            applied.append(migration)
        }
        return MigrationReport(applied: applied, version: max(recorded.keys.max() ?? 0, migrations.map(\.version).max() ?? 0))
    }

    /// The versions applied so far (empty on a new database).
    public func appliedMigrations() async throws -> [Int] {
        try await pool.withConnection { connection in
            try await connection.query(Self.createMigrationsTable)
            return try await connection.query(Self.appliedVersions).map { try $0.decode(Int.self, at: 0) }
        }
    }
}
