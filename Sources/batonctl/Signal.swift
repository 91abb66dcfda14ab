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

            A payload with "lifecycle": STAGE also moves the record to that lifecycle stage, in the same \
            transaction: one stage history row, and the workflows whose starts_on matches the change start \
            (see `records stage`). An unknown stage is an error and stores nothing.

            With --file, many contacts at once: a .jsonl file with one {"contact": ID, "attributes": {...}} \
            per line or a .csv file with a `contact` column (the formats `start --file` reads); a line's \
            attributes become its signal's payload. Bad lines and unknown contacts are reported with their \
            line number and skipped; the rest is stored in transactions of --batch-size signals.

            Examples:
              batonctl signal first_touch --contact C-1001 --payload '{"by": "ana"}'
              batonctl signal closed_won --record deal:D-7
              batonctl signal purchased --contact C-1001 --payload '{"lifecycle": "customer", "amount": 1200}'
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
        let result = try await store.sendSignal(event, contact: ref.storageKey, payload: payload)
        await store.pool.close()
        let name = ref.kind == .contact ? ref.id : ref.description
        print("signal \(result.signal) \(event) for \(name): woke \(result.woken) waiting instance(s)"
              + (result.stage.map { "; " + describe($0) } ?? ""))
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
        var stored = 0, woken = 0, unknown = 0, staged = 0, started = 0
        var index = 0
        // Lines whose lifecycle is no stage are skipped here, so they cannot fail a whole batch.
        var entries = parsed.entries
        var badStages = 0
        if entries.contains(where: { $0.attributes["lifecycle"] != nil }) {
            let settable = try await store.lifecycleStages().settable
            entries = entries.filter { entry in
                guard let stage = entry.attributes["lifecycle"], let problem = Lifecycle.problem(with: stage, stages: settable)
                else { return true }
                badStages += 1
                FileHandle.standardError.write(Data("\(path):\(entry.line): \(problem) (skipped)\n".utf8))
                return false
            }
        }
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
                    if outcome.stage?.changed == true { staged += 1 }
                    started += outcome.stage?.started.count ?? 0
                }
            }
            index += batchSize
        }
        let skipped = parsed.problems.count + unknown + badStages
        print("stored \(stored) \(event) signal(s), woke \(woken) waiting instance(s)"
              + (staged > 0 ? "; moved \(staged) record(s) to a new stage, started \(started) instance(s)" : "")
              + (skipped > 0 ? "; skipped \(skipped) line(s)" : ""))
    }

    private func jsonText(_ attributes: [String: String]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(attributes), as: UTF8.self)
    }
}

/// `stage customer -> at_risk; started retention-save (instance 12)`, or `stage already at_risk`.
func describe(_ stage: StageOutcome) -> String {
    guard stage.changed else { return "stage already \(stage.to)" }
    return "stage \(stage.from ?? "-") -> \(stage.to)"
        + (stage.started.isEmpty ? "" : "; started " + stage.started.map { "\($0.workflow) (instance \($0.instance))" }.joined(separator: ", "))
}
