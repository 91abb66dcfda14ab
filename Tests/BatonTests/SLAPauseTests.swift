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
