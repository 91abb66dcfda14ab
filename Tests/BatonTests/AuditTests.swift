import Baton
import BatonCore
import BatonTesting
import Foundation
import Testing

/// Every audit reason produced for real: contacts enrolled and routed by workers, reassigned by
/// hand, a member deactivated by re-applying the team file; only the clock is moved (backdated
/// rows) where the reason needs time to pass.
@Suite("Audit")
struct AuditTests {
    static func teams(withIvan: Bool) -> String {
        """
        teams:
          - name: sales-emea
            kind: sales
            manager: maria
            members:
              - { id: ana, name: Ana Ruiz, email: ana@example.com }
              - { id: ben, name: Ben Okafor, email: ben@example.com }
              - { id: carl, name: Carl Berg, capacity: 1 }
              - { id: olga, name: Olga Lind, out_of_office_until: "2099-12-31" }
        \(withIvan ? "      - { id: ivan, name: Ivan Petrov }" : "")
          - name: sales-dach
            kind: sales
            manager: maria
            members:
              - { id: dirk, name: Dirk Vogel, email: dirk@example.com }
          - name: queue
            kind: service
            members:
              - { id: zed, name: Zed Away, out_of_office_until: "2099-12-31" }
          - name: leads
            kind: sales
            members:
              - { id: maria, name: Maria Chen, email: maria@example.com }
        """
    }

    /// Routes by country: DACH to sales-dach, the rest round robin in sales-emea.
    static let lead = """
        name: lead
        start: route
        steps:
          route:
            assign:
              team: sales-emea
              strategy: rules
              rules:
                - name: dach
                  when: { country: { in: [DE, AT, CH] } }
                  team: sales-dach
              otherwise: round_robin
            next: touch
          touch:
            wait_for_sla: { event: first_touch, within: 1d }
            on_met: done
            on_breach: done
          done:
            end: {}
        """

    /// Gives each contact to its `account_owner` (sticky), so the test places work exactly.
    static let hold = """
        name: hold
        start: route
        steps:
          route:
            assign: { team: sales-emea, strategy: sticky, otherwise: round_robin }
            next: touch
          touch:
            wait_for_sla: { event: first_touch, within: 1d }
            on_met: done
            on_breach: done
          done:
            end: {}
        """

    /// Nobody in `queue` can take work: contacts wait unowned.
    static let queued = """
        name: queued
        start: route
        steps:
          route:
            assign: { team: queue, strategy: round_robin, fallback: queue }
            next: touch
          touch:
            wait_for_sla: { event: first_touch, within: 1d }
            on_met: done
            on_breach: done
          done:
            end: {}
        """

    static let allKinds: Set<String> = [
        "unowned", "queued_too_long", "inactive_owner", "out_of_office_owner", "over_capacity", "high_load",
        "unusual_volume", "territory_conflict", "stale", "duplicate",
    ]

    /// Builds the situation with one (or more) finding of every kind.
    static func everyProblem() async throws -> Engine {
        let engine = try await Engine.make("audit-all", teams: teams(withIvan: true), workflows: [lead, hold, queued])
        // Territory: T-1 routed to DACH, then given to ana by hand; T-2 routed to DACH, then moved to France.
        _ = try await engine.start("lead", "T-1", ["country": "DE"])
        _ = try await engine.start("lead", "T-2", ["country": "AT"])
        for i in 1...8 { _ = try await engine.start("hold", "H-\(i)", ["account_owner": "ben"]) }
        for id in ["C-1", "C-2", "O-1", "S-1"] { _ = try await engine.start("hold", id, ["account_owner": "dirk"]) }
        _ = try await engine.start("hold", "I-1", ["account_owner": "ivan"])
        _ = try await engine.start("hold", "D-1", ["account_owner": "dirk", "email": "Pat@Example.com "])
        _ = try await engine.start("hold", "D-2", ["account_owner": "dirk", "email": "pat@example.com"])
        _ = try await engine.start("queued", "U-1")
        _ = try await engine.start("queued", "Q-1")
        try await engine.drain()
        _ = try await engine.start("hold", "T-2", ["country": "FR"])
        try await engine.drain()
        try await engine.store.reassign(contact: "T-1", to: "ana", reason: "manual:tester")
        try await engine.store.reassign(contact: "C-1", to: "carl", reason: "manual:tester")
        try await engine.store.reassign(contact: "C-2", to: "carl", reason: "manual:tester")
        try await engine.store.reassign(contact: "O-1", to: "olga", reason: "manual:tester")
        // Ivan leaves: the team file no longer lists him.
        _ = try await engine.store.applyTeams(try DefinitionLoader.teams(from: teams(withIvan: false), file: "teams.yaml"))
        // Time passes for two of them.
        _ = try await engine.rows("UPDATE contacts SET queued_since = now() - interval '2 hours' WHERE id = 'Q-1'")
        _ = try await engine.rows("UPDATE ownership_history SET at = now() - interval '20 days' WHERE contact = 'S-1'")
        _ = try await engine.rows("UPDATE contacts SET updated_at = now() - interval '20 days' WHERE id = 'S-1'")
        return engine
    }

