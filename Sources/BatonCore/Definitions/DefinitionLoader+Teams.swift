import Foundation
import Yams

extension DefinitionLoader {
    static let weekdays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

    /// A team file (YAML or JSON): calendars, and teams with their members. Names are checked within the file:
    /// team calendars, managers and backups must be defined in it; member ids are unique across it.
    /// - Throws: `DefinitionErrors` listing every mistake in the file.
    public static func teams(from text: String, file: String) throws -> TeamsFile {
        let r = NodeReader(file: file)
        let teams = readTeamsFile(text, r)
        guard r.issues.isEmpty, let teams else { throw DefinitionErrors(issues: r.issues) }
        return teams
    }

    /// A reference from one place in the file to a name defined elsewhere in it.
    private struct Reference {
        let name: String
        let node: Node
        let path: String
    }

    private static func readTeamsFile(_ text: String, _ r: NodeReader) -> TeamsFile? {
        guard let root = r.compose(text) else {
            if r.issues.isEmpty { r.issue(line: 1, column: 1, "", "the file is empty; a team file lists teams (and calendars)") }
            return nil
        }
        guard let top = r.fields(root, "", allowed: ["calendars", "teams", "lifecycle"],
                                 expected: "a team file (a mapping with calendars and teams)")
        else { return nil }
        let lifecycle = top["lifecycle"] == nil ? nil : readStages(top, r)

        var calendars: [BusinessCalendar] = []
        var calendarLines: [String: Int] = [:]
        for (i, node) in (r.list(top, "calendars") ?? []).enumerated() {
            let p = "calendars[\(i)]"
            guard let (calendar, nameNode) = readCalendar(node, p, r) else { continue }
            if let line = calendarLines[calendar.name] {
                r.issue(nameNode, "\(p).name", "duplicate calendar \"\(calendar.name)\" (first at line \(line))")
            } else {
                calendarLines[calendar.name] = nameNode.mark?.line ?? 1
                calendars.append(calendar)
            }
        }
        let calendarNames = calendars.map(\.name)

        var teams: [Team] = []
        var teamLines: [String: Int] = [:]
        var memberLines: [String: (team: String, line: Int)] = [:]
        var calendarRefs: [Reference] = []
        var memberRefs: [(Reference, what: String, of: String?)] = []
        for (i, node) in (r.list(top, "teams", required: true, hint: " (a list of teams with their members)") ?? []).enumerated() {
            let p = "teams[\(i)]"
            guard let f = r.fields(node, p, allowed: ["name", "kind", "calendar", "manager", "members"],
                                   expected: "a team (a mapping with name, kind and members)")
            else { continue }
            let name = r.string(f, "name", required: true)
            let kind = f["kind"] == nil ? .other : r.choice(f, "kind", TeamKind.self)
            let calendar = r.string(f, "calendar")
            if let calendar, let node = f["calendar"] { calendarRefs.append(Reference(name: calendar, node: node, path: f.path("calendar"))) }
            let manager = r.string(f, "manager")
            if let manager, let node = f["manager"] {
                memberRefs.append((Reference(name: manager, node: node, path: f.path("manager")), "manager", nil))
            }
            var members: [Member] = []
            for (j, memberNode) in (r.list(f, "members") ?? []).enumerated() {
                let mp = "\(f.path("members"))[\(j)]"
                guard let (member, mf) = readMember(memberNode, mp, r) else { continue }
                if let first = memberLines[member.id], let idNode = mf["id"] {
                    r.issue(idNode, mf.path("id"), "duplicate member id \"\(member.id)\" (first at line \(first.line), in team "
                            + "\(first.team)); a member id is unique across the file")
                    continue
                }
                memberLines[member.id] = (name ?? p, mf["id"]?.mark?.line ?? 1)
                if let backup = member.backup, let node = mf["backup"] {
                    memberRefs.append((Reference(name: backup, node: node, path: mf.path("backup")), "backup", member.id))
                }
                if let calendar = member.calendar, let node = mf["calendar"] {
                    calendarRefs.append(Reference(name: calendar, node: node, path: mf.path("calendar")))
                }
                members.append(member)
            }
            guard let name, let kind else { continue }
            if let line = teamLines[name], let node = f["name"] {
                r.issue(node, f.path("name"), "duplicate team \"\(name)\" (first at line \(line))")
                continue
            }
            teamLines[name] = f["name"]?.mark?.line ?? 1
            teams.append(Team(name: name, kind: kind, calendar: calendar, manager: manager, members: members))
        }

        // References to names defined in this file.
        for ref in calendarRefs where !calendarNames.contains(ref.name) {
            let hint = suggestion(for: ref.name, in: calendarNames).map { " (did you mean \"\($0)\"?)" }
                ?? (calendarNames.isEmpty ? " (the file defines no calendars)" : " (calendars in this file: \(calendarNames.joined(separator: ", ")))")
            r.issue(ref.node, ref.path, "unknown calendar \"\(ref.name)\"\(hint)")
        }
        let memberIDs = memberLines.keys.sorted()
        for (ref, what, owner) in memberRefs {
            if ref.name == owner {
                r.issue(ref.node, ref.path, "a member cannot be their own backup")
            } else if memberLines[ref.name] == nil {
                r.issue(ref.node, ref.path, "unknown member \"\(ref.name)\"\(didYouMean(ref.name, memberIDs)) "
                        + "(a \(what) is the id of a member of some team in this file)")
            }
        }
        return TeamsFile(calendars: calendars, teams: teams, lifecycle: lifecycle)
    }

