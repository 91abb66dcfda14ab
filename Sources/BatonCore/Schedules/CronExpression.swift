import Foundation

/// A cron expression in a time zone: when a schedule runs. Pure: `next(after:)` is arithmetic over
/// the zone's offsets (Foundation's `TimeZone`), tested across daylight-saving changes.
///
/// Five fields, `minute hour day-of-month month day-of-week`, or six with a leading `second` field
/// (for tests and short periods: `*/2 * * * * *` runs every two seconds). Each field takes `*`,
/// numbers, ranges `a-b`, lists `a,b`, steps `*/n` and `a-b/n`; months `jan`…`dec` and weekdays
/// `sun`…`sat` by name; weekday 0 and 7 are both Sunday. As in Vixie cron, when both day-of-month
/// and day-of-week are restricted a day matching either runs.
///
/// Daylight-saving changes:
/// - a local time that does not exist (Europe/Berlin 02:30 on the spring-forward Sunday) runs once,
///   at the instant the clock jumps (03:00 local);
/// - a local time that happens twice (02:30 on the fall-back Sunday) runs once, at its first
///   occurrence, unless the hour field is `*` (or a step over every hour): such a schedule follows
///   the clock and runs in both passes of the repeated hour.
public struct CronExpression: Hashable, Sendable {
    /// The text as written.
    public let text: String
    /// The IANA zone the fields are read in.
    public let timeZone: TimeZone
    let seconds: [Int]
    let minutes: [Int]
    let hours: [Int]
    let daysOfMonth: Set<Int>
    let months: Set<Int>
    /// 0 = Sunday … 6 = Saturday.
    let weekdays: Set<Int>
    let dayOfMonthRestricted: Bool
    let weekdayRestricted: Bool
    let everyHour: Bool

    /// Why an expression was refused: one line naming the field.
    public struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// Parses `text` in the zone named `timeZone` (e.g. `Europe/Berlin`).
    /// - Throws: `ParseError` naming the bad field or zone.
    public init(_ text: String, timeZone zoneName: String) throws {
        guard let zone = TimeZone(identifier: zoneName) else {
            throw ParseError(description: "unknown time zone \"\(zoneName)\" (write an IANA name such as Europe/Berlin or UTC)")
        }
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 || fields.count == 6 else {
            throw ParseError(description: "a cron expression has 5 fields (minute hour day-of-month month day-of-week) "
                             + "or 6 with seconds first; \"\(text)\" has \(fields.count)")
        }
        let f = fields.count == 6 ? fields : ["0"] + fields
        self.text = text
        self.timeZone = zone
        seconds = try Self.field(f[0], "second", 0...59, names: [:]).sorted()
        minutes = try Self.field(f[1], "minute", 0...59, names: [:]).sorted()
        hours = try Self.field(f[2], "hour", 0...23, names: [:]).sorted()
        daysOfMonth = Set(try Self.field(f[3], "day-of-month", 1...31, names: [:]))
        months = Set(try Self.field(f[4], "month", 1...12, names: Self.monthNames))
        weekdays = Set(try Self.field(f[5], "day-of-week", 0...7, names: Self.weekdayNames).map { $0 % 7 })
        dayOfMonthRestricted = !f[3].hasPrefix("*")
        weekdayRestricted = !f[5].hasPrefix("*")
        everyHour = hours.count == 24
    }

    static let monthNames = ["jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9,
                             "oct": 10, "nov": 11, "dec": 12]
    static let weekdayNames = ["sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6]

    static func field(_ text: String, _ name: String, _ range: ClosedRange<Int>, names: [String: Int]) throws -> Set<Int> {
        func value(_ s: Substring) throws -> Int {
            if let n = Int(s), range.contains(n) { return n }
            if let n = names[s.lowercased()] { return n }
            throw ParseError(description: "\(name) field \"\(text)\": \"\(s)\" is not a value from "
                             + "\(range.lowerBound) to \(range.upperBound)\(names.isEmpty ? "" : " or a name such as \(names.min { $0.value < $1.value }!.key)")")
        }
        var result = Set<Int>()
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2, !pieces[0].isEmpty else {
                throw ParseError(description: "\(name) field \"\(text)\": cannot read \"\(part)\" (write *, 5, 1-5, */15 or 1,3)")
            }
            var step = 1
            if pieces.count == 2 {
                guard let n = Int(pieces[1]), n > 0 else {
                    throw ParseError(description: "\(name) field \"\(text)\": the step after / must be a positive number")
                }
                step = n
            }
            let bounds: ClosedRange<Int>
            if pieces[0] == "*" {
                bounds = range
            } else if let dash = pieces[0].firstIndex(of: "-") {
                let low = try value(pieces[0][..<dash]), high = try value(pieces[0][pieces[0].index(after: dash)...])
                guard low <= high else { throw ParseError(description: "\(name) field \"\(text)\": range \(pieces[0]) runs backwards") }
                bounds = low...high
            } else {
                let single = try value(pieces[0])
                bounds = single...(pieces.count == 2 ? range.upperBound : single)
            }
            result.formUnion(stride(from: bounds.lowerBound, through: bounds.upperBound, by: step))
        }
        return result
    }