    @Test func everyReasonIsFoundWithItsFixingCommand() async throws {
        let engine = try await Self.everyProblem()
        defer { Task { await engine.close() } }
        let findings = try await engine.store.audit(AuditOptions(queuedLongerThan: 3600, staleDays: 14, volumeMultiple: 3))
        func one(_ kind: String, _ subject: String) -> AuditFinding? {
            findings.first { $0.kind == kind && ($0.contact == subject || ($0.contact == nil && $0.member == subject)) }
        }
        #expect(Set(findings.map(\.kind)) == Self.allKinds)
        #expect(findings.allSatisfy { $0.suggestion.hasPrefix("batonctl ") }, "\(findings.filter { !$0.suggestion.hasPrefix("batonctl ") })")

        #expect(one("unowned", "U-1")?.team == "queue")
        #expect(one("queued_too_long", "Q-1") != nil)
        #expect(one("inactive_owner", "I-1")?.suggestion == "batonctl reassign --contact I-1 --to ana --reason \"owner inactive\"")
        #expect(one("out_of_office_owner", "O-1")?.member == "olga")
        #expect(one("over_capacity", "carl")?.detail == "2 open, capacity 1")
        #expect(one("high_load", "ben") != nil)
        #expect(one("unusual_volume", "ben")?.detail.hasPrefix("8 new assignments in the last 7 days") == true)
        #expect(findings.filter { $0.kind == "unusual_volume" }.map(\.member) == ["ben"])

        let t1 = one("territory_conflict", "T-1")
        #expect(t1?.member == "ana")
        #expect(t1?.step == "route")
        #expect(t1?.rule == "rule:dach")
        #expect(t1?.attributes == ["country"])
        #expect(t1?.detail == "lead: step route: rule:dach matches (country=DE) and routes to team sales-dach; the owner ana is in sales-emea")
        #expect(t1?.suggestion == "batonctl reassign --contact T-1 --to dirk --reason \"territory: rule:dach\"")
        let t2 = one("territory_conflict", "T-2")
        #expect(t2?.member == "dirk")
        #expect(t2?.rule == "otherwise")
        #expect(t2?.attributes == ["country"])
        #expect(t2?.detail.hasSuffix("dirk's territory is rule:dach, which no longer matches (country=FR)") == true)
        #expect(findings.filter { $0.kind == "territory_conflict" }.count == 2)

        #expect(findings.filter { $0.kind == "stale" }.map(\.contact) == ["S-1"])
        #expect(findings.filter { $0.kind == "duplicate" }.map(\.contact) == ["D-2"])
        #expect(one("duplicate", "D-2")?.suggestion == "batonctl records merge contact:D-1 contact:D-2 --reason \"duplicate email\"")
    }

    @Test func theCommandLineAndItsFlagsShowTheSameFindings() async throws {
        let engine = try await Self.everyProblem()
        defer { Task { await engine.close() } }
        let environment = ["DATABASE_URL": engine.config.urlForChildren]
        let json = try await runProgram(try Engine.binary("batonctl"), ["audit", "--json"], environment: environment)
        #expect(json.status == 0)
        let objects = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [[String: Any]] ?? []
        #expect(Set(objects.compactMap { $0["kind"] as? String }) == Self.allKinds)
        // Every object carries every field, the old ones unchanged.
        let fields: Set<String> = ["kind", "contact", "member", "team", "detail", "suggestion", "step", "rule", "attributes"]
        #expect(objects.allSatisfy { Set($0.keys) == fields })

        // A longer stale limit and a higher volume multiple drop those findings.
        let relaxed = try await runProgram(
            try Engine.binary("batonctl"), ["audit", "--stale-days", "30", "--volume-multiple", "10"], environment: environment)
        #expect(relaxed.status == 0)
        #expect(!relaxed.output.contains("stale") && !relaxed.output.contains("unusual_volume"))
        #expect(relaxed.output.contains("territory_conflict") && relaxed.output.contains("to fix:"))
        #expect(relaxed.output.contains("batonctl reassign --contact T-1 --to dirk"))

        let bad = try await runProgram(try Engine.binary("batonctl"), ["audit", "--stale-days", "0"], environment: environment)
        #expect(bad.status != 0)
    }

    @Test func theAPIAnswersWithTheSameObjectsAndItsNewParameters() async throws {
        let engine = try await Self.everyProblem()
        let server = try await APIServer(engine)
        defer { Task { _ = await server.stop(); await engine.close() } }
        let token = try await engine.store.createToken(name: "viewer-1", role: .viewer, createdBy: "test")
        let all = try await server.get("/v1/audit?stale_days=14&volume_multiple=3", token: token)
        #expect(all.status == 200)
        #expect(Set(all.array.compactMap { $0["kind"] as? String }) == Self.allKinds)
        #expect(all.array.first { $0["kind"] as? String == "territory_conflict" }?["rule"] as? String != nil)
        let relaxed = try await server.get("/v1/audit?stale_days=30&volume_multiple=10", token: token)
        #expect(!relaxed.array.contains { ["stale", "unusual_volume"].contains($0["kind"] as? String) })
        #expect(try await server.get("/v1/audit?stale_days=0", token: token).status == 400)
        #expect(try await server.get("/v1/audit?volume_multiple=-1", token: token).status == 400)

        let byTeam = try await server.get("/v1/stats?by=team", token: token)
        #expect(byTeam.status == 200)
        #expect(byTeam.json["by"] as? String == "team")
        let rows = byTeam.json["rows"] as? [[String: Any]] ?? []
        #expect(rows.first { $0["team"] as? String == "sales-emea" }?["assigned"] as? Int == 13)
        #expect(try await server.get("/v1/stats?by=region", token: token).status == 400)
        #expect(try await server.get("/v1/stats?by=owner&workflow=lead", token: token).status == 400)
    }
}
