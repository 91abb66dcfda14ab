import Postgres

extension Store {
    /// Whether the migrations table exists (a subquery on a missing table fails at parse time, so
    /// this is asked first).
    static let migrationsTableExists = "SELECT to_regclass('baton_migrations') IS NOT NULL"
    /// The newest applied migration.
    static let selectSchemaVersion = "SELECT coalesce(max(version), 0) FROM baton_migrations"

    /// The schema version of the database (0 when never migrated), creating nothing.
    public func schemaVersion() async throws -> Int {
        try await pool.withConnection { connection in
            guard try await connection.query(Self.migrationsTableExists)[0].decode(Bool.self, at: 0) else { return 0 }
            return try await connection.query(Self.selectSchemaVersion)[0].decode(Int.self, at: 0)
        }
    }

    /// The schema version these binaries were built with.
    public static var knownSchemaVersion: Int { Migration.all.map(\.version).max() ?? 0 }
}

extension Store {
    /// Throws `SchemaMismatch` unless the database is at exactly the schema these binaries know:
    /// a worker or server on an older schema would fail on missing columns mid-step, and one on a
    /// newer schema would write rows a newer release does not expect. `program` names the caller in
    /// the message.
    public func requireKnownSchema(program: String) async throws {
        let database = try await schemaVersion()
        if database != Self.knownSchemaVersion {
            throw SchemaMismatch(database: database, known: Self.knownSchemaVersion, program: program)
        }
    }
}
