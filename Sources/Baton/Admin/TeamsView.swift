import Foundation
import Postgres

/// A member as the console's teams page shows it.
public struct MemberLoad: Sendable, Equatable {
    public var id: String
    public var team: String
    public var name: String
    public var email: String?
    /// nil: unlimited.
    public var capacity: Int?
    public var weight: Int
    public var active: Bool
    /// The last day out of office (YYYY-MM-DD), nil when in.
    public var outOfOfficeUntil: String?
    /// Contacts owned with a live instance.
    public var open: Int
}

/// A team with its members' load.
public struct TeamLoad: Sendable, Equatable {
    public var name: String
    public var kind: String
    public var manager: String?
    public var members: [MemberLoad]
}

/// One change made to a member by hand, with who made it.
public struct MemberChange: Sendable, Equatable {
    public var member: String
    public var change: String
    public var actor: String
    public var at: Date
}

extension Store {
    /// Teams and their members, without their open work (cheap: for menus and the teams page).
    static let selectTeamMembers = """
        SELECT t.name AS team, t.kind, t.manager, m.id, m.name, m.email, m.capacity, m.weight, m.active,
               CASE WHEN m.out_of_office_until >= current_date THEN m.out_of_office_until::text END AS away_until
        FROM teams t LEFT JOIN members m ON m.team = t.name
        ORDER BY t.name, m.id
        """
    /// Open work per owner: contacts they own that have a live instance. Reads every owned contact
    /// and every live instance (about a second at a million instances): callers cache it.
    static let selectOpenWork = """
        SELECT c.owner, count(*) AS open FROM contacts c
        WHERE c.owner IS NOT NULL AND EXISTS (
            SELECT 1 FROM workflow_instances i WHERE i.contact = c.id AND i.state IN ('ready', 'running', 'waiting'))
        GROUP BY c.owner
        """
    /// Sets (or, with $2 NULL, clears) a member's last day out of office and records who did it, in one statement.
    static let updateMemberAway = """
        WITH changed AS (
            UPDATE members SET out_of_office_until = $2::date, updated_at = now() WHERE id = $1 RETURNING id
        ), logged AS (
            INSERT INTO member_changes (member, change, actor)
            SELECT id, CASE WHEN $2::date IS NULL THEN 'back in office' ELSE 'out of office until ' || $2::date END, $3
            FROM changed
        )
        SELECT count(*) FROM changed
        """
    /// Makes a member active or inactive (inactive members get no new work) and records who did it.
    static let updateMemberActive = """
        WITH changed AS (
            UPDATE members SET active = $2, updated_at = now() WHERE id = $1 RETURNING id
        ), logged AS (
            INSERT INTO member_changes (member, change, actor)
            SELECT id, CASE WHEN $2 THEN 'active' ELSE 'inactive' END, $3 FROM changed
        )
        SELECT count(*) FROM changed
        """
    /// The newest changes made by hand.
    static let selectMemberChanges = """
        SELECT member, change, actor, at FROM member_changes ORDER BY id DESC LIMIT $1
        """

    /// Every team with its members; `open` from `openWork` (an owner missing from it has none).
    public func teamMembers(openWork: [String: Int] = [:]) async throws -> [TeamLoad] {
        try await pool.withConnection { connection in
            var teams: [TeamLoad] = []
            for row in try await connection.query(Self.selectTeamMembers) {
                let name: String = try row.decode("team")
                if teams.last?.name != name {
                    teams.append(TeamLoad(name: name, kind: try row.decode("kind"), manager: try row.decode("manager"), members: []))
                }
                guard let id = try row.decode(String?.self, "id") else { continue }
                teams[teams.count - 1].members.append(MemberLoad(
                    id: id, team: name, name: try row.decode("name"), email: try row.decode("email"),
                    capacity: try row.decode("capacity"), weight: try row.decode("weight"), active: try row.decode("active"),
                    outOfOfficeUntil: try row.decode("away_until"), open: openWork[id] ?? 0))
            }
            return teams
        }
    }

    /// Open work per owner (see `selectOpenWork`; costly on a large table).
    public func openWork() async throws -> [String: Int] {
        try await pool.withConnection { try await Self.openWork(on: $0) }
    }

    static func openWork(on connection: Connection) async throws -> [String: Int] {
        var open: [String: Int] = [:]
        for row in try await connection.query(selectOpenWork) { open[try row.decode("owner")] = try row.decode(Int.self, "open") }
        return open
    }

    /// Marks a member out of office through `until` (a YYYY-MM-DD day), or back in with nil.
    public func setOutOfOffice(member: String, until: String?, by actor: String) async throws {
        if let until, until.range(of: #"^\d{4}-\d{2}-\d{2}$"#, options: .regularExpression) == nil {
            throw BatonError.invalid("out of office until: give a day as YYYY-MM-DD, got \(until)")
        }
        try await memberUpdate(Self.updateMemberAway, [member, until, actor], member: member)
    }

    /// Makes a member active or inactive.
    public func setActive(member: String, _ active: Bool, by actor: String) async throws {
        try await memberUpdate(Self.updateMemberActive, [member, active, actor], member: member)
    }

    private func memberUpdate(_ sql: String, _ parameters: [(any PostgresEncodable)?], member: String) async throws {
        let changed = try await pool.withConnection { try await $0.query(sql, parameters)[0].decode(Int.self, at: 0) }
        if changed == 0 { throw BatonError.notFound("no member \(member)") }
    }

    /// The newest `limit` changes made to members by hand.
    public func memberChanges(limit: Int = 20) async throws -> [MemberChange] {
        try await pool.withConnection { connection in
            try await connection.query(Self.selectMemberChanges, [limit]).map { row in
                MemberChange(member: try row.decode("member"), change: try row.decode("change"), actor: try row.decode("actor"),
                             at: try row.decode("at"))
            }
        }
    }
}
