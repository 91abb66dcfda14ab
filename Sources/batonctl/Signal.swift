import ArgumentParser
import Baton
import BatonCore
import Foundation

struct SignalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "signal",
        abstract: "Record an external event for a contact and wake the instances waiting for it.",
        discussion: """
            A signal that arrives after enrollment but before a wait for it begins is kept and counts \
            when the wait begins. Prints how many waiting instances it woke.

            With --file, many contacts at once: a .jsonl file with one {"contact": ID, "attributes": {...}} \
            per line or a .csv file with a `contact` column (the formats `start --file` reads); a line's \
            attributes become its signal's payload. Bad lines and unknown contacts are reported with their \
            line number and skipped; the rest is stored in transactions of --batch-size signals.

            Examples:
              batonctl signal first_touch --contact C-1001 --payload '{"by": "ana"}'
              batonctl signal closed_won --record deal:D-7
              batonctl signal first_touch --file touched.csv
            """)

    @OptionGroup var database: DatabaseOptions
    @Argument(help: "The event's name, e.g. first_touch, replied, purchased, at_risk.") var event: String
    @Option(help: "The contact's id.") var contact: String?
    @Option(help: "A record of any kind, as KIND:ID (e.g. deal:D-7).") var record: String?
    @Option(help: "A JSON payload stored with the signal.") var payload: String?
    @Option(help: "Signal every contact of a .jsonl or .csv file (see above).") var file: String?
    @Option(help: "With --file: signals per transaction.") var batchSize = 500

    func validate() throws {
        if let payload, (try? JSONSerialization.jsonObject(with: Data(payload.utf8), options: [.fragmentsAllowed])) == nil {
            throw ValidationError("--payload must be JSON, e.g. '{\"by\": \"ana\"}'")
        }
        if event.isEmpty { throw ValidationError("the event name is empty") }
        if let file {
            if contact != nil || record != nil || payload != nil {
                throw ValidationError("--file takes the contacts and payloads from the file; leave out --contact, --record and --payload")
            }
            if file.isEmpty { throw ValidationError("--file needs a path") }
            if batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
            return
        }
        try validateRecordOptions(contact: contact, record: record)
    }

    func run() async throws {
        if let file { return try await signalFile(file) }
        let ref = try recordRef(contact: contact, record: record)
        let store = try database.store(connections: 1)
        let result = try await store.signal(event, contact: ref.storageKey, payload: payload)
        await store.pool.close()
        let name = ref.kind == .contact ? ref.id : ref.description
        print("signal \(result.signal) \(event) for \(name): woke \(result.woken) waiting instance(s)")
    }
}

extension SignalCommand {
    /// Signals every contact of `path`, `batchSize` per transaction; reports bad lines and unknown
    /// contacts on stderr with their line numbers, then one summary line.
    func signalFile(_ path: String) async throws {
        let parsed = ContactFile.parse(try readInputFile(path), csv: path.lowercased().hasSuffix(".csv"))
        for problem in parsed.problems {
            FileHandle.standardError.write(Data("\(path):\(problem.line): \(problem.message) (skipped)\n".utf8))
        }
        let store = try database.store(connections: 1)
        defer { Task { await store.pool.close() } }
        var stored = 0, woken = 0, unknown = 0
        var index = 0
        let entries = parsed.entries
        while index < entries.count {
            let batch = entries[index..<min(index + batchSize, entries.count)]
            let requests = try batch.map { entry in
                SignalRequest(contact: entry.contact, payload: entry.attributes.isEmpty ? nil : try jsonText(entry.attributes))
            }
            for (entry, outcome) in zip(batch, try await store.signalMany(event, requests)) {
                if outcome.signal == nil {
                    unknown += 1
                    FileHandle.standardError.write(Data("\(path):\(entry.line): unknown contact \(entry.contact) (skipped)\n".utf8))
                } else {
                    stored += 1
                    woken += outcome.woken
                }
            }
            index += batchSize
        }
        print("stored \(stored) \(event) signal(s), woke \(woken) waiting instance(s)"
              + (parsed.problems.count + unknown > 0 ? "; skipped \(parsed.problems.count + unknown) line(s)" : ""))
    }

    private func jsonText(_ attributes: [String: String]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(attributes), as: UTF8.self)
    }
}
