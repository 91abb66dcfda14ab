import Foundation

/// RFC 3339 times to and from seconds and microseconds since 1970, for filters and cursors that
/// must match PostgreSQL's microseconds exactly (`RFC3339.string` keeps whole seconds, and
/// `ISO8601DateFormatter` milliseconds at most).
enum PreciseTime {
    /// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`; `t`, `z` and a space for `T` are accepted.
    static func parse(_ text: String) -> (seconds: Int, micros: Int)? {
        let c = Array(text.utf8)
        func digits(_ start: Int, _ count: Int) -> Int? {
            guard start + count <= c.count else { return nil }
            var n = 0
            for byte in c[start..<start + count] {
                guard (48...57).contains(byte) else { return nil }
                n = n * 10 + Int(byte - 48)
            }
            return n
        }
        func at(_ i: Int, _ chars: String) -> Bool { i < c.count && chars.utf8.contains(c[i]) }
        guard c.count >= 20, let year = digits(0, 4), at(4, "-"), let month = digits(5, 2), at(7, "-"), let day = digits(8, 2),
              at(10, "Tt "), let hour = digits(11, 2), at(13, ":"), let minute = digits(14, 2), at(16, ":"),
              let second = digits(17, 2) else { return nil }
        var i = 19, micros = 0
        if at(i, ".") {
            i += 1
            let start = i
            while i < c.count, (48...57).contains(c[i]) { i += 1 }
            guard i > start, i - start <= 9 else { return nil }
            let fraction = String(decoding: c[start..<min(i, start + 6)], as: UTF8.self)
            micros = Int(fraction.padding(toLength: 6, withPad: "0", startingAt: 0))!
        }
        var offset = 0
        if at(i, "Zz") {
            i += 1
        } else if at(i, "+-"), let oh = digits(i + 1, 2), at(i + 3, ":"), let om = digits(i + 4, 2), oh <= 23, om <= 59 {
            offset = (c[i] == UInt8(ascii: "-") ? -1 : 1) * (oh * 3600 + om * 60)
            i += 6
        } else {
            return nil
        }
        let monthDays = [31, year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard i == c.count, (1...9999).contains(year), (1...12).contains(month), (1...monthDays[month - 1]).contains(day),
              hour <= 23, minute <= 59, second <= 59 else { return nil }
        // Days from 1970-01-01 to the civil date (Howard Hinnant's days_from_civil).
        let y = month <= 2 ? year - 1 : year
        let era = y / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
        return (days * 86_400 + hour * 3600 + minute * 60 + second - offset, micros)
    }

    /// The time in UTC with six fractional digits, which PostgreSQL reads exactly.
    static func format(_ date: Date) -> String {
        var seconds = Int(date.timeIntervalSince1970.rounded(.down))
        var micros = Int(((date.timeIntervalSince1970 - Double(seconds)) * 1_000_000).rounded())
        if micros == 1_000_000 { seconds += 1; micros = 0 }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let d = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: Date(timeIntervalSince1970: Double(seconds)))
        func pad(_ n: Int?, _ width: Int) -> String {
            let text = String(n ?? 0)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(d.year, 4))-\(pad(d.month, 2))-\(pad(d.day, 2))T\(pad(d.hour, 2)):\(pad(d.minute, 2)):\(pad(d.second, 2)).\(pad(micros, 6))Z"
    }
}
