import ArgumentParser
import Baton
import Foundation

struct Prune: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete finished instances older than a given age, with their timelines, consumed signals and outbox rows; and old CRM write-backs and inbound event ids.",
        discussion: """
            Completed and cancelled instances whose last step is older than --completed-older-than go, in \
            batches of --batch-size, each a short transaction that skips rows others hold (no long locks; \
            safe while workers run). Failed instances stay (they are stuck work), and so does every row of \
            the ownership history (the audit trail). Instances with a delivery still pending are kept until \
            it is made. Delivered outbox rows of no instance (CRM owner write-backs, owner.changed events of \
            reassignments made outside a workflow) go by the same age. Inbound event ids (how a redelivered \
            webhook is recognised) go by the same age but are kept at least 3 days, longer than HubSpot \
            retries a webhook (24 hours). Run it from cron, e.g. nightly.

            Examples:
              batonctl prune --completed-older-than 30d --dry-run
              batonctl prune --completed-older-than 30d
            """)
    @OptionGroup var database: DatabaseOptions
    @Option(help: "Age of the finished instances to delete: 90s, 15m, 4h, 30d.") var completedOlderThan: String
    @Option(help: "Instances per transaction.") var batchSize = 1000
    @Flag(help: "Only count what would be deleted.") var dryRun = false
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        if parseSpan(completedOlderThan) == nil { throw ValidationError("--completed-older-than: bad duration \(completedOlderThan) (e.g. 30d)") }
        if batchSize < 1 || batchSize > 100_000 { throw ValidationError("--batch-size must be between 1 and 100000") }
    }

    func run() async throws {
        let store = try database.store(connections: 1)
        defer { Task { await store.pool.close() } }
        let started = ContinuousClock.now
        let report = try await store.prune(olderThan: Int(parseSpan(completedOlderThan)!), batchSize: batchSize, dryRun: dryRun)
        if json { try printJSON(report); return }
        let verb = dryRun ? "would delete" : "deleted"
        print("\(verb) \(report.instances) instance(s), \(report.events) timeline event(s), \(report.signals) signal(s), "
              + "\(report.outbox) outbox row(s)" + (dryRun ? "" : " in \(report.batches) batch(es), \(ContinuousClock.now - started)"))
        print("\(verb) \(report.write_backs) CRM write-back and owner.changed row(s), \(report.inbound_events) inbound event id(s)")
    }
}

struct EraseContact: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "erase",
        abstract: "Erase a contact's personal data (a privacy request); its id and ownership history stay.",
        discussion: """
            Cancels the contact's live instances, deletes its signals, redacts the messages about it (pending \
            ones are never sent), and empties its attributes. The ownership history keeps the contact's id, \
            owners and reasons as an anonymised audit trail. Recorded under $BATON_USER.

            Example:
              batonctl contacts erase C-1001
            """)
    @OptionGroup var database: DatabaseOptions
    @Argument(help: "The contact id.") var id: String

    func run() async throws {
        let store = try database.store(connections: 1)
        defer { Task { await store.pool.close() } }
        let report = try await store.eraseContact(id, by: currentUser())
        print("erased contact \(id): cancelled \(report.cancelled) instance(s), deleted \(report.signals) signal(s), redacted \(report.messages) message(s)")
    }
}
