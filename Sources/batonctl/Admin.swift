import ArgumentParser
import Baton
import BatonCore
import Foundation

/// Who is acting, for timelines and ownership history: $BATON_USER, else $USER.
func currentUser() -> String {
    let env = ProcessInfo.processInfo.environment
    return env["BATON_USER"] ?? env["USER"] ?? "admin"
}

func instanceID(_ text: String) throws -> Int {
    guard let id = Int(text), id > 0 else { throw BatonError.invalid("instance ids are positive numbers, got \(text)") }
    return id
}

struct Stuck: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List instances that need a human, why, and the command that fixes each.",
        discussion: """
            Reasons: failed (retries exhausted), lease_expired (a worker died holding it), overdue (due or \
            past its deadline but no worker ran it: are workers down?), unowned (queued, nobody eligible), \
            delivery_failed (a dead delivery; one of no instance, such as a CRM write-back or a scheduled \
            report, has an empty instance), orphaned_version (its definition cannot be loaded).

            Example:
              batonctl stuck --older-than 5m --json
            """)
    @OptionGroup var database: DatabaseOptions
    @Option(help: "How long past due before work counts as stuck, e.g. 30s, 5m.") var olderThan = "30s"
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        if parseSpan(olderThan) == nil { throw ValidationError("--older-than: bad duration \(olderThan) (e.g. 90s, 15m, 4h, 3d)") }
    }

    func run() async throws {
        let store = try database.store(connections: 1)
        let items = try await store.stuck(olderThan: Int(parseSpan(olderThan)!))
        await store.pool.close()
        if json { try printJSON(items); return }
        if items.isEmpty { print("nothing is stuck"); return }
        print(table(["INSTANCE", "WORKFLOW", "CONTACT", "REASON", "SINCE", "DETAIL"], items.map {
            [$0.instance, $0.workflow, $0.contact, $0.reason, rfc3339($0.since), $0.detail]
        }, wrappingLastAt: 60))
        print("")
        for item in items { print("\(item.instance) (\(item.reason)): \(item.suggestion)") }
    }
}

struct Retry: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run failed instances again from the step they failed at.",
        discussion: "Examples:\n  batonctl retry 42\n  batonctl retry --all-failed --workflow inbound-lead")
    @OptionGroup var database: DatabaseOptions
    @Argument(help: "The instance id.") var id: String?
    @Flag(help: "Retry every failed instance (of --workflow, if given).") var allFailed = false
    @Option(help: "With --all-failed: only this workflow.") var workflow: String?

    func validate() throws {
        if (id == nil) == !allFailed { throw ValidationError("give an instance id or --all-failed") }
        if workflow != nil && !allFailed { throw ValidationError("--workflow goes with --all-failed") }
    }

    func run() async throws {
        let store = try database.store(connections: 1)
        defer { Task { await store.pool.close() } }
        if let target = try id.map(instanceID) {
            try await store.retryFailed(instance: target, by: currentUser())
            print("retrying 1 instance(s): \(target)")
            return
        }
        let retried = try await store.retry(instance: nil, workflow: workflow, by: currentUser())
        print("retrying \(retried.count) instance(s)\(retried.isEmpty ? "" : ": " + retried.map(String.init).joined(separator: ", "))")
    }
}

struct Cancel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Cancel an instance (also one a worker is running: that worker's commit is refused).",
        discussion: "Example:\n  batonctl cancel 42 --reason \"duplicate lead\"")
    @OptionGroup var database: DatabaseOptions
    @Argument(help: "The instance id.") var id: String
    @Option(help: "Why, for the timeline.") var reason: String?

    func run() async throws {
        let store = try database.store(connections: 1)
        defer { Task { await store.pool.close() } }
        try await store.cancel(instance: try instanceID(id), by: currentUser(), reason: reason)
        print("cancelled instance \(id)")
    }
}

struct Resume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Move an instance to a step of its workflow version and run it from there (recorded as manual).",
        discussion: "Example:\n  batonctl resume 42 --at escalate-lead")
    @OptionGroup var database: DatabaseOptions
    @Argument(help: "The instance id.") var id: String
    @Option(help: "The step to run next.") var at: String

    func run() async throws {
        let store = try database.store(connections: 1)
        defer { Task { await store.pool.close() } }
        try await store.resume(instance: try instanceID(id), at: at, by: currentUser())
        print("instance \(id) resumes at \(at)")
    }
}

