import ArgumentParser
import Baton
import BatonCore
import Foundation

struct Start: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Enroll contacts in a workflow.",
        discussion: """
            Creates the contact if it is new (attributes are merged into the contact's). A contact with a \
            live instance of the workflow keeps it: the existing instance's id is printed instead. \
            With --file, a JSONL file has one {"contact": ID, "attributes": {...}} per line; a CSV file has \
            a header row with a `contact` column, every other column an attribute. Bad lines are reported \
            with their line number and skipped, or with --strict fail the whole file before anything is stored \
            (and a good file is stored in one transaction: all of it or nothing). CSV follows RFC 4180: quoted \
            fields may hold commas, line breaks and doubled quotes.

            Examples:
              batonctl start inbound-lead --contact C-1001 --attr country=DE --attr tier=enterprise
              batonctl start new-deal --record deal:D-7 --attr company=acme
              batonctl start inbound-lead --file examples/contacts.jsonl
            """)

    @OptionGroup var database: DatabaseOptions
    @Argument(help: "The workflow's name.") var workflow: String
    @Option(help: "The contact's id.") var contact: String?
    @Option(help: "A record of the workflow's subject kind, as KIND:ID (contact, company, deal, conversation).")
    var record: String?
    @Option(name: .customLong("attr"), help: "An attribute as key=value (repeatable).") var attributes: [String] = []
    @Option(help: "Enroll many contacts from a .jsonl or .csv file.") var file: String?
    @Flag(help: "With --file: enroll nothing unless every line is good, and the whole file in one transaction.")
    var strict = false
    @Option(help: "With --file, without --strict: contacts per transaction.") var batchSize = 500
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        if [contact, record, file].compactMap({ $0 }).count != 1 {
            throw ValidationError("give one of --contact ID, --record KIND:ID or --file FILE")
        }
        if let contact, let problem = RecordRef.contactIDProblem(contact) { throw ValidationError(problem) }
        if let record { do { _ = try RecordRef.parseOption(record) } catch { throw ValidationError(error.message) } }
        for attribute in attributes where !attribute.contains("=") {
            throw ValidationError("--attr takes key=value, got \(attribute)")
        }
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
    }

    func run() async throws {
        let store = try database.store(connections: 1)
        defer { Task { await store.pool.close() } }
        var requests: [EnrollmentRequest]
        if let contact = try contact ?? record.map({ try RecordRef.parseOption($0).storageKey }) {
            var attrs: [String: String] = [:]
            for attribute in attributes {
                let parts = attribute.split(separator: "=", maxSplits: 1)
                attrs[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
            }
            if let problem = ContactFile.check(contact: contact, attributes: attrs) { throw BatonError.invalid(problem) }
            requests = [EnrollmentRequest(contact: contact, attributes: attrs)]
        } else {
            let path = file!
            let parsed = ContactFile.parse(try readInputFile(path), csv: path.lowercased().hasSuffix(".csv"))
            for problem in parsed.problems {
                FileHandle.standardError.write(Data("\(path):\(problem.line): \(problem.message)\(strict ? "" : " (skipped)")\n".utf8))
            }
            if strict, !parsed.problems.isEmpty {
                throw BatonError.invalid("\(parsed.problems.count) bad line(s) in \(path); nothing was enrolled (--strict)")
            }
            requests = parsed.entries.map { EnrollmentRequest(contact: $0.contact, attributes: $0.attributes) }
        }
        var results: [Enrollment] = []
        if strict {
            // All or nothing: the whole file in one statement, so one transaction.
            results = try await store.enroll(requests, in: workflow, summaries: false)
        } else {
            var index = 0
            while index < requests.count {
                let batch = Array(requests[index..<min(index + batchSize, requests.count)])
                results += try await store.enroll(batch, in: workflow, summaries: false)
                index += batchSize
            }
        }
        if json {
            struct Item: Encodable { var contact: String; var instance: String; var created: Bool }
            try printJSON(results.map { Item(contact: $0.contact, instance: String($0.instance), created: $0.created) })
            return
        }
        if file == nil, let result = results.first {
            let given = requests.first.map { !$0.attributes.isEmpty } ?? false
            let ref = RecordRef(storageKey: result.contact)
            let name = ref.kind == .contact ? "contact \(result.contact)" : "\(ref)"
            print(result.created
                  ? "started instance \(result.instance) of \(workflow) for \(ref.kind == .contact ? result.contact : ref.description)"
                  : "\(name) already has live instance \(result.instance) of \(workflow); not started again"
                    + (given ? " (attributes updated; the instance keeps its path)" : ""))
        } else {
            let created = results.filter(\.created).count
            print("enrolled \(created) contact(s) in \(workflow); \(results.count - created) already had a live instance"
                  + (results.count > created ? " (their attributes were updated; those instances keep their paths)" : ""))
        }
    }
}
