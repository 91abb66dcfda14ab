import Baton
import BatonCore
import BatonTesting
import Foundation
import Postgres
import Testing

@Suite("Migrating running instances to a new version", .serialized)
struct InstanceMigrationTests {
    static let v1 = """
        name: mig
        start: route
        steps:
          route:
            assign: { team: sales, strategy: round_robin }
            next: first-touch
          first-touch:
            wait_for_sla: { event: first_touch, within: 1h }
            on_met: wait-purchase
            on_breach: lost
          wait-purchase:
            wait_for_sla: { event: purchased, within: 1h }
            on_met: won
            on_breach: lost
          won:
            end: { outcome: won }
          lost:
            end: { outcome: lost }
        """

    /// v1 with its first wait renamed (first-touch is gone) and a message after it.
    static let v2 = """
        name: mig
        start: route
        steps:
          route:
            assign: { team: sales, strategy: round_robin }
            next: touch-window
          touch-window:
            wait_for_sla: { event: first_touch, within: 2h }
            on_met: congrats
            on_breach: lost
          congrats:
            notify: { to: [owner], message: "{{contact.id}} was touched in time." }
            next: wait-purchase
          wait-purchase:
            wait_for_sla: { event: purchased, within: 1h }
            on_met: won
            on_breach: lost
          won:
            end: { outcome: won }
          lost:
            end: { outcome: lost }
        """

    static let v2Steps = ["route", "touch-window", "congrats", "wait-purchase", "won", "lost"]

    /// An engine with `count` instances of mig v1 waiting at first-touch, and v2 applied.
    static func waitingEngine(_ label: String, count: Int) async throws -> Engine {
        let engine = try await Engine.make(label, workflows: [v1])
        var requests = (1...count).map { EnrollmentRequest(contact: "C-\($0)", attributes: [:]) }
        while !requests.isEmpty {
            _ = try await engine.store.enroll(Array(requests.prefix(500)), in: "mig")
            requests.removeFirst(min(500, requests.count))
        }
        try await engine.drain()
        let known = try await engine.store.knownNames()
        _ = try await engine.store.applyWorkflow(try DefinitionLoader.workflow(from: v2, file: "v2.yaml", known: known), source: v2, file: nil)
        return engine
    }

    static func plan(_ engine: Engine, selection: MigrationSelection) async throws -> MigrationPlan {
        let source = try #require(try await engine.store.stepOutline("mig", version: 1))
        let target = try #require(try await engine.store.workflow("mig", version: 2))
        let standing = try await engine.store.migrationStanding(selection)
        return try MigrationPlanner.plan(workflow: "mig", fromVersion: 1, source: source, toVersion: 2, target: target.definition,
                                         map: ["first-touch": "touch-window"], standing: standing.groups)
    }

    /// Instances with other than exactly one migration entry in their timeline.
    static func movedOtherThanOnce(_ engine: Engine) async throws -> Int {
        try await engine.scalar("""
            SELECT count(*) FROM workflow_instances i
            WHERE (SELECT count(*) FROM instance_events e WHERE e.instance = i.id AND e.detail LIKE 'migrated by %') <> 1
            """)
    }

