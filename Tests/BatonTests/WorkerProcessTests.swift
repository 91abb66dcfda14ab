import Baton
import BatonCore
import BatonTesting
import Foundation
import Postgres
import Testing

/// Real baton-worker processes over real Postgres: parallel workers, a SIGKILLed worker, SIGTERM.
@Suite("Worker processes", .serialized)
struct WorkerProcessTests {
    static let flow = """
        name: flow
        start: route
        steps:
          route:
            assign: { team: sales, strategy: round_robin }
            next: tell
          tell:
            notify: { to: [owner], message: "{{contact.id}} is yours" }
            next: done
          done:
            end: {}
        """

    /// Run in an open transaction: takes the outbox key that the `tell` step (second transition)
    /// of every ready instance will write, so a worker's commit of them waits on this transaction.
    /// (Touches no instance row, so claims are not held back.)
    static let holdNotificationKeys = """
        INSERT INTO outbox (idempotency_key, channel, message)
        SELECT 'i' || id || '-t2-r0', 'log', 'held by a test' FROM workflow_instances WHERE state = 'ready'
        """

    func enroll(_ engine: Engine, _ count: Int, prefix: String = "C") async throws {
        var index = 0
        while index < count {
            let batch = (index..<min(index + 500, count)).map { EnrollmentRequest(contact: "\(prefix)-\($0)") }
            _ = try await engine.store.enroll(batch, in: "flow")
            index += 500
        }
    }

    /// Every instance completed once: three timeline entries with three different steps, one
    /// ownership change and one outbox row each.
    func expectEachInstanceRanExactlyOnce(_ engine: Engine, _ count: Int) async throws {
        #expect(try await engine.scalar("SELECT count(*) FROM workflow_instances WHERE state = 'completed'") == count)
        #expect(try await engine.scalar("SELECT count(*) FROM instance_events") == 3 * count)
        #expect(try await engine.scalar(
            "SELECT count(*) FROM (SELECT instance, step FROM instance_events GROUP BY 1, 2 HAVING count(*) > 1) d") == 0)
        #expect(try await engine.scalar("SELECT count(*) FROM ownership_history") == count)
        #expect(try await engine.scalar("SELECT count(*) FROM outbox") == count)
    }

    @Test func fourWorkerProcessesRunTwoThousandInstancesExactlyOnce() async throws {
        let engine = try await Engine.make("fourworkers", workflows: [Self.flow])
        defer { Task { await engine.close() } }
        try await enroll(engine, 2000)
        let workers = try (1...4).map {
            try engine.spawnWorker(["--id", "w\($0)", "--until-idle", "--batch-size", "25", "--log-level", "warning"])
        }
        for worker in workers {
            let status = await worker.wait()
            #expect(status == 0, "worker output: \(worker.output)")
        }
        try await expectEachInstanceRanExactlyOnce(engine, 2000)
        // Owners balanced: 2000 round-robin assignments over 7 members.
        let counts = try await engine.rows("SELECT to_owner, count(*) FROM ownership_history GROUP BY 1").map {
            try $0.decode(Int.self, at: 1)
        }
        #expect(counts.count == 7)
        #expect(counts.max()! - counts.min()! <= 1, "spread \(counts.sorted())")
        // All four did some of the work.
        #expect(try await engine.scalar("SELECT count(DISTINCT worker) FROM instance_events") == 4)
    }

    /// The worker is killed with its claim in flight: a lock held by the test stops its commit
    /// statement, then the worker is SIGKILLed and its server connections dropped (as when its host
    /// dies), so its transaction rolls back and its rows stay `running` under a dead lease.
    /// (The test holds the keys of the notifications the commit writes: a worker never waits for a
    /// contact another session holds, it puts that contact's instances back instead.)
    @Test func aKilledWorkersInstancesAreReclaimedAndNothingRunsTwice() async throws {
        let engine = try await Engine.make("sigkill", workflows: [Self.flow])
        defer { Task { await engine.close() } }
        try await enroll(engine, 2000)
        let blocker = try await Connection.connect(engine.config)
        try await blocker.simpleQuery("BEGIN")
        try await blocker.query(Self.holdNotificationKeys)

        let doomed = try engine.spawnWorker(["--id", "doomed", "--batch-size", "100", "--lease", "1s", "--log-level", "warning"])
        let stuck = try await eventually(timeout: .seconds(30)) {
            try await engine.scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'baton-worker' AND wait_event_type = 'Lock'") > 0
        }
        #expect(stuck)
        let held: Int = try await engine.scalar(
            "SELECT count(*) FROM workflow_instances WHERE state = 'running' AND lease_owner = 'doomed'")
        #expect(held > 0)
        doomed.send(SIGKILL)
        #expect(await doomed.wait() == 128 + SIGKILL)
        _ = try await engine.rows(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'baton-worker'")
        try await blocker.simpleQuery("ROLLBACK")
        await blocker.close()

        let rescuer = try engine.spawnWorker(["--id", "rescuer", "--lease", "1s", "--poll-interval", "200ms", "--log-level", "warning"])
        let finished = try await eventually(timeout: .seconds(120)) {
            try await engine.scalar("SELECT count(*) FROM workflow_instances WHERE state = 'completed'") == 2000
        }
        rescuer.send(SIGTERM)
        #expect(await rescuer.wait() == 0)
        #expect(finished)
        try await expectEachInstanceRanExactlyOnce(engine, 2000)
        // The dead worker committed nothing; its claims were taken over (fence bumped again).
        #expect(try await engine.scalar("SELECT count(*) FROM instance_events WHERE worker = 'doomed'") == 0)
        #expect(try await engine.scalar("SELECT count(*) FROM workflow_instances WHERE fence >= 2") >= held)
    }

    @Test func sigtermStopsQuicklyAndLosesNothing() async throws {
        let engine = try await Engine.make("sigterm", workflows: [Self.flow])
        defer { Task { await engine.close() } }
        try await enroll(engine, 1500)
        let worker = try engine.spawnWorker(["--id", "graceful", "--batch-size", "10", "--log-level", "info"])
        _ = try await eventually(timeout: .seconds(30)) {
            try await engine.scalar("SELECT count(*) FROM instance_events") >= 30
        }
        let stopAt = ContinuousClock.now
        worker.send(SIGTERM)
        let status = await worker.wait()
        #expect(status == 0, "output: \(worker.output)")
        #expect(ContinuousClock.now - stopAt < .seconds(5))
        #expect(worker.output.contains("worker stopped"))
        // Nothing is left leased by the stopped worker.
        #expect(try await engine.scalar("SELECT count(*) FROM workflow_instances WHERE state = 'running'") == 0)
        try await engine.drain(id: "finisher")
        try await expectEachInstanceRanExactlyOnce(engine, 1500)
    }
}
