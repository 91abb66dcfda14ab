import Foundation
import Yams

/// When a simulated event arrives: some time after the simulation starts (`+2h`), or at an instant.
public enum SimulatedTime: Hashable, Sendable {
    case after(TimeSpan)
    case at(Date)

    /// The instant, for a simulation that starts at `start`.
    public func resolve(from start: Date) -> Date {
        switch self {
        case .after(let span): return start.addingTimeInterval(TimeInterval(span.seconds))
        case .at(let date): return date
        }
    }

    /// Parses `+2h`, `+1h30m`, `+0s` or an RFC 3339 time (`2026-12-01T09:00:00Z`, `…+01:00`).
    public init?(parsing text: String) {
        let text = text.trimmingCharacters(in: .whitespaces)
        if text.hasPrefix("+") {
            let rest = String(text.dropFirst())
            if rest.allSatisfy({ $0 == "0" || $0.isLetter }), rest.first == "0" { self = .after(TimeSpan(seconds: 0)); return }
            guard let span = TimeSpan(parsing: rest) else { return nil }
            self = .after(span)
            return
        }
        guard let date = parseRFC3339(text) else { return nil }
        self = .at(date)
    }
}

/// One line of an events file: `- { at: +2h, event: first_touch }`.
public struct SimulationEvent: Hashable, Sendable {
    public var time: SimulatedTime
    public var event: String

    public init(time: SimulatedTime, event: String) {
        self.time = time
        self.event = event
    }
}

/// An RFC 3339 instant, with or without fractional seconds; nil when malformed.
public func parseRFC3339(_ text: String) -> Date? {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    if let date = formatter.date(from: text) { return date }
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.date(from: text)
}

extension DefinitionLoader {
    /// An events file for `batonctl simulate --events FILE`: a YAML list of `{ at, event }`, where
    /// `at` is `+DURATION` after the simulation starts or an RFC 3339 time.
    /// - Throws: `DefinitionErrors`, one `FILE:LINE:COLUMN: field: message` per mistake.
    public static func simulationEvents(from text: String, file: String) throws -> [SimulationEvent] {
        let r = NodeReader(file: file)
        var events: [SimulationEvent] = []
        if let root = r.compose(text) {
            if case .sequence(let sequence) = root {
                for (index, node) in sequence.enumerated() {
                    let path = "[\(index)]"
                    guard let f = r.fields(node, path, allowed: ["at", "event"], expected: "an event ({ at: +2h, event: NAME })")
                    else { continue }
                    let event = r.string(f, "event", required: true, hint: " (the signal's name, e.g. first_touch)")
                    var time: SimulatedTime?
                    if let atText = r.string(f, "at", required: true, hint: " (+2h, or an RFC 3339 time)") {
                        time = SimulatedTime(parsing: atText)
                        if time == nil {
                            r.issue(f["at"], f.path("at"),
                                    "bad time \"\(atText)\" (write +90s, +4h, +3d after the start, or an RFC 3339 time such as 2026-12-01T09:00:00Z)")
                        }
                    }
                    if let event, let time { events.append(SimulationEvent(time: time, event: event)) }
                }
            } else if !r.isNull(root) {
                r.issue(root, "", "expected a list of events (- { at: +2h, event: first_touch }), found \(r.describe(root))")
            }
        }
        guard r.issues.isEmpty else { throw DefinitionErrors(issues: r.issues) }
        return events
    }
}