    /// Whether a local calendar day runs.
    func matches(year: Int, month: Int, day: Int, weekday: Int) -> Bool {
        guard months.contains(month) else { return false }
        let dom = daysOfMonth.contains(day), dow = weekdays.contains(weekday)
        if dayOfMonthRestricted && weekdayRestricted { return dom || dow }
        return dom && dow
    }

    /// The first run strictly after `instant`; nil when none comes within eight years (an expression
    /// such as `0 0 30 2 *` never runs).
    public func next(after instant: Date) -> Date? {
        let after = Int(instant.timeIntervalSince1970.rounded(.down))
        let afterWall = wall(of: after)
        // Away from a clock change, wall time and instant move together; near one, a wall time up to
        // `slack` either side of another can map to an instant on the other side of it.
        let startSlack = slack(near: after)
        var best: Int?
        var bestWall = Int.max
        var endSlack = 0
        let firstDay = Self.floorDiv(afterWall - startSlack, 86_400)
        for dayNumber in firstDay...(firstDay + 8 * 366) {
            let dayStart = dayNumber * 86_400
            if best != nil, dayStart > bestWall + endSlack { break }
            let (y, m, d) = Self.civil(fromDays: dayNumber)
            guard matches(year: y, month: m, day: d, weekday: Self.floorMod(dayNumber + 4, 7)) else { continue }
            hours: for h in hours {
                if dayStart + h * 3600 + 3599 < afterWall - startSlack { continue }
                for mi in minutes {
                    let minuteStart = dayStart + h * 3600 + mi * 60
                    if minuteStart + 59 < afterWall - startSlack { continue }
                    if best != nil, minuteStart > bestWall + endSlack { break hours }
                    for s in seconds where minuteStart + s >= afterWall - startSlack {
                        if best != nil, minuteStart + s > bestWall + endSlack { break hours }
                        for candidate in instants(ofWall: minuteStart + s) where candidate > after && candidate < (best ?? .max) {
                            best = candidate
                            bestWall = minuteStart + s
                            endSlack = slack(near: candidate)
                        }
                    }
                }
            }
        }
        return best.map { Date(timeIntervalSince1970: TimeInterval($0)) }
    }

    /// Three hours near a change of the zone's offset (no zone shifts by more), else none.
    func slack(near instant: Int) -> Int {
        let from = Date(timeIntervalSince1970: TimeInterval(instant - 2 * 86_400))
        guard let change = timeZone.nextDaylightSavingTimeTransition(after: from) else { return 0 }
        return change.timeIntervalSince1970 < TimeInterval(instant + 2 * 86_400) ? 3 * 3600 : 0
    }

    /// The local wall time (seconds since 1970 as if the zone were UTC) of an instant.
    func wall(of instant: Int) -> Int {
        instant + timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(instant)))
    }

    /// The instants showing wall time `wall`: one normally, two in a repeated hour (both only when
    /// the hour field is every hour), the instant of the jump for a time skipped by the clock.
    func instants(ofWall wall: Int) -> [Int] {
        let offsetBefore = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(wall - 86_400)))
        let offsetAfter = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(wall + 86_400)))
        let found = Set([wall - offsetBefore, wall - offsetAfter]).filter { self.wall(of: $0) == wall }.sorted()
        if found.isEmpty {
            // Skipped by a jump forward: run when the clock jumps, between the two readings.
            let from = Date(timeIntervalSince1970: TimeInterval(min(wall - offsetBefore, wall - offsetAfter)))
            if let jump = timeZone.nextDaylightSavingTimeTransition(after: from) {
                return [Int(jump.timeIntervalSince1970.rounded(.down))]
            }
            return [wall - offsetBefore]
        }
        return everyHour ? found : [found[0]]
    }

    /// Year, month, day of a day number (days since 1970-01-01), proleptic Gregorian
    /// (Howard Hinnant's `civil_from_days`).
    static func civil(fromDays days: Int) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = floorDiv(z, 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    static func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }
    static func floorMod(_ a: Int, _ b: Int) -> Int { a - floorDiv(a, b) * b }
}
