import BatonCore
import Foundation
import Postgres

extension Store {
    static let selectTeams = "SELECT name, kind, calendar, manager FROM teams"
    /// Members; their open work comes from `selectOpenWork` (see `directory(openWork:)`).
    static let selectMembers = """
        SELECT m.id, m.team, m.name, m.email, m.capacity, m.weight, m.active,
               (m.out_of_office_until + 1)::timestamptz AS out_until, m.backup, m.calendar
        FROM members m
        """
    static let selectCalendars = "SELECT spec FROM calendars"

    /// Teams, members (with open counts) and calendars, for routing and business-hours clocks.
    /// With `openWork` (from `openWork()`, which a caller may keep longer than the rest: counting
    /// reads every owned contact), members' open counts come from it instead of being counted.
    public func directory(openWork: [String: Int]? = nil) async throws -> Directory {
        try await pool.withConnection { connection in
            let open: [String: Int]
            if let openWork { open = openWork } else { open = try await Self.openWork(on: connection) }
            let memberRows = try await connection.query(Self.selectMembers)
            var byTeam: [String: [String]] = [:]
            let members = try memberRows.map { row -> MemberInfo in
                let id: String = try row.decode("id")
                let info = MemberInfo(
                    id: id, name: try row.decode("name"), email: try row.decode("email"),
                    team: try row.decode("team"), capacity: try row.decode("capacity"), weight: try row.decode("weight"),
                    active: try row.decode("active"), outOfOfficeUntil: try row.decode("out_until"),
                    backup: try row.decode("backup"), calendar: try row.decode("calendar"), openCount: open[id] ?? 0)
                byTeam[info.team, default: []].append(info.id)
                return info
            }
            let teams = try await connection.query(Self.selectTeams).map { row -> TeamInfo in
                let name: String = try row.decode("name")
                return TeamInfo(
                    name: name, kind: TeamKind(rawValue: try row.decode("kind")) ?? .other,
                    calendar: try row.decode("calendar"), manager: try row.decode("manager"), members: byTeam[name] ?? [])
            }
            let calendars = try await connection.query(Self.selectCalendars).map {
                try $0.decode(PostgresJSON<BusinessCalendar>.self, "spec").value
            }
            return Directory(teams: teams, members: members, calendars: calendars)
        }
    }
}
