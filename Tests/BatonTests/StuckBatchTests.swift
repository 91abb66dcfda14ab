import Baton
import BatonCore
import BatonTesting
import Foundation
import Postgres
import Testing

/// Faults around one batch or one instance: a batch that makes no progress lets its leases lapse;
/// a row held by an outside session delays only its own instance.
@Suite("Stuck batches and held rows", .serialized)
struct StuckBatchTests {
    @Test func aBatchThatMakesNoProgressStopsRenewingItsLeases() async throws {
        let engine = try await Engine.make("stuckbatch", workflows: [WorkerProcessTests.flow])
        defer { Task { await engine.close() } }
        let id = try await engine.start("flow", "C-1")
        // The worker's commit hangs: its notification's key is taken by an open transaction.
        let blocker = try await Connection.connect(engine.config)
        try await blocker.simpleQuery("BEGIN")
        try await blocker.query(WorkerProcessTests.holdNotificationKeys)
        let worker = Worker(store: engine.store, configuration: WorkerConfiguration(
            id: "stuck", concurrency: 1, pollInterval: .milliseconds(100), lease: .seconds(1), untilIdle: true,
            maxBatchTime: .seconds(2)))
        let run = Task { try await worker.run() }
        let lapsed = try await eventually(timeout: .seconds(30)) {
            try await engine.scalar("""
                SELECT count(*) FROM workflow_instances
                WHERE id = $1 AND state = 'running' AND lease_owner = 'stuck' AND lease_expires_at < now()
                """, [id]) == 1
        }
        #expect(lapsed, "the stuck batch's lease must run out")
        // Its connection dies (as on a dead host); the instance is taken over and runs once.
        _ = try await engine.rows("""
            SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock'
            """)
        try await blocker.simpleQuery("ROLLBACK")
        await blocker.close()
        try await run.value
        #expect(try await engine.state(id) == ("completed", "done"))
        #expect(try await engine.scalar("SELECT count(*) FROM instance_events WHERE instance = $1", [id]) == 3)
        #expect(try await engine.scalar("SELECT count(*) FROM outbox WHERE instance = $1", [id]) == 1)
    }

    @Test func aLockTimeoutPutsTheBatchBackWithoutCostingAttempts() async throws {
        let engine = try await Engine.make("locktimeout", workflows: [WorkerProcessTests.flow])
        defer { Task { await engine.close() } }
        _ = try await engine.store.enroll((0..<10).map { EnrollmentRequest(contact: "C-\($0)") }, in: "flow")
        var config = engine.config
        config.timeouts = SessionTimeouts(lock: .milliseconds(200))
        let impatient = Store(pool: ConnectionPool(config, maxConnections: 4))
        // Another session holds the team's rotation for longer than the worker's lock timeout.
        let holder = try await engine.hold("SELECT position FROM routing_cursors WHERE team = 'sales' FOR UPDATE")
        try await Worker(store: impatient, configuration: WorkerConfiguration(
            id: "impatient", concurrency: 1, pollInterval: .milliseconds(100), untilIdle: true)).run()
        await impatient.pool.close()
        #expect(try await engine.scalar("SELECT count(*) FROM workflow_instances WHERE state = 'ready' AND attempt = 0") == 10)
        #expect(try await engine.scalar("SELECT count(*) FROM instance_events") == 0)
        try await holder.simpleQuery("ROLLBACK")
        await holder.close()
        _ = try await engine.rows("UPDATE workflow_instances SET run_at = now() WHERE state = 'ready'")
        try await engine.drain()
        #expect(try await engine.scalar("SELECT count(*) FROM workflow_instances WHERE state = 'completed' AND attempt = 0") == 10)
    }

    @Test func aRowLockedByAnOutsideSessionDelaysOnlyItsInstance() async throws {
        let engine = try await Engine.make("heldrow", workflows: [WorkerProcessTests.flow])
        defer { Task { await engine.close() } }
        let ids = try await engine.store.enroll((0..<40).map { EnrollmentRequest(contact: "C-\($0)") }, in: "flow")
            .map(\.instance)
        let held = try await engine.hold("SELECT id FROM workflow_instances WHERE id = $1 FOR UPDATE", [ids[5]])
        let contact = try await engine.hold("SELECT id FROM contacts WHERE id = 'C-9' FOR UPDATE")
        try await engine.drain()
        #expect(try await engine.scalar("SELECT count(*) FROM workflow_instances WHERE state = 'completed'") == 38)
        #expect(try await engine.state(ids[5]).state == "ready")
        #expect(try await engine.state(ids[9]).state == "ready")
        try await held.simpleQuery("ROLLBACK")
        try await contact.simpleQuery("ROLLBACK")
        await held.close()
        await contact.close()
        _ = try await engine.rows("UPDATE workflow_instances SET run_at = now() WHERE state = 'ready'")
        try await engine.drain()
        #expect(try await engine.scalar("SELECT count(*) FROM workflow_instances WHERE state = 'completed'") == 40)
    }
}
