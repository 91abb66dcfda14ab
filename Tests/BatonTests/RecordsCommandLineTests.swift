import Baton
import BatonCore
import BatonTesting
import Foundation
import Testing

/// Records of several kinds, account inheritance and merging, through `batonctl` against a real database.
@Suite("Records through the command line")
struct RecordsCommandLineTests {
    func ctl(_ engine: Engine, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await runProgram(try Engine.binary("batonctl"), arguments,
                             environment: ["DATABASE_URL": engine.config.urlForChildren, "BATON_USER": "tester"])
    }

    func json(_ text: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] ?? [:]
    }

    /// Companies get an owner by round robin in sales, then wait for a renewal; a renewal hands the
    /// company to retention.
    static let companies = """
        name: accounts
        subject: company
        start: route
        steps:
          route:
            assign: { team: sales, strategy: round_robin }
            next: renewal
          renewal:
            wait_for_sla: { event: renewed, within: 30d }
            on_met: to-retention
            on_breach: done
          to-retention:
            handoff: { team: retention, strategy: round_robin, reason: renewed, stage: customer }
            next: done
          done:
            end: {}
        """
    /// Contacts take their company's owner (else round robin in sales), then wait for a first touch.
    static let contacts = """
        name: b2b-lead
        start: route
        steps:
          route:
            assign: { team: sales, strategy: account, otherwise: round_robin }
            next: touch
          touch:
            wait_for_sla: { event: first_touch, within: 30d }
            on_met: done
            on_breach: done
          done:
            end: {}
        """
    /// Deals, for the subject checks.
    static let deals = """
        name: new-deal
        subject: deal
        start: route
        steps:
          route:
            assign: { team: sales, strategy: account }
            next: won
          won:
            wait_for_sla: { event: closed_won, within: 30d }
            on_met: done
            on_breach: done
          done:
            end: {}
        """
    static let other = """
        name: nurture
        start: wait
        steps:
          wait:
            wait_for_sla: { event: replied, within: 30d }
            on_met: done
            on_breach: done
          done:
            end: {}
        """

    @Test func recordsOfEachKindStartSignalAndShow() async throws {
        let engine = try await Engine.make("recordkinds", workflows: [Self.companies, Self.contacts, Self.deals])
        defer { Task { await engine.close() } }
        #expect(try await ctl(engine, ["start", "accounts", "--record", "company:acme"]).status == 0)
        try await engine.drain()
        let deal = try await ctl(engine, ["start", "new-deal", "--record", "deal:D-7", "--attr", "company=acme",
                                          "--attr", "status=open", "--attr", "source=hubspot"])
        #expect(deal.status == 0, "\(deal.output)")
        #expect(deal.output.hasPrefix("started instance "))
        #expect(deal.output.hasSuffix(" of new-deal for deal:D-7\n"))
        try await engine.drain()

        let show = try await ctl(engine, ["records", "show", "deal:D-7", "--json"])
        #expect(show.status == 0, "\(show.output)")
        let record = try json(show.output)
        #expect(record["record"] as? String == "deal:D-7")
        #expect(record["kind"] as? String == "deal")
        #expect(record["company"] as? String == "company:acme")
        #expect(record["status"] as? String == "open")
        #expect(record["source"] as? String == "hubspot")
        let companyOwner = try json(try await ctl(engine, ["records", "show", "company:acme", "--json"]).output)["owner"] as? String
        #expect(companyOwner != nil)
        #expect(record["owner"] as? String == companyOwner)  // deal created: deal owner = company owner
        #expect(record["reason"] as? String == "account: owner of company:acme")

        let signal = try await ctl(engine, ["signal", "closed_won", "--record", "deal:D-7"])
        #expect(signal.output == "signal 1 closed_won for deal:D-7: woke 1 waiting instance(s)\n", "\(signal.output)")

        // A workflow runs on one kind; the error says which and how to start it.
        let wrongKind = try await ctl(engine, ["start", "new-deal", "--contact", "C-1"])
        #expect(wrongKind.status == 1)
        #expect(wrongKind.output.contains("workflow new-deal runs on deal records (subject: deal); contact:C-1 is a contact: start it with --record deal:ID"))
        let dealInContactFlow = try await ctl(engine, ["start", "b2b-lead", "--record", "deal:D-8"])
        #expect(dealInContactFlow.status == 1)
        #expect(dealInContactFlow.output.contains("workflow b2b-lead runs on contact records (subject: contact); deal:D-8 is a deal"))
        let prefixed = try await ctl(engine, ["start", "b2b-lead", "--contact", "deal:D-9"])
        #expect(prefixed.status != 0)
        #expect(prefixed.output.contains("use --record deal:D-9"))
        #expect(try await engine.scalar("SELECT count(*) FROM contacts WHERE id IN ('C-1', 'deal:D-8', 'deal:D-9')") == 0)
        let badRecord = try await ctl(engine, ["records", "show", "lead:L-1"])
        #expect(badRecord.status != 0)
        #expect(badRecord.output.contains("a record is KIND:ID with KIND one of contact|company|deal|conversation"))
        #expect(try await ctl(engine, ["contacts", "show", "deal:D-7"]).status == 0)  // contacts show stays
    }

    /// The issue's acceptance test: a company with 50 inheriting contacts changes owner: 50 history
    /// rows, and the contacts pinned by a manual reassignment keep their owner.
    @Test func fiftyContactsFollowTheirCompanysNewOwnerExceptPinnedOnes() async throws {
        let engine = try await Engine.make("recordfollow", workflows: [Self.companies, Self.contacts])
        defer { Task { await engine.close() } }
        #expect(try await ctl(engine, ["start", "accounts", "--record", "company:acme"]).status == 0)
        try await engine.drain()
        let first: String = try await engine.scalar("SELECT owner FROM contacts WHERE id = 'company:acme'")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(getpid())-acme.jsonl").path
        try (1...52).map { #"{"contact": "A-\#($0)", "attributes": {"company": "acme"}}"# }.joined(separator: "\n")
            .write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try await ctl(engine, ["start", "b2b-lead", "--file", file]).status == 0)
        try await engine.drain()
        #expect(try await engine.scalar("SELECT count(*) FROM contacts WHERE attributes ->> 'company' = 'acme' AND owner = $1", [first]) == 52)

        let pinned = first == "m5" ? "m6" : "m5"
        for id in ["A-7", "A-8"] {
            #expect(try await ctl(engine, ["reassign", "--contact", id, "--to", pinned, "--reason", "asked for"]).status == 0)
        }
        let next = first == "m4" ? "m3" : "m4"
        let moved = try await ctl(engine, ["reassign", "--record", "company:acme", "--to", next, "--reason", "new account owner"])
        #expect(moved.output == "company:acme now belongs to \(next); 50 of its record(s) followed (company owner changed)\n",
                "\(moved.output)")
        #expect(try await engine.scalar("SELECT count(*) FROM ownership_history WHERE reason = 'company owner changed'") == 50)
        #expect(try await engine.scalar("SELECT count(*) FROM contacts WHERE attributes ->> 'company' = 'acme' AND owner = $1", [next]) == 50)
        #expect(try await engine.scalar("SELECT count(*) FROM contacts WHERE id IN ('A-7', 'A-8') AND owner = $1", [pinned]) == 2)
        let history = try json(try await ctl(engine, ["records", "show", "contact:A-9", "--json"]).output)["history"] as? [[String: Any]]
        #expect(history?.last?["reason"] as? String == "company owner changed")
        #expect(history?.last?["from"] as? String == first)
        #expect(history?.last?["to"] as? String == next)

        // The company's own workflow hands it to retention: its records follow in the worker's transaction.
        #expect(try await ctl(engine, ["signal", "renewed", "--record", "company:acme"]).status == 0)
        try await engine.drain()
        let retained: String = try await engine.scalar("SELECT owner FROM contacts WHERE id = 'company:acme'")
        #expect(["r1", "r2"].contains(retained))
        #expect(try await engine.scalar("SELECT lifecycle_stage FROM contacts WHERE id = 'company:acme'") == "customer")
        #expect(try await engine.scalar("SELECT count(*) FROM contacts WHERE attributes ->> 'company' = 'acme' AND owner = $1", [retained]) == 50)
        #expect(try await engine.scalar(
            "SELECT count(*) FROM ownership_history WHERE reason = 'company owner changed' AND instance IS NOT NULL") == 50)
        #expect(try await engine.scalar("SELECT count(*) FROM contacts WHERE id IN ('A-7', 'A-8') AND owner = $1", [pinned]) == 2)
    }

    @Test func mergeMovesInstancesSignalsAndHistoryAndCancelsDuplicates() async throws {
        let engine = try await Engine.make("recordmerge", workflows: [Self.contacts, Self.other])
        defer { Task { await engine.close() } }
        let keepLead = try await engine.start("b2b-lead", "K-1", ["email": "pat@example.com", "tier": "smb"])
        let dropLead = try await engine.start("b2b-lead", "D-1", ["email": "pat@example.com", "country": "DE"])
        let dropNurture = try await engine.start("nurture", "D-1")
        try await engine.drain()
        let drained: Int = try await engine.scalar("SELECT count(*) FROM workflow_instances WHERE state = 'waiting'")
        #expect(drained == 3, "the drain left every instance in its wait")
        #expect(try await ctl(engine, ["signal", "visited", "--contact", "D-1"]).status == 0)
        #expect(try await ctl(engine, ["reassign", "--contact", "D-1", "--to", "m7", "--reason", "manual"]).status == 0)
        let historyBefore: Int = try await engine.scalar("SELECT count(*) FROM ownership_history WHERE contact IN ('K-1', 'D-1')")
        let dropHistory: Int = try await engine.scalar("SELECT count(*) FROM ownership_history WHERE contact = 'D-1'")

        let merged = try await ctl(engine, ["records", "merge", "contact:K-1", "contact:D-1", "--reason", "same email", "--json"])
        #expect(merged.status == 0, "\(merged.output)")
        let report = try json(merged.output)
        #expect(report["cancelled_instances"] as? [String] == [String(dropLead)])
        #expect(report["moved_instances"] as? [String] == [String(dropLead), String(dropNurture)])
        #expect(report["moved_signals"] as? Int == 1)

        // Nothing lost: every instance and signal now belongs to K-1; the duplicate lead is cancelled
        // with a timeline entry that says why; the kept lead and the nurture instance still run.
        #expect(try await engine.scalar("SELECT count(*) FROM workflow_instances WHERE contact = 'K-1'") == 3)
        let states = [try await engine.state(dropLead).state, try await engine.state(keepLead).state,
                      try await engine.state(dropNurture).state]
        #expect(states == ["cancelled", "waiting", "waiting"], "dropped lead, kept lead, nurture")
        let why: String = try await engine.scalar("SELECT detail FROM instance_events WHERE instance = $1 ORDER BY seq DESC LIMIT 1", [dropLead])
        #expect(why == "cancelled by tester: D-1 merged into K-1, which has instance \(keepLead) of this workflow: same email")
        #expect(try await engine.scalar("SELECT count(*) FROM signals WHERE contact = 'K-1' AND name = 'visited'") == 1)
        #expect(try await engine.scalar("SELECT attributes ->> 'country' FROM contacts WHERE id = 'K-1'") == "DE")
        #expect(try await engine.scalar("SELECT attributes ->> 'tier' FROM contacts WHERE id = 'K-1'") == "smb")

        // History keeps both ids: D-1's rows stay under D-1 and show with K-1's, plus one row on each.
        let show = try json(try await ctl(engine, ["records", "show", "contact:K-1", "--json"]).output)
        let history = show["history"] as? [[String: Any]] ?? []
        #expect(history.count == historyBefore + 2)
        #expect(history.filter { $0["record"] as? String == "contact:D-1" }.count == dropHistory + 1)
        #expect(history.last?["reason"] as? String == "merged into K-1: same email (by tester)")
        #expect(show["merged"] as? [String] == ["contact:D-1"])
        let dropped = try json(try await ctl(engine, ["records", "show", "contact:D-1", "--json"]).output)
        #expect(dropped["merged_into"] as? String == "contact:K-1")

        // Merged once is merged: a second merge, or merging kinds together, is refused with one line.
        let again = try await ctl(engine, ["records", "merge", "contact:K-1", "contact:D-1", "--reason", "again"])
        #expect(again.status == 1)
        #expect(again.output == "error: contact:D-1 was already merged into contact:K-1\n")
        let mixed = try await ctl(engine, ["records", "merge", "contact:K-1", "deal:D-1", "--reason", "x"])
        #expect(mixed.output == "error: cannot merge a deal into a contact: both records must be of one kind\n")
    }

    @Test func enrollmentRefusesOrMergesDuplicatesByNormalisedEmail() async throws {
        let refuse = Self.other.replacingOccurrences(of: "name: nurture", with: "name: strict\non_duplicate: refuse")
        let merge = Self.other.replacingOccurrences(of: "name: nurture", with: "name: merging\non_duplicate: merge")
        let engine = try await Engine.make("recorddup", workflows: [refuse, merge, Self.other])
        defer { Task { await engine.close() } }
        #expect(try await ctl(engine, ["start", "nurture", "--contact", "P-1", "--attr", "email=Pat@Example.com"]).status == 0)

        let refused = try await ctl(engine, ["start", "strict", "--contact", "P-2", "--attr", "email= pat@example.COM "])
        #expect(refused.status == 1)
        #expect(refused.output == "error: contact:P-2 has the same email as contact:P-1; workflow strict refuses duplicates "
                + "(on_duplicate: refuse): start contact:P-1 instead, or merge them with `batonctl records merge contact:P-1 contact:P-2 --reason TEXT`\n")
        #expect(try await engine.scalar("SELECT count(*) FROM contacts WHERE id = 'P-2'") == 0)

        let merged = try await ctl(engine, ["start", "merging", "--contact", "P-3", "--attr", "email=PAT@example.com", "--attr", "tier=smb"])
        #expect(merged.status == 0)
        #expect(merged.output.hasSuffix(" of merging for P-1\n"), "\(merged.output)")
        #expect(try await engine.scalar("SELECT count(*) FROM contacts WHERE id = 'P-3'") == 0)
        #expect(try await engine.scalar("SELECT attributes ->> 'tier' FROM contacts WHERE id = 'P-1'") == "smb")

        // The same record again is not its own duplicate; the default (allow) enrolls duplicates.
        #expect(try await ctl(engine, ["start", "strict", "--contact", "P-1", "--attr", "email=pat@example.com"]).status == 0)
        #expect(try await ctl(engine, ["start", "nurture", "--contact", "P-4", "--attr", "email=pat@example.com"]).status == 0)
    }

    /// The B2B example files as shipped: company owner -> contacts and deals inherit; a reassignment
    /// of the company moves them; a conversation goes to service (now or when someone's day begins).
    @Test func theB2BExampleFlow() async throws {
        let read = { (name: String) in try String(contentsOf: packageRoot.appendingPathComponent("examples/b2b/\(name)"), encoding: .utf8) }
        let engine = try await Engine.make("recordb2b", teams: try read("teams.yaml"), workflows: [
            try read("company.yaml"), try read("contact.yaml"), try read("deal.yaml"), try read("conversation.yaml"),
        ])
        defer { Task { await engine.close() } }
        #expect(try await ctl(engine, ["start", "b2b-company", "--record", "company:acme"]).status == 0)
        try await engine.drain()
        let owner: String = try await engine.scalar("SELECT owner FROM contacts WHERE id = 'company:acme'")
        #expect(["ana", "ben"].contains(owner))
        #expect(try await ctl(engine, ["start", "b2b-contact", "--contact", "C-1001", "--attr", "company=acme"]).status == 0)
        #expect(try await ctl(engine, ["start", "b2b-deal", "--record", "deal:D-7", "--attr", "company=acme"]).status == 0)
        #expect(try await ctl(engine, ["start", "b2b-conversation", "--record", "conversation:T-501", "--attr", "contact=C-1001"]).status == 0)
        try await engine.drain()
        #expect(try await engine.scalar("SELECT count(*) FROM contacts WHERE id IN ('C-1001', 'deal:D-7') AND owner = $1", [owner]) == 2)

        let other = owner == "ana" ? "ben" : "ana"
        let moved = try await ctl(engine, ["reassign", "--record", "company:acme", "--to", other, "--reason", "territory change"])
        #expect(moved.output.hasSuffix("; 2 of its record(s) followed (company owner changed)\n"), "\(moved.output)")
        let deal = try json(try await ctl(engine, ["records", "show", "deal:D-7", "--json"]).output)
        #expect(deal["owner"] as? String == other)
        #expect(deal["reason"] as? String == "company owner changed")

        // Service either took the conversation (someone is working) or waits for the first working day.
        let conversation = try json(try await ctl(engine, ["records", "show", "conversation:T-501", "--json"]).output)
        #expect(conversation["contact"] as? String == "contact:C-1001")
        let waiting: Int = try await engine.scalar(
            "SELECT count(*) FROM workflow_instances WHERE contact = 'conversation:T-501' AND state = 'ready' AND step = 'route' AND run_at > now()")
        if let who = conversation["owner"] as? String {
            #expect(["sam", "tess", "uma"].contains(who))
        } else {
            #expect(waiting == 1)
        }
    }
}
