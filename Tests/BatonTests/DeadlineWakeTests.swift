import Baton
import BatonTesting
import Foundation
import Postgres
import Testing

/// An idle worker wakes when the earliest deadline passes, not only at its next poll (issue 18:
/// timer lateness). The poll here is 30 s, so a breach handled within 10 s of its deadline can only
/// have been woken by the deadline itself.
@Suite("Idle workers wake at the earliest deadline", .serialized)
struct DeadlineWakeTests {
    @Test func aBreachIsHandledAsItsDeadlinePassesWithALongPollInterval() async throws {
        let engine = try await Engine.make("deadline_wake", workflows: [Engine.waitForTouch("short-sla", within: "1s")])
        defer { Task { await engine.close() } }
        let id = try await engine.start("short-sla", "C-1")
        let worker = Worker(store: engine.store, configuration: WorkerConfiguration(
            id: "idle", concurrency: 2, batchSize: 10, pollInterval: .seconds(30), lease: .seconds(10), untilIdle: false))
        let running = Task { try await worker.run() }
        let completed = try await eventually(timeout: .seconds(20)) { try await engine.state(id).state == "completed" }
        await worker.stop()
        try await running.value
        #expect(completed, "the breach was not handled within 20 s with a 30 s poll interval")
        // The wait began when the instance entered `waiting`; its deadline is a second later.
        let lateness: Double = try await engine.scalar("""
            SELECT extract(epoch FROM (SELECT at FROM instance_events WHERE instance = $1 AND detail LIKE 'sla_breached%')
                                    - (SELECT min(at) FROM instance_events WHERE instance = $1 AND to_state = 'waiting'))::float8 - 1
            """, [id])
        #expect(lateness > -0.5 && lateness < 10, "breach handled \(lateness) s after its deadline")
    }
}
