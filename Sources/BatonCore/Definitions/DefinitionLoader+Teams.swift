import Foundation
import Yams

extension DefinitionLoader {
    static let weekdays = ["mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7]

    /// A team file. Throws `DefinitionErrors` listing every mistake.
    public static func teams(from text: String, file: String) throws -> TeamsFile {
        let r = NodeReader(file: file)
        guard let root = r.compose(text), let top = r.mapping(root, "", allowed: ["calendars", "teams"]) else {
            throw DefinitionErrors(issues: r.issues)
        }
        let f = Dictionary(top.map { ($0.key, $0.node) }, uniquingKeysWith: { a, _ in a })
        var calendars: [BusinessCalendar] = []
        for (i, node) in (f["calendars"].flatMap { r.list($0, "calendars") } ?? []).enumerated() {
            if let calendar = parseCalendar(node, "calendars[\(i)]", r) {
                if calendars.contains(where: { $0.name == calendar.name }) {
                    r.issue(node, "calendars[\(i)].name", "calendar \"\(calendar.name)\" is defined twice")
                }
                calendars.append(calendar)
            }
        }
        if f["teams"] == nil { r.missing(root, "", "teams") }
        var teams: [Team] = []
        var teamNodes: [(Team, Node, String)] = []
        for (i, node) in (f["teams"].flatMap { r.list($0, "teams") } ?? []).enumerated() {
            let p = "teams[\(i)]"
            guard let team = parseTeam(node, p, r) else { continue }
            if teams.contains(where: { $0.name == team.name }) { r.issue(node, "\(p).name", "team \"\(team.name)\" is defined twice") }
            if let calendar = team.calendar, !calendars.contains(where: { $0.name == calendar }) {
                r.issue(node, "\(p).calendar", "unknown calendar \"\(calendar)\"\(didYouMean(calendar, calendars.map(\.name)))")
            }
            teams.append(team)
            teamNodes.append((team, node, p))
        }
        // Member ids are unique across the file; managers and backups name members of the file.
        var ids: [String: String] = [:]
        for (team, node, p) in teamNodes {
            for (j, member) in team.members.enumerated() {
                if let other = ids[member.id] {
                    r.issue(node, "\(p).members[\(j)].id", "member \"\(member.id)\" is also in team \(other); a member belongs to one team")
                }
                ids[member.id] = team.name
            }
        }
        let allIDs = Array(ids.keys).sorted()
        for (team, node, p) in teamNodes {
            if let manager = team.manager, ids[manager] == nil {
                r.issue(node, "\(p).manager", "unknown member \"\(manager)\"\(didYouMean(manager, allIDs)) (a manager is a member id of some team)")
            }
            for (j, member) in team.members.enumerated() {
                if let backup = member.backup {
                    if backup == member.id { r.issue(node, "\(p).members[\(j)].backup", "a member cannot be their own backup") }
                    else if ids[backup] == nil { r.issue(node, "\(p).members[\(j)].backup", "unknown member \"\(backup)\"\(didYouMean(backup, allIDs))") }
                }
                if let calendar = member.calendar, !calendars.contains(where: { $0.name == calendar }) {
                    r.issue(node, "\(p).members[\(j)].calendar", "unknown calendar \"\(calendar)\"")
                }
            }
        }
        guard r.issues.isEmpty else { throw DefinitionErrors(issues: r.issues) }
        return TeamsFile(calendars: calendars, teams: teams)
    }

    private static func isDate(_ text: String) -> Bool {
        let parts = text.split(separator: "-")
        guard parts.count == 3, parts[0].count == 4, let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]),
              (1...12).contains(m), (1...31).contains(d), y > 1900 else { return false }
        return true
    }

    private static func parseCalendar(_ node: Node, _ p: String, _ r: NodeReader) -> BusinessCalendar? {
        guard let pairs = r.mapping(node, p, allowed: ["name", "timezone", "hours", "holidays"]) else { return nil }
        let f = Dictionary(pairs.map { ($0.key, $0.node) }, uniquingKeysWith: { a, _ in a })
        if f["name"] == nil { r.missing(node, p, "name") }
        if f["timezone"] == nil { r.missing(node, p, "timezone", " (e.g. Europe/Berlin)") }
        let name = f["name"].flatMap { r.string($0, "\(p).name") }
        let zone = f["timezone"].flatMap { r.string($0, "\(p).timezone") }
        if let zone, TimeZone(identifier: zone) == nil {
            r.issue(f["timezone"], "\(p).timezone", "unknown time zone \"\(zone)\" (use an IANA name such as Europe/Berlin)")
        }
        var hours: [Int: [MinuteRange]] = [:]
        if let hoursNode = f["hours"], let days = r.mapping(hoursNode, "\(p).hours", allowed: Array(weekdays.keys).sorted()) {
            for (day, value, _) in days {
                guard let text = r.string(value, "\(p).hours.\(day)") else { continue }
                let ranges = text.split(separator: ",").map { MinuteRange(parsing: String($0)) }
                if ranges.contains(where: { $0 == nil }) {
                    r.issue(value, "\(p).hours.\(day)", "bad hours \"\(text)\" (write HH:MM-HH:MM, several separated by commas)")
                } else {
                    hours[weekdays[day]!] = ranges.compactMap { $0 }
                }
            }
        }
        var holidays: [String] = []
        if let node = f["holidays"] {
            for (k, date) in (r.strings(node, "\(p).holidays") ?? []).enumerated() {
                if isDate(date) { holidays.append(date) } else { r.issue(node, "\(p).holidays[\(k)]", "bad date \"\(date)\" (write YYYY-MM-DD)") }
            }
        }
        guard let name, let zone else { return nil }
        return BusinessCalendar(name: name, timezone: zone, hours: hours, holidays: holidays)
    }

    private static func parseTeam(_ node: Node, _ p: String, _ r: NodeReader) -> Team? {
        guard let pairs = r.mapping(node, p, allowed: ["name", "kind", "calendar", "manager", "members"]) else { return nil }
        let f = Dictionary(pairs.map { ($0.key, $0.node) }, uniquingKeysWith: { a, _ in a })
        if f["name"] == nil { r.missing(node, p, "name") }
        let name = f["name"].flatMap { r.string($0, "\(p).name") }
        let kind = f["kind"].map { r.choice($0, "\(p).kind", TeamKind.self) } ?? .other
        var members: [Member] = []
        for (j, m) in (f["members"].flatMap { r.list($0, "\(p).members") } ?? []).enumerated() {
            if let member = parseMember(m, "\(p).members[\(j)]", r) { members.append(member) }
        }
        guard let name, let kind else { return nil }
        return Team(name: name, kind: kind, calendar: f["calendar"].flatMap { r.string($0, "\(p).calendar") },
                    manager: f["manager"].flatMap { r.string($0, "\(p).manager") }, members: members)
    }

    private static func parseMember(_ node: Node, _ p: String, _ r: NodeReader) -> Member? {
        let keys = ["id", "name", "email", "capacity", "weight", "active", "out_of_office_until", "backup", "calendar"]
        guard let pairs = r.mapping(node, p, allowed: keys) else { return nil }
        let f = Dictionary(pairs.map { ($0.key, $0.node) }, uniquingKeysWith: { a, _ in a })
        if f["id"] == nil { r.missing(node, p, "id") }
        if f["name"] == nil { r.missing(node, p, "name") }
        let ooo = f["out_of_office_until"].flatMap { r.string($0, "\(p).out_of_office_until") }
        if let ooo, !isDate(ooo) { r.issue(f["out_of_office_until"], "\(p).out_of_office_until", "bad date \"\(ooo)\" (write YYYY-MM-DD)") }
        let email = f["email"].flatMap { r.string($0, "\(p).email") }
        if let email, !email.contains("@") { r.issue(f["email"], "\(p).email", "\"\(email)\" is not an email address") }
        guard let id = f["id"].flatMap({ r.string($0, "\(p).id") }), let name = f["name"].flatMap({ r.string($0, "\(p).name") })
        else { return nil }
        return Member(
            id: id, name: name, email: email, capacity: f["capacity"].flatMap { r.int($0, "\(p).capacity", minimum: 1) },
            weight: f["weight"].flatMap { r.int($0, "\(p).weight", minimum: 0) } ?? 1,
            active: f["active"].flatMap { r.bool($0, "\(p).active") } ?? true, outOfOfficeUntil: ooo,
            backup: f["backup"].flatMap { r.string($0, "\(p).backup") }, calendar: f["calendar"].flatMap { r.string($0, "\(p).calendar") })
    }

    /// A channel file. Throws `DefinitionErrors` listing every mistake.
    public static func channels(from text: String, file: String) throws -> ChannelsFile {
        let r = NodeReader(file: file)
        guard let root = r.compose(text), let top = r.mapping(root, "", allowed: ["channels"]) else {
            throw DefinitionErrors(issues: r.issues)
        }
        var channels: [Channel] = []
        let list = top.first.flatMap { r.list($0.node, "channels") } ?? []
        for (i, node) in list.enumerated() {
            let p = "channels[\(i)]"
            guard let pairs = r.mapping(node, p, allowed: ["name", "type", "url", "url_env", "secret_env", "timeout", "max_attempts"])
            else { continue }
            let f = Dictionary(pairs.map { ($0.key, $0.node) }, uniquingKeysWith: { a, _ in a })
            if f["name"] == nil { r.missing(node, p, "name") }
            if f["type"] == nil { r.missing(node, p, "type", " (webhook, slack or log)") }
            let name = f["name"].flatMap { r.string($0, "\(p).name") }
            if name == "log" { r.issue(f["name"], "\(p).name", "\"log\" is built in; choose another name") }
            if let name, channels.contains(where: { $0.name == name }) { r.issue(f["name"], "\(p).name", "channel \"\(name)\" is defined twice") }
            let type = f["type"].flatMap { r.choice($0, "\(p).type", ChannelType.self) }
            let url = f["url"].flatMap { r.string($0, "\(p).url") }
            if let url, !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
                r.issue(f["url"], "\(p).url", "\"\(url)\" is not an http(s) URL")
            }
            let urlEnv = f["url_env"].flatMap { r.string($0, "\(p).url_env") }
            let secretEnv = f["secret_env"].flatMap { r.string($0, "\(p).secret_env") }
            for (key, value) in [("url_env", urlEnv), ("secret_env", secretEnv)] {
                if let value, value.range(of: "^[A-Z_][A-Z0-9_]*$", options: .regularExpression) == nil {
                    r.issue(f[key], "\(p).\(key)", "\"\(value)\" is not an environment variable name (name the variable, never put the secret here)")
                }
            }
            if let type, type != .log, url == nil, urlEnv == nil {
                r.issue(node, p, "a \(type.rawValue) channel needs \"url\" or \"url_env\"")
            }
            let timeout = f["timeout"].flatMap { r.duration($0, "\(p).timeout") } ?? TimeSpan(seconds: 5)
            let attempts = f["max_attempts"].flatMap { r.int($0, "\(p).max_attempts", minimum: 1) } ?? 8
            if let name, let type {
                channels.append(Channel(name: name, type: type, url: url, urlEnv: urlEnv, secretEnv: secretEnv,
                                        timeout: timeout, maxAttempts: attempts))
            }
        }
        guard r.issues.isEmpty else { throw DefinitionErrors(issues: r.issues) }
        return ChannelsFile(channels: channels)
    }
}
