import BatonCore
import Foundation
import Postgres

/// What `teams apply` did.
public struct TeamsApplyResult: Sendable, Equatable {
    public var calendars: Int
    public var teams: Int
    public var members: Int
    /// Members of the applied teams that the file no longer lists: deactivated, never deleted.
    public var deactivated: [String]
    /// The organisation's lifecycle stages the file set; nil when it names none (the stored ones stay).
    public var lifecycle: [String]? = nil
}

extension Store {
    static let upsertCalendar = """
        INSERT INTO calendars (name, timezone, spec) VALUES ($1, $2, $3::jsonb)
        ON CONFLICT (name) DO UPDATE SET timezone = EXCLUDED.timezone, spec = EXCLUDED.spec, updated_at = now()
        """
    static let upsertTeam = """
        INSERT INTO teams (name, kind, calendar, manager) VALUES ($1, $2, $3, $4)
        ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind, calendar = EXCLUDED.calendar,
            manager = EXCLUDED.manager, updated_at = now()
        """
    /// Every team has a rotation cursor; an existing one keeps its position.
    static let ensureRoutingCursor = "INSERT INTO routing_cursors (team) VALUES ($1) ON CONFLICT (team) DO NOTHING"
    static let upsertMember = """
        INSERT INTO members (id, team, name, email, capacity, weight, active, out_of_office_until, backup, calendar, crm)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8::date, $9, $10, $11::jsonb)
        ON CONFLICT (id) DO UPDATE SET team = EXCLUDED.team, name = EXCLUDED.name, email = EXCLUDED.email,
            capacity = EXCLUDED.capacity, weight = EXCLUDED.weight, active = EXCLUDED.active,
            out_of_office_until = EXCLUDED.out_of_office_until, backup = EXCLUDED.backup,
            calendar = EXCLUDED.calendar, crm = EXCLUDED.crm, updated_at = now()
        """
    /// Members of the applied teams missing from the file stop getting work; their rows and history stay.
    static let deactivateMissingMembers = """
        UPDATE members SET active = false, updated_at = now()
        WHERE team = ANY($1::text[]) AND NOT (id = ANY($2::text[])) AND active
        RETURNING id
        """

    /// Upserts a team file's calendars, teams and members in one transaction.
    public func applyTeams(_ file: TeamsFile) async throws -> TeamsApplyResult {
        try await pool.transaction { connection in
            for calendar in file.calendars {
                try await connection.query(Self.upsertCalendar, [calendar.name, calendar.timezone, PostgresJSON(calendar)])
            }
            // Teams first (members reference them), then members.
            for team in file.teams {
                try await connection.query(
                    Self.upsertTeam, [team.name, team.kind.rawValue, team.calendar, team.manager])
                try await connection.query(Self.ensureRoutingCursor, [team.name])
            }
            var ids: [String] = []
            for team in file.teams {
                for member in team.members {
                    ids.append(member.id)
                    try await connection.query(
                        Self.upsertMember,
                        [member.id, team.name, member.name, member.email, member.capacity, member.weight,
                         member.active, member.outOfOfficeUntil, member.backup, member.calendar,
                         PostgresJSON(member.crm ?? [:])])
                }
            }
            let deactivated = try await connection.query(
                Self.deactivateMissingMembers, [file.teams.map(\.name), ids]
            ).map { try $0.decode(String.self, at: 0) }
            if let stages = file.lifecycle { try await self.replaceLifecycleStages(stages, on: connection) }
            return TeamsApplyResult(
                calendars: file.calendars.count, teams: file.teams.count, members: ids.count, deactivated: deactivated,
                lifecycle: file.lifecycle)
        }
    }

    static let selectKnownNames = """
        SELECT 'team' AS kind, name FROM teams
        UNION ALL SELECT 'calendar', name FROM calendars
        UNION ALL SELECT 'channel', name FROM channels
        UNION ALL SELECT 'email_channel', name FROM channels WHERE type = 'email'
        UNION ALL SELECT 'member', id FROM members
        """

    /// The teams, calendars, channels (with `log`; the email ones apart too), members and
    /// organisation lifecycle stages stored, for validating workflows.
    public func knownNames() async throws -> KnownNames {
        try await pool.withConnection { connection in
            var teams = Set<String>(), calendars = Set<String>(), channels: Set<String> = ["log"], members = Set<String>()
            var emailChannels = Set<String>()
            for row in try await connection.query(Self.selectKnownNames) {
                let name: String = try row.decode("name")
                switch try row.decode(String.self, "kind") {
                case "team": teams.insert(name)
                case "calendar": calendars.insert(name)
                case "channel": channels.insert(name)
                case "email_channel": emailChannels.insert(name)
                default: members.insert(name)
                }
            }
            let stages = try await lifecycleStages(on: connection)
            return KnownNames(teams: teams, calendars: calendars, channels: channels, members: members,
                              stages: stages.organisation, emailChannels: emailChannels)
        }
    }

    static let upsertChannel = """
        INSERT INTO channels (name, type, spec) VALUES ($1, $2, $3::jsonb)
        ON CONFLICT (name) DO UPDATE SET type = EXCLUDED.type, spec = EXCLUDED.spec, updated_at = now()
        """

    /// Upserts a channel file's channels. Secrets stay in the environment: only their variable names are stored.
    public func applyChannels(_ file: ChannelsFile) async throws -> Int {
        try await pool.transaction { connection in
            for channel in file.channels {
                try await connection.query(Self.upsertChannel, [channel.name, channel.type.rawValue, PostgresJSON(channel)])
            }
            return file.channels.count
        }
    }
}
