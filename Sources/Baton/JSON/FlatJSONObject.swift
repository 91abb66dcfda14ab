/// A fast reader for the one JSON shape the claim reads on every row: a contact's attributes as
/// PostgreSQL prints a jsonb object of scalars (`{"country": "DE", "seats": 40, "vip": true}`).
///
/// It accepts only that shape — an object whose values are strings, numbers, true, false or null —
/// and returns nil for anything else (a nested value, odd spacing, a malformed escape), so the
/// caller falls back to `JSONDecoder` and keeps its exact behaviour. Numbers become text the way
/// `ContactAttributes.Value` turns them into text (through JSONDecoder): a whole number as an
/// integer, anything else through `Double`.
enum FlatJSONObject {
    static func scalars(_ text: String) -> [String: ContactAttributes.Value]? {
        var text = text
        return text.withUTF8 { bytes -> [String: ContactAttributes.Value]? in
            var reader = Reader(bytes: bytes)
            return reader.object()
        }
    }

    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        mutating func object() -> [String: ContactAttributes.Value]? {
            var result: [String: ContactAttributes.Value] = [:]
            skipSpaces()
            guard take(UInt8(ascii: "{")) else { return nil }
            skipSpaces()
            if take(UInt8(ascii: "}")) { return atEnd() ? result : nil }
            while true {
                skipSpaces()
                guard let key = string() else { return nil }
                skipSpaces()
                guard take(UInt8(ascii: ":")) else { return nil }
                skipSpaces()
                guard let value = scalar() else { return nil }
                result[key] = value
                skipSpaces()
                if take(UInt8(ascii: ",")) { continue }
                guard take(UInt8(ascii: "}")) else { return nil }
                return atEnd() ? result : nil
            }
        }

        mutating func scalar() -> ContactAttributes.Value? {
            guard index < bytes.count else { return nil }
            switch bytes[index] {
            case UInt8(ascii: "\""): return string().map { .text($0) }
            case UInt8(ascii: "t"): return literal("true") ? .text("true") : nil
            case UInt8(ascii: "f"): return literal("false") ? .text("false") : nil
            case UInt8(ascii: "n"): return literal("null") ? .unsupported("null") : nil
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return number()
            default: return nil  // a list or an object: JSONDecoder says which
            }
        }

        mutating func number() -> ContactAttributes.Value? {
            let start = index
            while index < bytes.count {
                let byte = bytes[index]
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-")
                        || byte == UInt8(ascii: "+") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e")
                        || byte == UInt8(ascii: "E") else { break }
                index += 1
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            if let whole = Int64(text) { return .text(String(whole)) }
            guard let number = Double(text), number.isFinite else { return nil }
            // JSONDecoder reads 1.0 and 1e2 as integers too.
            if number == number.rounded(), let whole = Int64(exactly: number) { return .text(String(whole)) }
            return .text(String(number))
        }

        /// A JSON string (see `JSONStringReader`).
        mutating func string() -> String? { JSONStringReader.string(bytes, at: &index) }

        mutating func literal(_ word: StaticString) -> Bool {
            let count = word.utf8CodeUnitCount
            guard index + count <= bytes.count else { return false }
            for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { return false }
            index += count
            return true
        }

        mutating func take(_ byte: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        mutating func skipSpaces() {
            while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        }

        func atEnd() -> Bool {
            var rest = index
            while rest < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[rest]) { rest += 1 }
            return rest == bytes.count
        }
    }
}
