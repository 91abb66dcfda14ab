import Postgres

/// One numbered schema change from sql/.
public struct Migration: Sendable, Hashable {
    public let version: Int
    public let name: String
    public let sql: String
}

/// What `migrate` did.
public struct MigrationReport: Sendable {
    /// The migrations applied by this run, in order.
    public var applied: [Migration]
    /// The schema version after the run.
    public var version: Int
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
    /// A transaction-level advisory lock: two processes migrating at once take turns; the second
    /// then sees the first one's versions and applies nothing twice. The key is fixed ("baton" in hex).
    static let lockMigrations = "SELECT pg_advisory_xact_lock(x'6261746f6e'::bigint)"
    static let appliedVersions = "SELECT version FROM baton_migrations ORDER BY version"
    static let recordMigration = "INSERT INTO baton_migrations (version, name) VALUES ($1, $2)"

    /// Applies the pending migrations in order, each in its own transaction with its version row,
    /// all under an advisory lock.
    public func migrate(_ migrations: [Migration] = Migration.all) async throws -> MigrationReport {
        try await pool.withConnection { connection in
            var applied: [Migration] = []
            for migration in migrations.sorted(by: { $0.version < $1.version }) {
                let done = try await connection.transaction { connection -> Bool in
                    try await connection.query(Self.lockMigrations)
                    try await connection.query(Self.createMigrationsTable)
                    let versions = try await connection.query(Self.appliedVersions).map { try $0.decode(Int.self, at: 0) }
                    if versions.contains(migration.version) { return false }
                    try await connection.executeScript(migration.sql)
                    try await connection.query(Self.recordMigration, [migration.version, migration.name])
                    return true
                }
                if done { applied.append(migration) }
            }
            return MigrationReport(applied: applied, version: migrations.map(\.version).max() ?? 0)
        }
    }

    /// The versions applied so far (empty on a new database).
    public func appliedMigrations() async throws -> [Int] {
        try await pool.withConnection { connection in
            try await connection.query(Self.createMigrationsTable)
            return try await connection.query(Self.appliedVersions).map { try $0.decode(Int.self, at: 0) }
        }
    }
}
