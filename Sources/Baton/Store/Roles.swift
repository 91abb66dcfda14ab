import Postgres

/// What `applyRoles` did.
public struct RolesReport: Sendable {
    /// The database user that applied them (the owner's login).
    public var user: String
    /// Tables of the schema, each now owned by baton_owner and granted to the three other roles.
    public var tables: Int
}

extension Store {
    // Statements of the roles step (sql/roles.sql, embedded as `rolesSQL`).

    /// True when the group roles exist and this session's user is a member of baton_owner: then
    /// `migrate` re-applies the grants (it never creates roles by itself).
    static let selectOwnsBatonRoles = """
        SELECT CASE WHEN to_regrole('baton_owner') IS NULL THEN false
                    ELSE pg_has_role(current_user, 'baton_owner', 'MEMBER') END
        """
    /// The user applying the roles and the number of tables in the schema now owned by baton_owner.
    static let selectRolesSummary = """
        SELECT current_user::text, count(*)::int FROM pg_class
        WHERE relnamespace = current_schema()::regnamespace AND relkind IN ('r', 'p')
          AND relowner = 'baton_owner'::regrole
        """

    /// Creates the group roles when missing, makes this session's user a member of baton_owner, gives
    /// baton_owner the schema's tables and grants the matrix of sql/roles.sql, in one transaction.
    /// Held under the migrations' advisory lock, so it never runs beside a migration (two GRANTs on
    /// one table at once can fail with "tuple concurrently updated").
    public func applyRoles() async throws -> RolesReport {
        try await pool.withConnection { connection in
            // Tried between statements, never waited for inside one (see `migrate`).
            while try await !connection.query(Self.tryLockMigrations)[0].decode(Bool.self, at: 0) {
                try await Task.sleep(for: .milliseconds(100))
            }
            do {
                let report = try await connection.transaction { connection in
                    _ = try await connection.executeScript(Self.rolesSQL)
                    let row = try await connection.query(Self.selectRolesSummary)[0]
                    return RolesReport(user: try row.decode(String.self, at: 0), tables: try row.decode(Int.self, at: 1))
                }
                try await connection.query(Self.unlockMigrations)
                return report
            } catch {
                _ = try? await connection.query(Self.unlockMigrations)
                throw error
            }
        }
    }

    /// After `migrate`: re-applies the grants when the roles exist and this user belongs to
    /// baton_owner, so a table a migration added gets its privileges at once. Nil when it did not.
    public func applyRolesIfOwner() async throws -> RolesReport? {
        let owns = try await pool.withConnection { try await $0.query(Self.selectOwnsBatonRoles)[0].decode(Bool.self, at: 0) }
        return owns ? try await applyRoles() : nil
    }
}
