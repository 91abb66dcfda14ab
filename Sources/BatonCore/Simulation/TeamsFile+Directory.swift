import Foundation

extension TeamsFile {
    /// The directory routing would see once this file is applied and nobody owns anything yet:
    /// for `batonctl simulate --teams FILE`, which needs no database.
    ///
    /// Mirrors what `teams apply` stores: a member is out of office until the end of its
    /// `out_of_office_until` day in UTC; rotation order is by member id.
    public func directory() -> Directory {
        var members: [MemberInfo] = []
        var teams: [TeamInfo] = []
        for team in self.teams {
            teams.append(TeamInfo(name: team.name, kind: team.kind, calendar: team.calendar, manager: team.manager,
                                  members: team.members.map(\.id)))
            for member in team.members {
                members.append(MemberInfo(
                    id: member.id, name: member.name, email: member.email, team: team.name, capacity: member.capacity,
                    weight: member.weight, active: member.active,
                    outOfOfficeUntil: member.outOfOfficeUntil.flatMap(Self.endOfDayUTC), backup: member.backup,
                    calendar: member.calendar))
            }
        }
        return Directory(teams: teams, members: members, calendars: calendars)
    }

    /// `2026-01-05` -> 2026-01-06T00:00:00Z.
    static func endOfDayUTC(_ day: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.date(from: day)?.addingTimeInterval(86400)
    }
}