struct Contacts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inspect contacts; erase one for a privacy request.",
        discussion: """
            Examples:
              batonctl contacts show C-1001
              batonctl contacts erase C-1001
            """,
        subcommands: [Show.self, EraseContact.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a contact: attributes, owner, backup, team, lifecycle stage and the whole ownership and stage history.",
            discussion: "Example:\n  batonctl contacts show C-1001 --json")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The contact id.") var id: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let store = try database.store(connections: 1)
            let found = try await store.contact(id)
            await store.pool.close()
            guard let contact = found else { throw BatonError.notFound("no contact \(id)") }
            if json { try printJSON(contact); return }
            print("contact \(contact.id): owner \(contact.owner ?? "-"), backup \(contact.backup ?? "-"), team \(contact.team ?? "-"), lifecycle \(contact.lifecycle ?? "-")")
            if let survivor = contact.mergedInto.map({ RecordRef(storageKey: $0) }) {
                print("merged into \(survivor): its instances, signals and history are shown by `batonctl records show \(survivor)`")
            }
            if !contact.attributes.isEmpty {
                print("attributes: " + contact.attributes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
            }
            print(table(["AT", "FROM", "TO", "TEAM", "REASON", "INSTANCE"], contact.history.map {
                [rfc3339($0.at), $0.from ?? "-", $0.to ?? "-", $0.team ?? "-", $0.reason, $0.instance ?? "-"]
            }))
            printStageHistory(contact.stages, withRecord: false)
        }
    }
}

struct Reassign: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Give a contact to a member by hand (recorded as manual:<you> in the ownership history).",
        discussion: """
            A reassigned record is pinned: it keeps this owner when its company's owner changes. Reassigning a \
            company moves its contacts and deals that had the company's old owner (and are not pinned) along.

            Examples:
              batonctl reassign --contact C-1001 --to ben --reason "speaks German"
              batonctl reassign --record company:acme --to maria --reason "new account owner"
            """)
    @OptionGroup var database: DatabaseOptions
    @Option(help: "The contact id.") var contact: String?
    @Option(help: "A record of any kind, as KIND:ID (e.g. company:acme).") var record: String?
    @Option(help: "The member id.") var to: String
    @Option(help: "Why.") var reason: String

    func validate() throws { try validateRecordOptions(contact: contact, record: record) }

    func run() async throws {
        let ref = try recordRef(contact: contact, record: record)
        let store = try database.store(connections: 1)
        defer { Task { await store.pool.close() } }
        let followed = try await store.reassignByHand(contact: ref.storageKey, to: to, reason: reason, by: currentUser())
        print("\(ref.kind == .contact ? ref.id : ref.description) now belongs to \(to)"
              + (ref.kind == .company ? "; \(followed) of its record(s) followed (\(Store.companyOwnerChangedReason))" : ""))
    }
}

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Find ownership problems, each with the command that fixes it.",
        discussion: """
            Kinds: unowned, queued_too_long, inactive_owner, out_of_office_owner, over_capacity, high_load, \
            unusual_volume (new assignments in the last 7 days above --volume-multiple times the team median), \
            territory_conflict (the workflow's routing rules, re-run on the contact's attributes now, would not \
            choose its owner), stale (no activity on a live contact for --stale-days), duplicate (same email).

            Example:
              batonctl audit --queued-longer-than 1h --stale-days 14 --volume-multiple 3 --json
            """)
    @OptionGroup var database: DatabaseOptions
    @Option(help: "Queued contacts older than this are reported as queued_too_long.") var queuedLongerThan = "1h"
    @Option(help: "Live contacts with no activity for this many days are reported as stale.")
    var staleDays = AuditOptions.defaultStaleDays
    @Option(help: "Members with more new assignments this week than this multiple of their team's median are reported as unusual_volume.")
    var volumeMultiple = AuditOptions.defaultVolumeMultiple
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        if parseSpan(queuedLongerThan) == nil { throw ValidationError("--queued-longer-than: bad duration \(queuedLongerThan)") }
        if staleDays < 1 { throw ValidationError("--stale-days must be at least 1") }
        if !(volumeMultiple > 0) || !volumeMultiple.isFinite { throw ValidationError("--volume-multiple must be a number above 0, e.g. 3") }
    }

    func run() async throws {
        let store = try database.store(connections: 1)
        let findings = try await store.audit(AuditOptions(
            queuedLongerThan: Int(parseSpan(queuedLongerThan)!), staleDays: staleDays, volumeMultiple: volumeMultiple))
        await store.pool.close()
        if json { try printJSON(findings); return }
        if findings.isEmpty { print("no ownership problems found"); return }
        print(table(["KIND", "CONTACT", "MEMBER", "TEAM", "DETAIL"], findings.map {
            [$0.kind, $0.contact ?? "-", $0.member ?? "-", $0.team ?? "-", $0.detail]
        }))
        print("\nto fix:")
        for finding in findings where !finding.suggestion.isEmpty { print("  " + finding.suggestion) }
    }
}
