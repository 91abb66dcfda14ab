import Baton
import BatonCore
import BatonTesting
import Foundation
import Postgres
import Testing

/// The `--json` field names are a contract (DESIGN.md "JSON output"): scripts depend on them.
@Suite("batonctl --json field names")
struct JSONContractTests {
    func json(_ engine: Engine, _ arguments: [String]) async throws -> Any {
        let result = try await runProgram(
            try Engine.binary("batonctl"), arguments + ["--json"], environment: ["DATABASE_URL": engine.config.urlForChildren])
        try #require(result.status == 0, "\(arguments): \(result.output)")
        return try JSONSerialization.jsonObject(with: Data(result.output.utf8))
    }

    func keys(_ value: Any?) -> Set<String> { Set((value as? [String: Any])?.keys.map { $0 } ?? []) }

    @Test func everyListingHasTheDocumentedFields() async throws {
        let engine = try await Engine.make("jsoncontract", teams: AdminTests.teams, workflows: [StepKindTests.sla, AdminTests.failing])
        defer { Task { await engine.close() } }
        let waiting = try await engine.start("sla", "C-1", ["tier": "smb"])
        _ = try await engine.start("failing", "C-2")
        _ = try await engine.store.signal("first_touch", contact: "C-1", payload: nil)
        try await engine.drain()

        let list = try #require(try await json(engine, ["instances", "list"]) as? [Any])
        #expect(list.count == 2)
        for item in list {
            #expect(keys(item).isSuperset(of: [
                "id", "workflow", "version", "contact", "state", "step", "owner", "team", "priority", "run_at", "updated_at",
            ]))
        }
        #expect((list.first as? [String: Any])?["id"] is String)

        let show = try await json(engine, ["instances", "show", String(waiting)]) as? [String: Any]
        #expect(keys(show).isSuperset(of: ["id", "workflow", "version", "contact", "state", "step", "owner", "team", "timeline"]))
        let timeline = try #require(show?["timeline"] as? [Any])
        #expect(keys(timeline.first).isSuperset(of: ["step", "from_state", "to_state", "owner", "worker", "attempt", "at", "error"]))

        let contact = try await json(engine, ["contacts", "show", "C-1"]) as? [String: Any]
        #expect(keys(contact).isSuperset(of: ["id", "attributes", "owner", "backup", "team", "history"]))
        let history = try #require(contact?["history"] as? [Any])
        #expect(keys(history.first).isSuperset(of: ["from", "to", "team", "reason", "instance", "at"]))

        let stuck = try #require(try await json(engine, ["stuck", "--older-than", "1s"]) as? [Any])
        #expect(stuck.count == 1)
        #expect(keys(stuck.first) == ["instance", "workflow", "contact", "reason", "since", "detail", "suggestion"])

        let stats = try await json(engine, ["stats"]) as? [String: Any]
        #expect(keys(stats).isSuperset(of: ["workflows", "owners", "coverage"]))
        let perWorkflow = try #require(stats?["workflows"] as? [Any])
        #expect(keys(perWorkflow.first).isSuperset(of: [
            "workflow", "started", "completed", "active", "sla", "escalations", "handoffs", "speed_to_lead_p50_s",
            "speed_to_lead_p90_s",
        ]))
        let owners = try #require(stats?["owners"] as? [Any])
        #expect(keys(owners.first).isSuperset(of: ["member", "open", "assigned_total"]))

        let outbox = try #require(try await json(engine, ["outbox", "list"]) as? [Any])
        #expect(outbox.isEmpty)
        let workflows = try #require(try await json(engine, ["workflows", "list"]) as? [Any])
        #expect(keys(workflows.first).isSuperset(of: ["name", "version"]))
    }

    @Test func timesAreRFC3339InUTC() async throws {
        let engine = try await Engine.make("jsontimes", workflows: [StepKindTests.sla])
        defer { Task { await engine.close() } }
        _ = try await engine.start("sla", "C-1")
        let list = try #require(try await json(engine, ["instances", "list"]) as? [[String: Any]])
        let runAt = try #require(list.first?["run_at"] as? String)
        #expect(runAt.hasSuffix("Z"))
        #expect(ISO8601DateFormatter().date(from: runAt) != nil)
    }
}
