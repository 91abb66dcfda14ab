import ArgumentParser
import Baton
import BatonCore
import Foundation

struct Start: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Enroll contacts in a workflow.",
        discussion: """
            Creates the contact if it is new (attributes are merged into the contact's). A contact with a
            live instance of the workflow keeps it: the existing instance's id is printed instead.
            With --file, a JSONL file has one {"contact": ID, "attributes": {...}} per line; a CSV file has
            a header row with a `contact` column, every other column an attribute. Bad lines are reported
            with their line number and skipped, or with --strict fail the whole file before anything is stored.

            Examples:
              batonctl start inbound-lead --contact C-1001 --attr country=DE --attr tier=enterprise
              batonctl start inbound-lead --file examples/contacts.jsonl
            """)

    @OptionGroup var database: DatabaseOptions
    @Argument(help: "The workflow's name.") var workflow: String
    @Option(help: "The contact's id.") var contact: String?
    @Option(name: .customLong("attr"), help: "An attribute as key=value (repeatable).") var attributes: [String] = []
    @Option(help: "Enroll many contacts from a .jsonl or .csv file.") var file: String?
    @Flag(help: "With --file: fail the whole file on the first bad line.") var strict = false
    @Option(help: "With --file: contacts per transaction.") var batchSize = 500
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        if (contact == nil) == (file == nil) { throw ValidationError("give either --contact ID or --file FILE") }
        for attribute in attributes where !attribute.contains("=") {
            throw ValidationError("--attr takes key=value, got \(attribute)")
        }
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
    }

    func run() async throws {
        let store = try database.store(connections: 1)
        defer { Task { await store.pool.close() } }
        var requests: [EnrollmentRequest]
        if let contact {
            var attrs: [String: String] = [:]
            for attribute in attributes {
                let parts = attribute.split(separator: "=", maxSplits: 1)
                attrs[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
            }
            requests = [EnrollmentRequest(contact: contact, attributes: attrs)]
        } else {
            let path = file!
            let parsed = try ContactFile.parse(try readInputFile(path), csv: path.lowercased().hasSuffix(".csv"))
            for problem in parsed.problems {
                FileHandle.standardError.write(Data("\(path):\(problem.line): \(problem.message)\(strict ? "" : " (skipped)")\n".utf8))
            }
            if strict, !parsed.problems.isEmpty {
                throw BatonError.invalid("\(parsed.problems.count) bad line(s) in \(path); nothing was enrolled (--strict)")
            }
            requests = parsed.requests
        }
        var results: [Enrollment] = []
        var index = 0
        while index < requests.count {
            let batch = Array(requests[index..<min(index + batchSize, requests.count)])
            results += try await store.enroll(batch, in: workflow)
            index += batchSize
        }
        if json {
            struct Item: Encodable { var contact: String; var instance: String; var created: Bool }
            try printJSON(results.map { Item(contact: $0.contact, instance: String($0.instance), created: $0.created) })
            return
        }
        if contact != nil, let result = results.first {
            print(result.created
                  ? "started instance \(result.instance) of \(workflow) for \(result.contact)"
                  : "contact \(result.contact) already has live instance \(result.instance) of \(workflow); not started again")
        } else {
            let created = results.filter(\.created).count
            print("enrolled \(created) contact(s) in \(workflow); \(results.count - created) already had a live instance")
        }
    }
}

/// Parses the bulk enrollment formats.
enum ContactFile {
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

    struct Problem { var line: Int; var message: String }

    static func parse(_ text: String, csv: Bool) throws -> (requests: [EnrollmentRequest], problems: [Problem]) {
        csv ? parseCSV(text) : parseJSONL(text)
    }

    static func parseJSONL(_ text: String) -> ([EnrollmentRequest], [Problem]) {
        var requests: [EnrollmentRequest] = [], problems: [Problem] = []
        for (offset, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let line = try? JSONDecoder().decode(Line.self, from: Data(trimmed.utf8)) else {
                problems.append(Problem(line: offset + 1, message: "not a JSON object with \"contact\" (a string) and optional \"attributes\" (an object of scalars)")); continue
            }
            guard !line.contact.isEmpty else {
                problems.append(Problem(line: offset + 1, message: "empty \"contact\"")); continue
            }
            let id = line.contact
            let attributes = (line.attributes ?? [:]).mapValues(\.text)
            requests.append(EnrollmentRequest(contact: id, attributes: attributes))
        }
        return (requests, problems)
    }

    static func parseCSV(_ text: String) -> ([EnrollmentRequest], [Problem]) {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasSuffix("\r") ? String($0.dropLast()) : String($0) }
        while lines.last?.isEmpty == true { lines.removeLast() }
        guard let headerLine = lines.first else { return ([], [Problem(line: 1, message: "empty file: a header row with a contact column is needed")]) }
        let header = fields(headerLine)
        guard let contactColumn = header.firstIndex(of: "contact") else {
            return ([], [Problem(line: 1, message: "the header has no `contact` column")])
        }
        var requests: [EnrollmentRequest] = [], problems: [Problem] = []
        for (offset, line) in lines.enumerated().dropFirst() where !line.isEmpty {
            let cells = fields(line)
            guard cells.count == header.count else {
                problems.append(Problem(line: offset + 1, message: "\(cells.count) fields, the header has \(header.count)")); continue
            }
            let id = cells[contactColumn]
            guard !id.isEmpty else { problems.append(Problem(line: offset + 1, message: "empty contact")); continue }
            var attributes: [String: String] = [:]
            for (i, name) in header.enumerated() where i != contactColumn && !cells[i].isEmpty { attributes[name] = cells[i] }
            requests.append(EnrollmentRequest(contact: id, attributes: attributes))
        }
        return (requests, problems)
    }

    /// Splits one CSV line, honouring double quotes.
    static func fields(_ line: String) -> [String] {
        var fields: [String] = [], current = "", quoted = false
        var chars = Array(line)[...]
        while let c = chars.popFirst() {
            if quoted {
                if c == "\"" {
                    if chars.first == "\"" { current.append("\""); chars.removeFirst() } else { quoted = false }
                } else { current.append(c) }
            } else if c == "\"" { quoted = true }
            else if c == "," { fields.append(current); current = "" }
            else { current.append(c) }
        }
        fields.append(current)
        return fields.map { $0.trimmingCharacters(in: .whitespaces) }
    }
}