    private static func readCalendar(_ node: Node, _ p: String, _ r: NodeReader) -> (BusinessCalendar, Node)? {
        guard let f = r.fields(node, p, allowed: ["name", "timezone", "hours", "holidays"],
                               expected: "a calendar (a mapping with name, timezone, hours and holidays)")
        else { return nil }
        let name = r.string(f, "name", required: true)
        let zone = r.string(f, "timezone", required: true, hint: " (an IANA time zone, e.g. Europe/Berlin)")
        if let zone, let node = f["timezone"], TimeZone(identifier: zone) == nil {
            let zones = TimeZone.knownTimeZoneIdentifiers
            let hint = suggestion(for: zone, in: zones).map { " (did you mean \"\($0)\"?)" } ?? " (use an IANA name such as Europe/Berlin)"
            r.issue(node, f.path("timezone"), "unknown time zone \"\(zone)\"\(hint)")
        }
        var hours: [Int: [MinuteRange]] = [:]
        var hoursOK = f["hours"] != nil
        if f["hours"] == nil {
            r.missing(f, "hours", " (working hours per weekday, e.g. { mon: \"09:00-17:00\", tue: \"09:00-17:00\" })")
        } else if let hoursNode = f["hours"],
                  let days = r.fields(hoursNode, f.path("hours"), allowed: weekdays,
                                      expected: "working hours per weekday, e.g. { mon: \"09:00-17:00\" }") {
            for day in days.pairs {
                guard let text = r.string(days, day.key) else { hoursOK = false; continue }
                let ranges = text.split(separator: ",", omittingEmptySubsequences: false).map { MinuteRange(parsing: String($0)) }
                let parsed = ranges.compactMap { $0 }
                if parsed.count < ranges.count {
                    r.issue(day.value, days.path(day.key), "bad hours \"\(text)\" (write HH:MM-HH:MM, start before end, "
                            + "several separated by commas: \"09:00-12:00,13:00-17:00\")")
                    hoursOK = false
                } else if zip(parsed, parsed.dropFirst()).contains(where: { $0.end > $1.start }) {
                    r.issue(day.value, days.path(day.key), "bad hours \"\(text)\": the ranges overlap or are out of order")
                    hoursOK = false
                } else {
                    hours[weekdays.firstIndex(of: day.key)! + 1] = parsed
                }
            }
            if days.pairs.isEmpty, hoursNode.mapping?.count == 0 {
                r.issue(hoursNode, f.path("hours"), "a calendar needs working hours on at least one day")
                hoursOK = false
            }
        } else {
            hoursOK = false
        }
        var holidays: [String] = []
        var holidaysOK = true
        for item in (f["holidays"] == nil ? [] : r.strings(f, "holidays") ?? []) {
            if isDate(item.text) {
                holidays.append(item.text)
            } else {
                r.issue(item.node, item.path, "bad date \"\(item.text)\" (write YYYY-MM-DD, e.g. 2026-12-25)")
                holidaysOK = false
            }
        }
        guard let name, let zone, let nameNode = f["name"], hoursOK, holidaysOK else { return nil }
        return (BusinessCalendar(name: name, timezone: zone, hours: hours, holidays: holidays), nameNode)
    }

    private static func readMember(_ node: Node, _ p: String, _ r: NodeReader) -> (Member, Fields)? {
        let keys = ["id", "name", "email", "capacity", "weight", "active", "out_of_office_until", "backup", "calendar", "crm"]
        guard let f = r.fields(node, p, allowed: keys, expected: "a member (a mapping with id and name)") else { return nil }
        let id = r.string(f, "id", required: true, hint: " (a short unique id, e.g. ana)")
        let name = r.string(f, "name", required: true, hint: " (the member's full name)")
        let email = r.string(f, "email")
        if let email, let node = f["email"], !isEmail(email) {
            r.issue(node, f.path("email"), "\"\(email)\" is not an email address (write name@example.com)")
        }
        let capacity = r.int(f, "capacity", minimum: 1)
        let weight = f["weight"] == nil ? 1 : r.int(f, "weight", minimum: 0)
        let active = f["active"] == nil ? true : r.bool(f, "active")
        let away = r.string(f, "out_of_office_until")
        if let away, let node = f["out_of_office_until"], !isDate(away) {
            r.issue(node, f.path("out_of_office_until"), "bad date \"\(away)\" (write YYYY-MM-DD, e.g. 2026-12-01)")
        }
        let backup = r.string(f, "backup")
        let calendar = r.string(f, "calendar")
        var crm: [String: String]?
        var crmOK = true
        if let crmNode = f["crm"] {
            if let c = r.fields(crmNode, f.path("crm"), allowed: ["hubspot", "salesforce"],
                                expected: "the member's CRM ids (hubspot: owner id, salesforce: user id)") {
                var ids: [String: String] = [:]
                for key in ["hubspot", "salesforce"] where c[key] != nil {
                    if let value = r.string(c, key) { ids[key] = value } else { crmOK = false }
                }
                crm = ids
            } else {
                crmOK = false
            }
        }
        guard let id, let name, let weight, let active, crmOK,
              capacity != nil || f["capacity"] == nil, email.map(isEmail) ?? (f["email"] == nil),
              away.map(isDate) ?? (f["out_of_office_until"] == nil),
              backup != nil || f["backup"] == nil, calendar != nil || f["calendar"] == nil
        else { return nil }
        let member = Member(id: id, name: name, email: email, capacity: capacity, weight: weight, active: active,
                            outOfOfficeUntil: away, backup: backup, calendar: calendar, crm: crm)
        return (member, f)
    }

    /// `YYYY-MM-DD`, a real day of the Gregorian calendar.
    static func isDate(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
              year >= 1900, (1...12).contains(month), day >= 1 else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        return day <= days
    }

    /// An address the email channel can put into `RCPT TO:<…>` and `To:` as it is (`MailAddress`).
    private static func isEmail(_ text: String) -> Bool { MailAddress.isAddress(text) }
}
