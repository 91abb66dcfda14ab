import Baton
import BatonCore
import BatonTesting
import Foundation
import Postgres
import Testing

/// SLA pause and resume through a real baton-worker process, with second-long SLAs.
@Suite("SLA pauses", .serialized)
struct SLAPauseTests {
    static let conversation = """
        name: conversation
        start: reply
        steps:
          reply:
            wait_for_sla: { event: reply, within: 4s, pause_on: [hold], resume_on: [back] }
            on_met: met
            on_breach: breached
          met:
            end: { outcome: met }
          breached:
            end: { outcome: breached }
        """

    func seconds(_ engine: Engine, _ sql: String, _ id: Int) async throws -> Double {
        try await engine.scalar("SELECT (\(sql))::float8 FROM workflow_instances i WHERE i.id = $1", [id])
    }

    /// Paused before the deadline (the pause arrived before the wait began, so it counts from the
    /// wait's start), held well past the original deadline: not breached, never woken by that
    /// deadline. Resumed: the full 4 s count again from the resume, and the wait breaches after them.
    @Test func aPausedWaitOutlivesItsDeadlineAndBreachesAfterTheMovedOne() async throws {
        let engine = try await Engine.make("slapause", workflows: [Self.conversation])
        defer { Task { await engine.close() } }
        let id = try await engine.start("conversation", "C-1")
        _ = try await engine.store.signal("hold", contact: "C-1", payload: nil)
        let worker = try engine.spawnWorker(["--id", "w1", "--log-level", "warning"])
        defer { worker.send(SIGKILL) }

        #expect(try await eventually { try await engine.state(id) == ("waiting", "reply") })
        #expect(try await eventually {
            try await engine.scalar("SELECT count(*) FROM sla_pauses WHERE instance = $1 AND ended_at IS NULL", [id]) == 1
        })
        let original: Date = try await engine.scalar("SELECT deadline FROM workflow_instances WHERE id = $1", [id])
        // Past the original deadline, by a margin: still waiting, paused, due never.
        try await Task.sleep(for: .seconds(max(0, original.timeIntervalSinceNow) + 1.5))
        #expect(try await engine.state(id) == ("waiting", "reply"))
        #expect(try await engine.scalar("SELECT run_at FROM workflow_instances WHERE id = $1", [id]) == Advance.neverDue)
        let detail = try #require(try await engine.store.instanceDetail(id))
        #expect(detail.paused)
        #expect(detail.deadline == original)
        #expect(detail.remaining_s == 4)
        #expect(detail.elapsed_s == 0)
        #expect(detail.pauses.map(\.pause_event) == ["hold"])

        let back = try await engine.store.signal("back", contact: "C-1", payload: nil)
        #expect(back.woken == 1)
        #expect(try await eventually {
            try await engine.scalar("SELECT count(*) FROM sla_pauses WHERE instance = $1 AND ended_at IS NOT NULL", [id]) == 1
        })
        // The moved deadline is the resume plus the whole 4 s (the clock never ran before the pause).
        let resumedAt: Date = try await engine.scalar("SELECT received_at FROM signals WHERE id = $1", [back.signal])
        let moved: Date = try await engine.scalar("SELECT deadline_after FROM sla_pauses WHERE instance = $1", [id])
        #expect(abs(moved.timeIntervalSince(resumedAt) - 4) < 0.001)
        #expect(moved > original)

        #expect(try await eventually { try await engine.state(id) == ("completed", "breached") })
        let breachedAt: Date = try await engine.scalar(
            "SELECT at FROM instance_events WHERE instance = $1 AND detail LIKE 'sla\\_breached%'", [id])
        #expect(breachedAt >= moved)
        let timeline = try await engine.store.instanceDetail(id)?.timeline.compactMap(\.detail) ?? []
        #expect(timeline.contains { $0.hasPrefix("sla_paused: hold") })
        #expect(timeline.contains { $0.hasPrefix("sla_resumed: back") })
    }

    /// Paused while the clock runs, met after the original deadline while still paused: met, and
    /// counted as a breach avoided by pauses.
    @Test func aWaitMetWhilePausedAfterItsOriginalDeadlineIsABreachAvoided() async throws {
        let engine = try await Engine.make("slaavoid", workflows: [Self.conversation])
        defer { Task { await engine.close() } }
        let worker = try engine.spawnWorker(["--id", "w1", "--log-level", "warning"])
        defer { worker.send(SIGKILL) }
        let id = try await engine.start("conversation", "C-2")
        #expect(try await eventually { try await engine.state(id) == ("waiting", "reply") })
        _ = try await engine.store.signal("hold", contact: "C-2", payload: nil)
        #expect(try await eventually {
            try await engine.scalar("SELECT count(*) FROM sla_pauses WHERE instance = $1", [id]) == 1
        })
        let original: Date = try await engine.scalar("SELECT deadline_before FROM sla_pauses WHERE instance = $1", [id])
        try await Task.sleep(for: .seconds(max(0, original.timeIntervalSinceNow) + 1.5))
        #expect(try await engine.state(id) == ("waiting", "reply"))

        _ = try await engine.store.signal("reply", contact: "C-2", payload: nil)
        #expect(try await eventually { try await engine.state(id) == ("completed", "met") })
        let met: String = try await engine.scalar(
            "SELECT detail FROM instance_events WHERE instance = $1 AND detail LIKE 'sla\\_met%'", [id])
        #expect(met.contains(Machine.breachAvoided))
        let stats = try await engine.store.stats(workflow: "conversation", since: Date(timeIntervalSince1970: 0))
        let flow = try #require(stats.workflows.first)
        #expect(flow.pauses == 1)
        #expect(flow.paused_now == 0)
        #expect(flow.paused_s > 1)
        #expect(flow.breaches_avoided_by_pauses == 1)
        #expect(flow.sla["reply"]?.breaches_avoided_by_pauses == 1)
    }
}

