import ArgumentParser
import Baton
import Foundation

struct Outbox: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inspect and retry notification deliveries.",
        discussion: """
            Examples:
              batonctl outbox list --state dead
              batonctl outbox retry --all-dead
            """,
        subcommands: [List.self, RetryDead.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List deliveries, newest first.",
            discussion: "Example:\n  batonctl outbox list --state dead --json")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "Only this state: pending, delivering, delivered, dead, suppressed.") var state: String?
        @Option(help: "At most this many.") var limit = 100
        @Flag(help: "Print JSON.") var json = false

        func validate() throws {
            let states = ["pending", "delivering", "delivered", "dead", "suppressed"]
            if let state, !states.contains(state) { throw ValidationError("--state must be one of \(states.joined(separator: ", "))") }
        }

        func run() async throws {
            let store = try database.store(connections: 1)
            let rows = try await store.outbox(status: state, limit: limit)
            await store.pool.close()
            if json { try printJSON(rows); return }
            print(table(["ID", "STATE", "CHANNEL", "TO", "TRIES", "INSTANCE", "ERROR"], rows.map {
                [$0.id, $0.status, $0.channel, $0.target ?? "-", String($0.attempts), $0.instance ?? "-", $0.last_error ?? ""]
            }, wrappingLastAt: 60))
        }
    }

    struct RetryDead: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "retry",
            abstract: "Send dead deliveries again (with a fresh attempt budget and the same idempotency key).",
            discussion: "Examples:\n  batonctl outbox retry 17\n  batonctl outbox retry --all-dead")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The outbox id.") var id: String?
        @Flag(help: "Retry every dead delivery.") var allDead = false

        func validate() throws {
            if (id == nil) == !allDead { throw ValidationError("give an outbox id or --all-dead") }
        }

        func run() async throws {
            let store = try database.store(connections: 1)
            defer { Task { await store.pool.close() } }
            var target: Int?
            if let id {
                guard let number = Int(id) else { throw BatonError.invalid("outbox ids are numbers, got \(id)") }
                target = number
            }
            let retried = try await store.retryOutbox(id: target)
            if let id, retried.isEmpty { throw BatonError.notFound("no dead delivery \(id)") }
            print("retrying \(retried.count) delivery(ies)")
        }
    }
}
