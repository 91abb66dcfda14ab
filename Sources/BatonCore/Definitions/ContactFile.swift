import Foundation

/// The bulk enrollment files of `batonctl start WORKFLOW --file`: JSONL, one
/// `{"contact": ID, "attributes": {...}}` per line, or CSV with a header row that has a `contact`
/// column (every other column an attribute). Each bad line is a problem with its line number;
/// the good ones are entries. Nothing here touches a database.
public enum ContactFile {
    /// A contact to enroll and the line it came from.
    public struct Entry: Equatable, Sendable {
        public var line: Int
        public var contact: String
        public var attributes: [String: String]
        public init(line: Int, contact: String, attributes: [String: String]) {
            self.line = line
            self.contact = contact
            self.attributes = attributes
        }
    }

    /// A line that cannot be enrolled, and why (one line of text, without the file name).
    public struct Problem: Equatable, Sendable {
        public var line: Int
        public var message: String
    }

    /// Longest contact id, in UTF-8 bytes: ids are keys of an index, whose entries must stay well
    /// below PostgreSQL's limit of about 2.7 kB.
    public static let maxContactBytes = 512

    /// Parses `text` as CSV when `csv`, else as JSONL.
    public static func parse(_ text: String, csv: Bool) -> (entries: [Entry], problems: [Problem]) {
        csv ? parseCSV(text) : parseJSONL(text)
    }

    /// What is wrong with a contact id and its attributes before they are stored, if anything:
    /// an empty or over-long id, or a NUL character (PostgreSQL text cannot hold one).
    public static func check(contact: String, attributes: [String: String]) -> String? {
        if contact.isEmpty { return "empty contact id" }
        if contact.utf8.count > maxContactBytes {
            return "the contact id is \(contact.utf8.count) bytes long; at most \(maxContactBytes) are allowed"
        }
        if contact.utf8.contains(0) { return "the contact id contains a NUL character (U+0000), which cannot be stored" }
        for (name, value) in attributes.sorted(by: { $0.key < $1.key }) {
            if name.utf8.contains(0) {
                return "an attribute name contains a NUL character (U+0000), which cannot be stored"
            }
            if value.utf8.contains(0) {
                return "attribute \"\(shown(name))\" contains a NUL character (U+0000), which cannot be stored"
            }
        }
        return nil
    }

    // MARK: JSONL

    struct Line: Decodable {
        var contact: String
        var attributes: [String: Scalar]?
    }

    /// A JSON attribute value, kept as text.
    struct Scalar: Decodable {
        var text: String
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let b = try? c.decode(Bool.self) { text = b ? "true" : "false" }
            else if let n = try? c.decode(Int.self) { text = String(n) }
            else if let d = try? c.decode(Double.self) { text = String(d) }
            else { text = try c.decode(String.self) }
        }
    }

    /// One JSON object per line; lines end at LF or CRLF; blank lines are skipped.
    public static func parseJSONL(_ text: String) -> (entries: [Entry], problems: [Problem]) {
        var entries: [Entry] = [], problems: [Problem] = []
        let decoder = JSONDecoder()
        let lines = Array(text.utf8).split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        for (offset, bytes) in lines.enumerated() {
            let number = offset + 1
            let blank: Set<UInt8> = [UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r")]
            if bytes.allSatisfy(blank.contains) { continue }
            guard let line = try? decoder.decode(Line.self, from: Data(bytes)) else {
                problems.append(Problem(line: number, message: "not a JSON object with \"contact\" (a string) and optional "
                                        + "\"attributes\" (an object of strings, numbers and booleans)"))
                continue
            }
            let attributes = (line.attributes ?? [:]).mapValues(\.text)
            if let problem = check(contact: line.contact, attributes: attributes) {
                problems.append(Problem(line: number, message: problem))
                continue
            }
            entries.append(Entry(line: number, contact: line.contact, attributes: attributes))
        }
        return (entries, problems)
    }

    // MARK: CSV

    /// RFC 4180 CSV (see `CSVReader`): a header row with a `contact` column, then one contact per
    /// record. Empty cells set no attribute.
    public static func parseCSV(_ text: String) -> (entries: [Entry], problems: [Problem]) {
        var records = CSVReader.records(text)[...]
        guard let first = records.popFirst() else {
            return ([], [Problem(line: 1, message: "empty file: a header row with a contact column is needed")])
        }
        let header: CSVReader.Record
        switch first {
        case .failure(let malformed):
            return ([], [Problem(line: malformed.line, message: "the header row cannot be read: \(malformed.message)")])
        case .success(let record):
            header = record
        }
        if let problem = headerProblem(header.fields) { return ([], [Problem(line: header.line, message: problem)]) }
        let contactColumn = header.fields.firstIndex(of: "contact")!

        var entries: [Entry] = [], problems: [Problem] = []
        for result in records {
            let record: CSVReader.Record
            switch result {
            case .failure(let malformed):
                problems.append(Problem(line: malformed.line, message: malformed.message))
                continue
            case .success(let read):
                record = read
            }
            guard record.fields.count == header.fields.count else {
                problems.append(Problem(line: record.line,
                                        message: "\(record.fields.count) fields, the header has \(header.fields.count)"))
                continue
            }
            let id = record.fields[contactColumn]
            var attributes: [String: String] = [:]
            for (index, name) in header.fields.enumerated() where index != contactColumn && !record.fields[index].isEmpty {
                attributes[name] = record.fields[index]
            }
            if let problem = check(contact: id, attributes: attributes) {
                problems.append(Problem(line: record.line, message: id.isEmpty ? "empty contact" : problem))
                continue
            }
            entries.append(Entry(line: record.line, contact: id, attributes: attributes))
        }
        return (entries, problems)
    }

    /// `text` as a one-line message may show it: at most 64 characters, line breaks and other
    /// control characters escaped.
    static func shown(_ text: String) -> String { OneLine.shown(text) }

    /// The header needs a `contact` column, and a distinct non-empty name for every column.
    static func headerProblem(_ names: [String]) -> String? {
        guard names.contains("contact") else { return "the header has no `contact` column" }
        var seen = Set<String>()
        for (index, name) in names.enumerated() {
            if name.isEmpty { return "column \(index + 1) of the header has no name" }
            if name.utf8.contains(0) { return "column \(index + 1) of the header contains a NUL character (U+0000)" }
            if !seen.insert(name).inserted { return "the header names column \"\(shown(name))\" twice" }
        }
        return nil
    }
}
