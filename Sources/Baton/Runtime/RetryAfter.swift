import Foundation

/// The `Retry-After` header of a 408, 429 or 5xx answer (RFC 9110 §10.2.3): delay-seconds or an
/// HTTP-date, read without a date formatter and clamped, so a receiver cannot park a delivery for
/// centuries (or overflow the arithmetic that turns the wait into milliseconds).
enum RetryAfter {
    /// The longest wait a receiver may ask for.
    static let limit: Duration = .seconds(3600)

    /// How long `value` asks to wait from `now`, between zero and `limit`; nil when it is neither form.
    static func delay(_ value: String, now: Date, limit: Duration = RetryAfter.limit) -> Duration? {
        let text = value.trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty else { return nil }
        if text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) {
            // Digits only: seconds, however many (too many for an Int is more than the limit anyway).
            guard let seconds = Int64(text), seconds < limit.components.seconds else { return limit }
            return .seconds(seconds)
        }
        guard let date = httpDate(text) else { return nil }
        let seconds = date.timeIntervalSince(now)
        if seconds <= 0 { return .zero }
        return seconds >= Double(limit.components.seconds) ? limit : .milliseconds(Int64(seconds * 1000))
    }

    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    /// An HTTP-date in any of its three forms, always UTC: `Sun, 06 Nov 1994 08:49:37 GMT`,
    /// `Sunday, 06-Nov-94 08:49:37 GMT` and `Sun Nov  6 08:49:37 1994`. The weekday is not checked.
    static func httpDate(_ text: String) -> Date? {
        let tokens = text.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "-" }).map(String.init)
        var day: Int?, month: Int?, year: Int?, clock: [Int]?
        for token in tokens.dropFirst() {  // the first is the weekday
            if let index = months.firstIndex(of: token.lowercased()) {
                month = index + 1
            } else if token.contains(":") {
                let parts = token.split(separator: ":").compactMap { Int($0) }
                guard parts.count == 3, parts[0] < 24, parts[1] < 60, parts[2] < 61 else { return nil }
                clock = parts
            } else if let number = Int(token), token.count <= 4 {
                if day == nil, token.count <= 2, month == nil || year == nil { day = number }
                else if year == nil { year = token.count == 2 ? (number < 70 ? 2000 + number : 1900 + number) : number }
                else { return nil }
            } else if token.uppercased() != "GMT" && token.uppercased() != "UTC" {
                return nil
            }
        }
        guard let day, let month, let year, let clock, (1...31).contains(day) else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        return Date(timeIntervalSince1970: Double(days * 86_400 + clock[0] * 3600 + clock[1] * 60 + clock[2]))
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
    private static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