    @Test func thousandWaitingInstancesMoveWhileTwoWorkersRun() async throws {
        let engine = try await Self.waitingEngine("migrate1000", count: 1000)
        defer { Task { await engine.close() } }
        #expect(try await engine.scalar("SELECT count(*) FROM workflow_instances WHERE state = 'waiting' AND step = 'first-touch'") == 1000)

        let workers = (1...2).map { n in
            Worker(store: engine.store, configuration: WorkerConfiguration(
                id: "w\(n)", concurrency: 2, batchSize: 20, pollInterval: .milliseconds(50), lease: .seconds(10)))
        }
        let running = workers.map { worker in Task { try await worker.run() } }
        // Touches arrive while the migration runs: workers move those instances on (still on v1 when
        // they win the row, on v2 when the migration did), so both sides contend for the same rows.
        let touches = Task {
            for n in stride(from: 1, through: 1000, by: 3) {
                _ = try await engine.store.signal("first_touch", contact: "C-\(n)", payload: nil)
            }
        }
        let selection = MigrationSelection(workflow: "mig", fromVersion: 1)
        let plan = try await Self.plan(engine, selection: selection)
        let progress = try await engine.store.migrateInstances(
            plan, selection: selection, options: MigrationOptions(actor: "tester", batchSize: 50, heldWait: .seconds(60)))
        try await touches.value
        #expect(try await eventually { try await engine.scalar("SELECT count(*) FROM workflow_instances WHERE step IN ('first-touch', 'touch-window') AND run_at <= now()") == 0 })
        for worker in workers { await worker.stop() }
        for task in running { try await task.value }

        // None lost, none moved twice, all on v2 and at v2's steps.
        #expect(progress.moved == 1000)
        #expect(progress.remaining.groups.isEmpty)
        #expect(try await engine.scalar("SELECT count(*) FROM workflow_instances") == 1000)
        #expect(try await engine.scalar("SELECT count(*) FROM workflow_instances WHERE version = 2 AND step = ANY($1::text[])", [Self.v2Steps]) == 1000)
        #expect(try await Self.movedOtherThanOnce(engine) == 0)
        // None ran on a step that no longer exists: after its migration, an instance's timeline only
        // names v2's steps, nothing failed, and every timeline is gapless (no stale commit slipped in).
        #expect(try await engine.scalar("""
            SELECT count(*) FROM instance_events e
            JOIN instance_events m ON m.instance = e.instance AND m.detail LIKE 'migrated by %'
            WHERE e.seq > m.seq AND NOT (e.step = ANY($1::text[]))
            """, [Self.v2Steps]) == 0)
        #expect(try await engine.scalar("SELECT count(*) FROM instance_events WHERE error IS NOT NULL") == 0)
        #expect(try await engine.scalar("SELECT count(*) FROM workflow_instances WHERE state = 'failed'") == 0)
        #expect(try await engine.scalar("""
            SELECT count(*) FROM workflow_instances i
            WHERE i.seq <> (SELECT count(*) FROM instance_events e WHERE e.instance = i.id)
            """) == 0)
        // Every touched contact met its wait, on either version.
        #expect(try await engine.scalar("""
            SELECT count(*) FROM workflow_instances WHERE step = 'wait-purchase' AND contact = ANY($1::text[])
            """, [stride(from: 1, through: 1000, by: 3).map { "C-\($0)" }]) == 334)

        // Moved instances run on: touches now meet v2's renamed wait and reach its new step.
        for n in [2, 5, 8] { _ = try await engine.store.signal("first_touch", contact: "C-\(n)", payload: nil) }
        try await engine.drain()
        #expect(try await engine.scalar("""
            SELECT count(*) FROM instance_events e JOIN workflow_instances i ON i.id = e.instance
            WHERE e.step = 'congrats' AND i.contact IN ('C-2', 'C-5', 'C-8')
            """) == 3)
        #expect(try await engine.scalar("SELECT count(*) FROM workflow_instances WHERE state = 'failed'") == 0)
    }

    @Test func interruptedAndRunAgainMovesTheRestAndNothingTwice() async throws {
        let engine = try await Self.waitingEngine("migrateagain", count: 300)
        defer { Task { await engine.close() } }
        let selection = MigrationSelection(workflow: "mig", fromVersion: 1)
        let first = try await engine.store.migrateInstances(
            try await Self.plan(engine, selection: selection), selection: selection,
            options: MigrationOptions(actor: "tester", batchSize: 50, maxBatches: 2))
        #expect(first.moved == 100)
        #expect(first.remaining.groups == [StandingInstances(step: "first-touch", count: 200, sample: Array(101...105))])

        let second = try await engine.store.migrateInstances(
            try await Self.plan(engine, selection: selection), selection: selection,
            options: MigrationOptions(actor: "tester", batchSize: 50))
        #expect(second.moved == 200)
        let third = try await engine.store.migrateInstances(
            try await Self.plan(engine, selection: selection), selection: selection, options: MigrationOptions(actor: "tester"))
        #expect(third.moved == 0)
        #expect(try await engine.scalar("SELECT count(*) FROM workflow_instances WHERE version = 2 AND step = 'touch-window'") == 300)
        #expect(try await Self.movedOtherThanOnce(engine) == 0)
    }

    @Test func anInstanceAWorkerHoldsIsSkippedUntilItsLeaseExpiresAndThenFenced() async throws {
        let engine = try await Self.waitingEngine("migrateheld", count: 3)
        defer { Task { await engine.close() } }
        _ = try await engine.rows("UPDATE workflow_instances SET run_at = now() WHERE contact = 'C-2'")
        let held = try await engine.store.claim(worker: "slow", limit: 10, lease: .seconds(60))
        #expect(held.instances.map(\.contact.id) == ["C-2"])

        let selection = MigrationSelection(workflow: "mig", fromVersion: 1)
        let first = try await engine.store.migrateInstances(
            try await Self.plan(engine, selection: selection), selection: selection,
            options: MigrationOptions(actor: "tester", heldWait: .milliseconds(300)))
        #expect(first.moved == 2)
        #expect(first.remaining.held == 1)
        #expect(try await engine.state(held.instances[0].id) == ("running", "first-touch"))

        // The worker dies: once its lease has expired the instance is released and moved, fenced.
        _ = try await engine.rows("UPDATE workflow_instances SET lease_expires_at = now() - interval '1 second' WHERE state = 'running'")
        let second = try await engine.store.migrateInstances(
            try await Self.plan(engine, selection: selection), selection: selection, options: MigrationOptions(actor: "tester"))
        #expect(second.moved == 1)
        #expect(try await engine.state(held.instances[0].id) == ("waiting", "touch-window"))
        #expect(try await engine.scalar("SELECT fence FROM workflow_instances WHERE contact = 'C-2'") == held.instances[0].fence + 1)

        // The slow worker wakes up and commits what it computed on v1: its fence no longer holds.
        var directory = try await engine.store.directory()
        var rotation = Rotation()
        let stale = Machine().advance(held.instances[0], definition: try DefinitionLoader.workflow(from: Self.v1, file: "v1"),
                                      directory: &directory, rotation: &rotation, now: held.now.addingTimeInterval(7200))
        #expect(try await engine.store.commit([stale], worker: "slow", now: held.now) == [])
        #expect(try await engine.state(held.instances[0].id) == ("waiting", "touch-window"))
    }

    @Test func deadlinesAreKeptOrRecomputedAndTheTimelineNamesTheActor() async throws {
        let engine = try await Self.waitingEngine("migratedeadline", count: 2)
        defer { Task { await engine.close() } }
        let before: Date = try await engine.scalar("SELECT deadline FROM workflow_instances WHERE contact = 'C-1'")
        let started: Date = try await engine.scalar("SELECT wait_started_at FROM workflow_instances WHERE contact = 'C-2'")
        let plan = try await Self.plan(engine, selection: MigrationSelection(workflow: "mig", fromVersion: 1))
        let one = try await engine.rows("SELECT id FROM workflow_instances WHERE contact = 'C-1'")[0].decode(Int.self, at: 0)
        // C-1 keeps its deadline; C-2's is counted again: 2 hours (v2) from when its wait began.
        _ = try await engine.store.migrateInstances(
            plan, selection: MigrationSelection(workflow: "mig", fromVersion: 1, states: ["waiting"], steps: ["first-touch"]),
            options: MigrationOptions(actor: "alice", batchSize: 1, maxBatches: 1))
        _ = try await engine.store.migrateInstances(
            plan, selection: MigrationSelection(workflow: "mig", fromVersion: 1),
            options: MigrationOptions(actor: "bob", recomputeDeadlines: true))
        #expect(try await engine.scalar("SELECT deadline FROM workflow_instances WHERE id = $1", [one]) == before)
        let recomputed: Date = try await engine.scalar("SELECT deadline FROM workflow_instances WHERE contact = 'C-2'")
        #expect(abs(recomputed.timeIntervalSince(started) - 7200) < 0.001)
        #expect(try await engine.scalar("SELECT run_at FROM workflow_instances WHERE contact = 'C-2'") == recomputed)
        let details = try await engine.rows("""
            SELECT e.detail, e.worker, e.from_state, e.to_state FROM instance_events e JOIN workflow_instances i ON i.id = e.instance
            WHERE e.detail LIKE 'migrated by %' ORDER BY i.contact
            """)
        #expect(try details.map { try $0.decode(String.self, "worker") } == ["alice", "bob"])
        #expect(try details[0].decode(String.self, "detail").hasPrefix("migrated by alice from mig v1 step first-touch to v2 step touch-window; deadline kept: "))
        #expect(try details[1].decode(String.self, "detail").hasPrefix("migrated by bob from mig v1 step first-touch to v2 step touch-window; deadline recomputed: "))
        #expect(try details.map { "\(try $0.decode(String.self, "from_state"))->\(try $0.decode(String.self, "to_state"))" } == ["waiting->waiting", "waiting->waiting"])
    }
}