/// A paused instance moved to a new version stays paused on its new step.
@Suite("SLA pauses across versions", .serialized)
struct SLAPauseMigrationTests {
    static let v1 = """
        name: pm
        start: hold-wait
        steps:
          hold-wait:
            wait_for_sla: { event: reply, within: 10m, pause_on: [hold], resume_on: [back] }
            on_met: done
            on_breach: done
          done:
            end: {}
        """
    static let v2 = v1.replacingOccurrences(of: "hold-wait", with: "reply-window")

    @Test func aPausedWaitMovedToARenamedStepStaysPausedAndResumes() async throws {
        let engine = try await Engine.make("slapausemig", workflows: [Self.v1])
        defer { Task { await engine.close() } }
        let id = try await engine.start("pm", "C-1")
        _ = try await engine.store.signal("hold", contact: "C-1", payload: nil)
        try await engine.drain()
        #expect(try await engine.scalar("SELECT run_at FROM workflow_instances WHERE id = $1", [id]) == Advance.neverDue)

        let known = try await engine.store.knownNames()
        _ = try await engine.store.applyWorkflow(try DefinitionLoader.workflow(from: Self.v2, file: "v2.yaml", known: known),
                                                 source: Self.v2, file: nil)
        let source = try #require(try await engine.store.stepOutline("pm", version: 1))
        let target = try #require(try await engine.store.workflow("pm", version: 2))
        let selection = MigrationSelection(workflow: "pm", fromVersion: 1)
        let plan = try MigrationPlanner.plan(
            workflow: "pm", fromVersion: 1, source: source, toVersion: 2, target: target.definition,
            map: ["hold-wait": "reply-window"], standing: try await engine.store.migrationStanding(selection).groups)
        _ = try await engine.store.migrateInstances(plan, selection: selection, options: MigrationOptions(actor: "alice"))
        #expect(try await engine.state(id) == ("waiting", "reply-window"))
        #expect(try await engine.scalar("SELECT run_at FROM workflow_instances WHERE id = $1", [id]) == Advance.neverDue)
        #expect(try await engine.scalar("SELECT step FROM sla_pauses WHERE instance = $1", [id]) == "reply-window")
        #expect(try await engine.store.instanceDetail(id)?.paused == true)

        #expect(try await engine.store.signal("back", contact: "C-1", payload: nil).woken == 1)
        try await engine.drain()
        #expect(try await engine.state(id) == ("waiting", "reply-window"))
        #expect(try await engine.scalar("SELECT count(*) FROM sla_pauses WHERE instance = $1 AND resume_event = 'back'", [id]) == 1)
        let deadline: Date = try await engine.scalar("SELECT deadline FROM workflow_instances WHERE id = $1", [id])
        #expect(try await engine.scalar("SELECT run_at FROM workflow_instances WHERE id = $1", [id]) == deadline)
        #expect(try await engine.store.instanceDetail(id)?.paused == false)
    }
}

/// `batonctl simulate --record` on the b2b conversation example, and `instances show` of a paused wait.
@Suite("SLA pauses on the command line")
struct SLAPauseCommandLineTests {
    func ctl(_ engine: Engine?, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await runProgram(try Engine.binary("batonctl"), arguments,
                             environment: engine.map { ["DATABASE_URL": $0.config.urlForChildren] } ?? ["DATABASE_URL": ""])
    }

