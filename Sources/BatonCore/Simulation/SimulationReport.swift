import Foundation

/// The text `batonctl simulate` prints: one line per step with its virtual time, indented lines for
/// the messages it would send, then how the run ended.
public enum SimulationReport {
    /// The whole report of one simulated contact.
    public static func text(_ trace: SimulationTrace, directory: Directory) -> String {
        var lines: [String] = []
        let attributes = trace.attributes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
        let ref = RecordRef(storageKey: trace.contact)
        let who = ref.kind == .contact ? "contact \(trace.contact)" : "record \(ref)"
        lines.append("simulate \(trace.workflow): \(who)\(attributes.isEmpty ? "" : " (\(attributes))"), enrolled \(iso(trace.start))")
        for event in trace.events {
            lines.append("event: \(event.event) at \(iso(event.at)) (\(elapsed(event.at.timeIntervalSince(trace.start))))")
        }
        lines.append("")
        let stepWidth = max(4, trace.steps.map(\.step.count).max() ?? 0)
        let timeWidth = 20
        let elapsedWidth = max(3, trace.steps.map { elapsed(TimeInterval($0.elapsed)).count }.max() ?? 0)
        let indent = String(repeating: " ", count: timeWidth + elapsedWidth + stepWidth + 6)
        var priority = 0
        // The time zone of the wait a pause or resume belongs to (its calendar's), for local times.
        var zone: String?
        for step in trace.steps {
            if let wait = step.wait { zone = wait.calendar == nil ? nil : wait.timezone }
            let prefix = iso(step.at).padding(toLength: timeWidth, withPad: " ", startingAt: 0) + "  "
                + elapsed(TimeInterval(step.elapsed)).padding(toLength: elapsedWidth, withPad: " ", startingAt: 0) + "  "
                + step.step.padding(toLength: stepWidth, withPad: " ", startingAt: 0) + "  "
            var what = summary(step, directory: directory, start: trace.start, zone: zone)
            if step.priority > priority {
                // Before the arrow: "escalated: …; priority high -> next".
                let raised = "; priority \(priorityName(step.priority))"
                if let arrow = what.range(of: " -> ", options: .backwards) { what.insert(contentsOf: raised, at: arrow.lowerBound) }
                else { what += raised }
            }
            priority = step.priority
            lines.append(prefix + what)
            for message in step.messages {
                lines.append(indent + messageLine(message))
            }
        }
        lines.append("")
        let result = trace.result
        var end = "result: \(result.state)"
        if let outcome = result.outcome { end += " (\(outcome))" }
        end += " at step \(result.step), \(iso(result.at)) (\(elapsed(result.at.timeIntervalSince(trace.start))))"
        lines.append(end)
        if let note = result.note { lines.append("note: \(note)") }
        lines.append("owner: \(person(result.owner, directory)) in \(result.team ?? "no team")")
        lines.append("path: \(result.path.joined(separator: " > "))")
        lines.append("sla: met \(list(result.met)); breached \(list(result.breaches))")
        return lines.joined(separator: "\n")
    }

    /// One row per simulated contact: path taken, final owner and team, breaches.
    public static func matrix(_ traces: [SimulationTrace]) -> String {
        let header = ["CONTACT", "RESULT", "OWNER", "TEAM", "BREACHES", "PATH"]
        let rows = traces.map { trace -> [String] in
            let r = trace.result
            return [trace.contact, r.state + (r.outcome.map { ":\($0)" } ?? ""), r.owner ?? "-", r.team ?? "-",
                    r.breaches.isEmpty ? "-" : r.breaches.joined(separator: ","), r.path.joined(separator: ">")]
        }
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, cell in
                i == cells.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }

