/// Reads CSV text as RFC 4180 describes it: records end at CRLF or LF (a lone CR counts too),
/// fields are separated by commas, a field in double quotes may hold commas, line breaks and
/// doubled quotes (`""` is one `"`).
///
/// Leniencies, each because spreadsheets produce it: a UTF-8 byte order mark at the start is
/// dropped, blanks around a field (and around the quotes of a quoted one) are trimmed, blank lines
/// are skipped. Everything else that RFC 4180 does not allow is a malformed record with its line:
/// a quote inside an unquoted field, text after a closing quote, a quote never closed. Reading goes
/// on after a malformed record (after an unclosed quote: from the line after the one it opened on),
/// so one bad line does not hide the others.
public enum CSVReader {
    /// One record and the line it starts on (1-based).
    public struct Record: Equatable, Sendable {
        public var line: Int
        public var fields: [String]
    }

    /// A record that could not be read, with the line it starts on and what is wrong.
    public struct Malformed: Error, Equatable, Sendable {
        public var line: Int
        public var message: String
    }

    /// Every record of `text` in order, each read or malformed.
    public static func records(_ text: String) -> [Result<Record, Malformed>] {
        var bytes = Array(text.utf8)[...]
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
        var cursor = Cursor(bytes: bytes)
        var results: [Result<Record, Malformed>] = []
        while !cursor.atEnd {
            let start = cursor
            switch cursor.readRecord() {
            case .blank:
                continue
            case .record(let fields):
                results.append(.success(Record(line: start.line, fields: fields)))
            case .malformed(let message, let resume):
                results.append(.failure(Malformed(line: start.line, message: message)))
                if resume == .lineAfterStart { cursor = start }
                cursor.skipLine()
            }
        }
        return results
    }

    private enum Outcome {
        case blank
        case record([String])
        case malformed(String, resumeAt: Resume)
    }

    /// Where reading goes on after a malformed record.
    private enum Resume {
        /// The line after the one reading stopped on.
        case nextLine
        /// The line after the one the record started on (an unclosed quote ran to the end of the text).
        case lineAfterStart
    }

    private struct Cursor {
        var bytes: ArraySlice<UInt8>
        var line = 1

        static let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), cr = UInt8(ascii: "\r")
        static let lf = UInt8(ascii: "\n"), space = UInt8(ascii: " "), tab = UInt8(ascii: "\t")

        var atEnd: Bool { bytes.isEmpty }

        /// Consumes a record terminator (CRLF, LF or CR) if one is next; true if it did.
        mutating func takeLineEnd() -> Bool {
            guard let first = bytes.first, first == Self.cr || first == Self.lf else { return false }
            bytes.removeFirst()
            if first == Self.cr, bytes.first == Self.lf { bytes.removeFirst() }
            line += 1
            return true
        }

        mutating func skipBlanks() {
            while let byte = bytes.first, byte == Self.space || byte == Self.tab { bytes.removeFirst() }
        }

        mutating func skipLine() {
            while !bytes.isEmpty, !takeLineEnd() { bytes.removeFirst() }
        }

        mutating func readRecord() -> Outcome {
            var fields: [String] = []
            while true {
                skipBlanks()
                if bytes.first == Self.quote {
                    bytes.removeFirst()
                    var value: [UInt8] = []
                    var closed = false
                    while let byte = bytes.popFirst() {
                        if byte == Self.quote {
                            guard bytes.first == Self.quote else {
                                closed = true
                                break
                            }
                            bytes.removeFirst()
                            value.append(Self.quote)
                        } else {
                            if byte == Self.lf || (byte == Self.cr && bytes.first != Self.lf) { line += 1 }
                            value.append(byte)
                        }
                    }
                    guard closed else {
                        return .malformed("field \(fields.count + 1) opens a quote that is never closed "
                                          + "(end the field with \"; write a quote inside it as \"\")",
                                          resumeAt: .lineAfterStart)
                    }
                    fields.append(String(decoding: value, as: UTF8.self))
                    skipBlanks()
                    if bytes.isEmpty || takeLineEnd() { return .record(fields) }
                    guard bytes.first == Self.comma else {
                        return .malformed("text after the closing quote of field \(fields.count) "
                                          + "(a quoted field ends at its closing quote: quote the whole field)",
                                          resumeAt: .nextLine)
                    }
                    bytes.removeFirst()
                    continue
                }
                var value: [UInt8] = []
                while let byte = bytes.first, byte != Self.comma, byte != Self.cr, byte != Self.lf {
                    if byte == Self.quote {
                        return .malformed("a quote inside unquoted field \(fields.count + 1) "
                                          + "(quote the whole field and double the quote: \"a \"\"b\"\" c\")",
                                          resumeAt: .nextLine)
                    }
                    value.append(byte)
                    bytes.removeFirst()
                }
                while let last = value.last, last == Self.space || last == Self.tab { value.removeLast() }
                fields.append(String(decoding: value, as: UTF8.self))
                if bytes.first == Self.comma {
                    bytes.removeFirst()
                    continue
                }
                _ = takeLineEnd()
                if fields == [""] { return .blank }
                return .record(fields)
            }
        }
    }
}
