import Foundation

/// PostgreSQL's text representations of the types we bind and decode. Sessions are set to
/// `TimeZone=UTC` and `DateStyle=ISO` at connect, so timestamps arrive as `2026-11-24 17:30:00.123456+00`.
enum TextFormat {
    // MARK: timestamps

    /// Days from 1970-01-01 to the given civil date (Howard Hinnant's algorithm).
    static func daysFromCivil(_ year: Int, _ month: Int, _ day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    static func civilFromDays(_ days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// Parses `YYYY-MM-DD[ HH:MM:SS[.ffffff]][+HH[:MM[:SS]]]` (timestamptz, timestamp, date).
    static func parseTimestamp(_ text: String) -> Date? {
        if text == "infinity" { return .distantFuture }
        if text == "-infinity" { return .distantPast }
        let b = Array(text.utf8)
        var i = 0
        func number(_ count: Int) -> Int? {
            guard i + count <= b.count else { return nil }
            var value = 0
            for k in i..<(i + count) {
                let c = b[k]
                guard c >= 48 && c <= 57 else { return nil }
                value = value * 10 + Int(c - 48)
            }
            i += count
            return value
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < b.count, b[i] == c else { return false }
            i += 1
            return true
        }
        // Years may have more than 4 digits.
        var yearDigits = 0
        while i + yearDigits < b.count, b[i + yearDigits] >= 48, b[i + yearDigits] <= 57 { yearDigits += 1 }
        guard yearDigits >= 4, let year = number(yearDigits), expect(45), let month = number(2), expect(45),
              let day = number(2) else { return nil }
        var seconds = Double(daysFromCivil(year, month, day)) * 86400
        if i == b.count { return Date(timeIntervalSince1970: seconds) }
        guard expect(32) || expect(84), let hour = number(2), expect(58), let minute = number(2), expect(58),
              let second = number(2) else { return nil }
        seconds += Double(hour * 3600 + minute * 60 + second)
        if i < b.count, b[i] == 46 {  // .fraction
            i += 1
            var fraction = 0.0
            var scale = 0.1
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                fraction += Double(b[i] - 48) * scale
                scale /= 10
                i += 1
            }
            seconds += fraction
        }
        if i < b.count {
            if b[i] == 90 {  // Z
                i += 1
            } else {
                guard b[i] == 43 || b[i] == 45 else { return nil }
                let sign = b[i] == 45 ? -1 : 1
                i += 1
                guard let oh = number(2) else { return nil }
                var offset = oh * 3600
                if expect(58) { guard let om = number(2) else { return nil }; offset += om * 60 }
                if expect(58) { guard let os = number(2) else { return nil }; offset += os }
                seconds -= Double(sign * offset)
            }
        }
        guard i == b.count else { return nil }
        return Date(timeIntervalSince1970: seconds)
    }

    /// `2026-11-24T17:30:00.123456Z`, microsecond precision, accepted by timestamptz input.
    static func formatTimestamp(_ date: Date) -> String {
        if date == .distantFuture { return "infinity" }
        if date == .distantPast { return "-infinity" }
        let micros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        var days = Int(micros / 86_400_000_000)
        var rest = micros % 86_400_000_000
        if rest < 0 { rest += 86_400_000_000; days -= 1 }
        let (y, m, d) = civilFromDays(days)
        let secondsOfDay = Int(rest / 1_000_000)
        let fraction = Int(rest % 1_000_000)
        func pad(_ v: Int, _ width: Int) -> String {
            let s = String(v)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(secondsOfDay / 3600, 2)):\(pad(secondsOfDay / 60 % 60, 2)):\(pad(secondsOfDay % 60, 2)).\(pad(fraction, 6))Z"
    }

    // MARK: bytea

    private static let hexDigits = Array("0123456789abcdef".utf8)

    static func formatBytea(_ data: Data) -> String {
        var out = [UInt8]()
        out.reserveCapacity(2 + data.count * 2)
        out.append(92)  // backslash
        out.append(120)  // x
        for byte in data {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func parseBytea(_ text: String) -> Data? {
        var utf8 = text.utf8[...]
        guard utf8.first == 92, utf8.dropFirst().first == 120 else { return nil }
        utf8 = utf8.dropFirst(2)
        guard utf8.count % 2 == 0 else { return nil }
        var data = Data(capacity: utf8.count / 2)
        var high: UInt8? = nil
        for c in utf8 {
            let v: UInt8
            switch c {
            case 48...57: v = c - 48
            case 97...102: v = c - 87
            case 65...70: v = c - 55
            default: return nil
            }
            if let h = high { data.append(h << 4 | v); high = nil } else { high = v }
        }
        return data
    }

    // MARK: arrays

    /// `{"a","b \"c\"",NULL}`: every element quoted, so any text round-trips.
    static func formatArray(_ elements: [String?]) -> String {
        // Built as UTF-8 bytes: `"` and `\` are single bytes that never occur inside a multi-byte
        // sequence, so escaping byte by byte keeps every character intact.
        var capacity = 2
        for element in elements { capacity += (element?.utf8.count ?? 4) + 3 }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(capacity + capacity / 8)
        bytes.append(UInt8(ascii: "{"))
        for (index, element) in elements.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            guard let element else { bytes.append(contentsOf: "NULL".utf8); continue }
            bytes.append(UInt8(ascii: "\""))
            for byte in element.utf8 {
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { bytes.append(UInt8(ascii: "\\")) }
                bytes.append(byte)
            }
            bytes.append(UInt8(ascii: "\""))
        }
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Parses a one-dimensional array literal; nil when it is not one.
    static func parseArray(_ text: String) -> [String?]? {
        let s = Array(text.unicodeScalars)
        guard s.first == "{", s.last == "}" else { return nil }
        var result: [String?] = []
        var i = 1
        let end = s.count - 1
        if end == 1 { return [] }
        while i < end {
            if s[i] == "\"" {
                i += 1
                var element = String.UnicodeScalarView()
                while i < end, s[i] != "\"" {
                    if s[i] == "\\" { i += 1 }
                    guard i < end else { return nil }
                    element.append(s[i])
                    i += 1
                }
                guard i < end else { return nil }
                i += 1  // closing quote
                result.append(String(element))
            } else {
                var element = String.UnicodeScalarView()
                while i < end, s[i] != "," {
                    if s[i] == "{" { return nil }  // multi-dimensional
                    element.append(s[i])
                    i += 1
                }
                let value = String(element)
                result.append(value == "NULL" ? nil : value)
            }
            if i < end {
                guard s[i] == "," else { return nil }
                i += 1
            }
        }
        return result
    }
}
