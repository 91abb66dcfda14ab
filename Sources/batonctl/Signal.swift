import ArgumentParser
import Baton
import BatonCore
import Foundation

struct SignalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "signal",
        abstract: "Record an external event for a contact and wake the instances waiting for it.",
        discussion: """
            A signal that arrives after enrollment but before a wait for it begins is kept and counts
            when the wait begins. Prints how many waiting instances it woke.

            Example:
              batonctl signal first_touch --contact C-1001 --payload '{"by": "ana"}'
              batonctl signal closed_won --record deal:D-7
            """)

    @OptionGroup var database: DatabaseOptions
    @Argument(help: "The event's name, e.g. first_touch, replied, purchased, at_risk.") var event: String
    @Option(help: "The contact's id.") var contact: String?
    @Option(help: "A record of any kind, as KIND:ID (e.g. deal:D-7).") var record: String?
    @Option(help: "A JSON payload stored with the signal.") var payload: String?

    func validate() throws {
        if let payload, (try? JSONSerialization.jsonObject(with: Data(payload.utf8), options: [.fragmentsAllowed])) == nil {
            throw ValidationError("--payload must be JSON, e.g. '{\"by\": \"ana\"}'")
        }
        if event.isEmpty { throw ValidationError("the event name is empty") }
        try validateRecordOptions(contact: contact, record: record)
    }

    func run() async throws {
        let ref = try recordRef(contact: contact, record: record)
        let store = try database.store(connections: 1)
        let result = try await store.signal(event, contact: ref.storageKey, payload: payload)
        await store.pool.close()
        let name = ref.kind == .contact ? ref.id : ref.description
        print("signal \(result.signal) \(event) for \(name): woke \(result.woken) waiting instance(s)")
    }
}
