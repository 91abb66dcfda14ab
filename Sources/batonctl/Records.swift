import ArgumentParser
import Baton
import BatonCore
import Foundation

/// `--contact ID` and `--record KIND:ID` name one record; exactly one is given.
func validateRecordOptions(contact: String?, record: String?) throws {
    if (contact == nil) == (record == nil) { throw ValidationError("give either --contact ID or --record KIND:ID") }
    if let contact, let problem = RecordRef.contactIDProblem(contact) { throw ValidationError(problem) }
    if let record { do { _ = try RecordRef.parseOption(record) } catch { throw ValidationError(error.message) } }
}

/// The record `--contact` or `--record` names (after `validateRecordOptions`).
func recordRef(contact: String?, record: String?) throws -> RecordRef {
    if let contact { return RecordRef(kind: .contact, id: contact) }
    do { return try RecordRef.parseOption(record ?? "") } catch { throw BatonError.invalid(error.message) }
}

struct Records: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Records of any kind (contact, company, deal, conversation): show one, set its lifecycle stage, merge duplicates.",
        discussion: """
            Examples:
              batonctl records show company:acme --json
              batonctl records stage deal:D-7 customer --reason "contract signed"
              batonctl records merge C-1 C-2 --reason "same email"
            """,
        subcommands: [Show.self, Stage.self, Merge.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a record: kind, owner, backup, team, status, priority, source, lifecycle stage, company, the reason of its last assignment and its whole ownership and stage history (with that of records merged into it).",
            discussion: "Examples:\n  batonctl records show deal:D-7\n  batonctl records show company:acme --json")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The record, as KIND:ID.") var record: String
        @Flag(help: "Print JSON.") var json = false

        func validate() throws { do { _ = try RecordRef.parseOption(record) } catch { throw ValidationError(error.message) } }

        func run() async throws {
            let ref = try recordRef(contact: nil, record: record)
            let store = try database.store(connections: 1)
            let found = try await store.record(ref)
            await store.pool.close()
            guard let r = found else { throw BatonError.notFound("no record \(ref)") }
            if json { try printJSON(r); return }
            print("\(r.record): owner \(r.owner ?? "-"), backup \(r.backup ?? "-"), team \(r.team ?? "-"), "
                  + "status \(r.status ?? "-"), priority \(r.priority ?? "-"), source \(r.source ?? "-"), lifecycle \(r.lifecycle ?? "-")")
            var facts: [String] = []
            if let company = r.company { facts.append("company \(company)") }
            if let contact = r.contact { facts.append("contact \(contact)") }
            if let reason = r.reason { facts.append("assigned for: \(reason)") }
            if r.pinned { facts.append("pinned (reassigned by hand)") }
            if let target = r.mergedInto { facts.append("merged into \(target)") }
            if !r.merged.isEmpty { facts.append("merged from \(r.merged.joined(separator: ", "))") }
            if !facts.isEmpty { print(facts.joined(separator: "; ")) }
            if !r.attributes.isEmpty {
                print("attributes: " + r.attributes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
            }
            print(table(["AT", "RECORD", "FROM", "TO", "TEAM", "REASON", "INSTANCE"], r.history.map {
                [rfc3339($0.at), $0.record, $0.from ?? "-", $0.to ?? "-", $0.team ?? "-", $0.reason, $0.instance ?? "-"]
            }))
            printStageHistory(r.stages, withRecord: true)
        }
    }

    struct Stage: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set a record's lifecycle stage; workflows that start on that change start.",
            discussion: """
                In one transaction: the record's stage changes, one row is appended to its stage history \
                (reason "stage FROM -> STAGE (manual:YOU: REASON)"), and every workflow whose starts_on \
                matches the change and whose subject is the record's kind starts for it (unless it runs for \
                it already). A record already in STAGE changes nothing. STAGE is one of the team file's \
                lifecycle: stages (default lead, mql, sql, customer, at_risk, churned) or of a workflow's own; \
                anything else is an error and nothing is written, as is a record merged into another \
                (set the stage on the record it was merged into; `records show` names it).

                Examples:
                  batonctl records stage deal:D-7 customer --reason "contract signed"
                  batonctl records stage --contact C-1001 at_risk --reason "no login for 30 days"
                """)
        @OptionGroup var database: DatabaseOptions
        @Argument(help: ArgumentHelp("The record as KIND:ID, then the stage; with --contact, the stage alone.",
                                     valueName: "record-and-stage"))
        var words: [String]
        @Option(help: "A contact's id (instead of contact:ID).") var contact: String?
        @Option(help: "Why (recorded in the stage history).") var reason: String?
        @Flag(help: "Print JSON.") var json = false

        func validate() throws {
            if let contact {
                if let problem = RecordRef.contactIDProblem(contact) { throw ValidationError(problem) }
                guard words.count == 1 else { throw ValidationError("with --contact ID give the stage alone, e.g. --contact C-1 customer") }
            } else {
                guard words.count == 2 else { throw ValidationError("give the record and the stage, e.g. deal:D-7 customer (or --contact ID STAGE)") }
                do { _ = try RecordRef.parseOption(words[0]) } catch { throw ValidationError(error.message) }
            }
            if words.last?.isEmpty == true { throw ValidationError("the stage is empty") }
        }

        func run() async throws {
            let ref = try contact.map { RecordRef(kind: .contact, id: $0) } ?? recordRef(contact: nil, record: words[0])
            let stage = words[words.count - 1]
            let cause = Store.manualStageCause(by: currentUser(), reason: reason)
            let store = try database.store(connections: 1)
            defer { Task { await store.pool.close() } }
            let outcome = try await store.setStage(record: ref.storageKey, to: stage, cause: cause)
            if json { try printJSON(outcome); return }
            print("\(outcome.record): " + describe(outcome))
        }
    }

    struct Merge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Merge a duplicate record into the one to keep.",
            discussion: """
                In one transaction: the dropped record's live instances of a workflow the kept record also runs \
                are cancelled (their timelines say why); its other instances and its signals move to the kept \
                record; the kept record takes the attributes it lacks (and the owner, if it has none). The dropped \
                record stays, marked as merged, with its history under its own id; `records show` of the kept \
                record lists both.

                Example:
                  batonctl records merge contact:C-1001 contact:C-2044 --reason "same email"
                """)
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The record to keep, as KIND:ID.") var keep: String
        @Argument(help: "The duplicate to merge into it, as KIND:ID.") var drop: String
        @Option(help: "Why (recorded in both records' history).") var reason: String
        @Flag(help: "Print JSON.") var json = false

        func validate() throws {
            for text in [keep, drop] {
                do { _ = try RecordRef.parseOption(text) } catch { throw ValidationError(error.message) }
            }
        }

        func run() async throws {
            let keepRef = try recordRef(contact: nil, record: keep), dropRef = try recordRef(contact: nil, record: drop)
            let store = try database.store(connections: 1)
            defer { Task { await store.pool.close() } }
            let report = try await store.merge(keep: keepRef.storageKey, drop: dropRef.storageKey, reason: reason,
                                               by: currentUser())
            if json { try printJSON(report); return }
            print("merged \(report.dropped) into \(report.kept): moved \(report.movedInstances.count) instance(s) and "
                  + "\(report.movedSignals) signal(s); cancelled \(report.cancelledInstances.count) duplicate instance(s)"
                  + (report.cancelledInstances.isEmpty ? "" : " (\(report.cancelledInstances.joined(separator: ", ")))")
                  + "; \(report.history) history row(s) of \(report.dropped) kept under its id")
        }
    }
}

/// The stage history table of `contacts show` and `records show` (nothing when there is none).
func printStageHistory(_ stages: [StageHistoryEntry], withRecord: Bool) {
    guard !stages.isEmpty else { return }
    print("")
    print(table((withRecord ? ["AT", "RECORD"] : ["AT"]) + ["STAGE FROM", "TO", "REASON", "INSTANCE", "STARTED"], stages.map {
        [rfc3339($0.at)] + (withRecord ? [$0.record] : []) + [$0.from ?? "-", $0.to, $0.reason, $0.instance ?? "-",
            $0.started.isEmpty ? "-" : $0.started.map { "\($0.workflow) (\($0.instance))" }.joined(separator: ", ")]
    }))
}