    @Test func simulateARecordWithAPauseOverTheWeekend() async throws {
        let b2b = packageRoot.appendingPathComponent("examples/b2b")
        let result = try await ctl(nil, [
            "simulate", b2b.appendingPathComponent("conversation.yaml").path, "--teams", b2b.appendingPathComponent("teams.yaml").path,
            "--record", "conversation:T-501", "--at", "2026-12-04T14:00:00Z",
            "--events", b2b.appendingPathComponent("conversation-events.yaml").path,
        ])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.hasPrefix("simulate b2b-conversation: record conversation:T-501, enrolled 2026-12-04T14:00:00Z\n"))
        #expect(result.output.contains(
            "reply  resumed: customer_replied after 2h of business hours paused; deadline moves to 2026-12-07T11:00:00Z = Mon 7 Dec 12:00 Europe/Berlin\n"))
        #expect(result.output.contains("breach avoided by pauses -> done"))
        #expect(result.output.hasSuffix("sla: met reply; breached none\n"))
        // The README shows this run verbatim.
        let readme = try String(contentsOf: packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(readme.contains(result.output.trimmingCharacters(in: .newlines)))

        let wrongKind = try await ctl(nil, ["simulate", b2b.appendingPathComponent("conversation.yaml").path,
                                            "--teams", b2b.appendingPathComponent("teams.yaml").path, "--record", "deal:D-7"])
        #expect(wrongKind.status == 1)
        #expect(wrongKind.output.contains("workflow b2b-conversation runs on conversation records (subject: conversation); deal:D-7 is a deal"))
        let both = try await ctl(nil, ["simulate", "x.yaml", "--record", "deal:D-7", "--contact", "C-1"])
        #expect(both.status != 0)
        #expect(both.output.contains("give one of --contact ID, --record KIND:ID or --matrix FILE"))
    }

    @Test func instancesShowPrintsTheSLAOfAPausedWait() async throws {
        let engine = try await Engine.make("slapausecli", workflows: [SLAPauseMigrationTests.v1])
        defer { Task { await engine.close() } }
        let id = try await engine.start("pm", "C-1")
        _ = try await engine.store.signal("hold", contact: "C-1", payload: nil)
        try await engine.drain()
        let text = try await ctl(engine, ["instances", "show", String(id)])
        #expect(text.status == 0, "\(text.output)")
        #expect(text.output.contains("sla: deadline "))
        #expect(text.output.contains(", elapsed 0s, remaining 10m on the wall clock; PAUSED since "))
        #expect(text.output.contains("sla_paused: hold (signal 1, received before the wait began); the clock stops with 10m left"))
        let json = try await ctl(engine, ["instances", "show", String(id), "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
        #expect(object["paused"] as? Bool == true)
        #expect(object["elapsed_s"] as? Int == 0)
        #expect(object["remaining_s"] as? Int == 600)
        #expect(object["deadline"] is String)
        #expect(object["run_at"] as? String == "9999-12-31T23:59:59Z")
        let pauses = try #require(object["pauses"] as? [[String: Any]])
        #expect(pauses.count == 1)
        #expect(pauses.first?["pause_event"] as? String == "hold")
        #expect(pauses.first?["ended_at"] is NSNull)
    }
    /// An admin who takes a paused instance off its wait ends the pause: `cancel` (ended_by
    /// cancelled) and `resume --at` (ended_by moved); nothing is paused now afterwards.
    @Test func cancelAndResumeAtEndTheOpenPause() async throws {
        let engine = try await Engine.make("slapauseadmin", workflows: [SLAPauseMigrationTests.v1])
        defer { Task { await engine.close() } }
        let cancelled = try await engine.start("pm", "C-1")
        let moved = try await engine.start("pm", "C-2")
        _ = try await engine.store.signal("hold", contact: "C-1", payload: nil)
        _ = try await engine.store.signal("hold", contact: "C-2", payload: nil)
        try await engine.drain()
        #expect(try await engine.scalar("SELECT count(*) FROM sla_pauses WHERE ended_at IS NULL") == 2)

        let cancel = try await ctl(engine, ["cancel", String(cancelled), "--reason", "lost deal"])
        #expect(cancel.status == 0, "\(cancel.output)")
        let steps = try await engine.store.workflow("pm", version: 1)?.definition.steps.map(\.id) ?? []
        let other = try #require(steps.first { $0 != "hold-wait" })
        let resume = try await ctl(engine, ["resume", String(moved), "--at", other])
        #expect(resume.status == 0, "\(resume.output)")

        #expect(try await engine.scalar("SELECT count(*) FROM sla_pauses WHERE ended_at IS NULL") == 0)
        #expect(try await engine.scalar("SELECT ended_by FROM sla_pauses WHERE instance = $1", [cancelled]) == "cancelled")
        #expect(try await engine.scalar("SELECT ended_by FROM sla_pauses WHERE instance = $1", [moved]) == "moved")
        let json = try await ctl(engine, ["instances", "show", String(cancelled), "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
        let pauses = try #require(object["pauses"] as? [[String: Any]])
        #expect(pauses.first?["ended_by"] as? String == "cancelled")
        #expect(pauses.first?["ended_at"] is String)
        #expect(pauses.first?["paused_s"] is NSNull)
        let stats = try await engine.store.stats(workflow: "pm", since: Date(timeIntervalSince1970: 0))
        #expect(stats.workflows.first?.paused_now == 0)
    }
}