    static func summary(_ step: SimulatedStep, directory: Directory, start: Date, zone: String? = nil) -> String {
        switch step.outcome {
        case "assigned":
            guard let a = step.assignment, let to = a.to else { return step.detail }
            return "assigned \(person(to, directory)) in \(a.team ?? "?"), why: \(a.reason)"
        case "queued":
            return "left unowned in the queue of \(step.team ?? "?") (\(step.assignment?.reason ?? step.detail))"
        case "notified":
            let sent = step.messages.filter { !$0.suppressed }.count
            let suppressed = step.messages.count - sent
            if step.messages.isEmpty { return "nobody to notify -> \(step.next ?? "?")" }
            return "sends \(sent) message(s)\(suppressed > 0 ? ", \(suppressed) suppressed" : "") -> \(step.next ?? "?")"
        case "branched":
            return (step.detail.hasPrefix("branch: ") ? String(step.detail.dropFirst(8)) : step.detail)
        case "went":
            return "-> \(step.next ?? "?")"
        case "waiting":
            guard let wait = step.wait else { return step.detail }
            var text = "waits for \(wait.event), \(wait.within) "
            if let calendar = wait.calendar {
                text += "of business hours (\(calendar)): deadline \(iso(wait.deadline))"
                if let zone = wait.timezone { text += " = \(local(wait.deadline, zone)) \(zone)" }
            } else {
                text += "on the wall clock: deadline \(iso(wait.deadline))"
            }
            return text
        case "paused":
            // "sla_paused: waiting_on_customer (signal 2); the clock stops with 3h left"
            let rest = step.detail.dropFirst("sla_paused: ".count)
            return "paused: \(step.signal?.event ?? "event") stops the clock"
                + (rest.range(of: "; ").map { ", " + rest[$0.upperBound...].replacingOccurrences(of: "the clock stops with ", with: "") } ?? "")
        case "resumed":
            // "sla_resumed: customer_replied (signal 3) after 2h of business hours paused; deadline moves to …"
            let rest = step.detail.dropFirst("sla_resumed: ".count)
            var text = "resumed: \(step.signal?.event ?? "event")"
            if let after = rest.range(of: ") after ") { text += " after " + rest[after.upperBound...] }
            // The moved deadline also in the calendar's time zone, as the wait's line gives it.
            if let zone, let moved = text.range(of: "deadline moves to "),
               let deadline = ISO8601DateFormatter().date(from: String(text[moved.upperBound...].prefix(20))) {
                text.insert(contentsOf: " = \(local(deadline, zone)) \(zone)", at: text.index(moved.upperBound, offsetBy: 20))
            }
            return text
        case "sla_met":
            let arrival = step.signal.map { " (arrived \(elapsed($0.at.timeIntervalSince(start))))" } ?? ""
            let saved = step.detail.contains(Machine.breachAvoided) ? ", late for the deadline before the pause: a \(Machine.breachAvoided)" : ""
            return "met: \(step.signal?.event ?? "signal")\(arrival)\(saved) -> \(step.next ?? "?")"
        case "sla_breached":
            return "breached: \(step.detail.hasPrefix("sla_breached: ") ? String(step.detail.dropFirst(14)) : step.detail) -> \(step.next ?? "?")"
        case "escalated", "handed_off":
            return "\(step.detail) -> \(step.next ?? "?")"
        case "completed":
            return step.detail
        case "retry":
            return "error: \(step.error ?? "?"); \(step.detail)"
        case "failed":
            return "failed: \(step.error ?? step.detail)"
        default:
            return step.detail
        }
    }

    static func messageLine(_ message: SimulatedMessage) -> String {
        let who: String
        if message.to == "contact" {
            who = "the contact" + (message.email.map { " <\($0)>" } ?? "")
        } else {
            who = "\(message.to) (\(message.name ?? message.to)\(message.email.map { " <\($0)>" } ?? ""))"
        }
        let mark = message.suppressed ? "x suppressed (no consent): " : "-> "
        let subject = message.subject.map { "[subject: \($0)] " } ?? ""
        return "\(mark)\(who) via \(message.channel): \(subject)\(message.message)"
    }

    static func person(_ id: String?, _ directory: Directory) -> String {
        guard let id else { return "nobody" }
        guard let name = directory.members[id]?.name, name != id else { return id }
        return "\(id) (\(name))"
    }

    static func list(_ steps: [String]) -> String { steps.isEmpty ? "none" : steps.joined(separator: ", ") }

    static func priorityName(_ rank: Int) -> String {
        Priority.allCases.first { $0.rank == rank }?.rawValue ?? String(rank)
    }

    /// `+0s`, `+45m`, `+3d20h`.
    static func elapsed(_ seconds: TimeInterval) -> String {
        let whole = Int(seconds.rounded())
        if whole < 0 { return "-" + TimeSpan(seconds: -whole).description }
        return "+" + TimeSpan(seconds: whole).description
    }

    /// `Mon 28 Dec 11:00` in `zone`.
    static func local(_ date: Date, _ zone: String) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: zone)
        formatter.dateFormat = "EEE d MMM HH:mm"
        return formatter.string(from: date)
    }
}
