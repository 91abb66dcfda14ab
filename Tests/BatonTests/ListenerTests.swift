import Baton
import BatonCore
import BatonTesting
import Foundation
import Postgres
import Testing

/// The wake-up listener survives its connection being terminated by the server, and work
/// announced while it was away is not left for the poll interval.
@Suite("Wake-up listener", .serialized)
struct ListenerTests {
    @Test func aTerminatedListenerResubscribesAndMissesNothing() async throws {
        let engine = try await Engine.make("listener", workflows: [WorkerProcessTests.flow])
        defer { Task { await engine.close() } }
        // A poll interval far longer than the test: only a NOTIFY or the resubscribe wakes the worker.
        let worker = Worker(store: engine.store, configuration: WorkerConfiguration(
            id: "listening", concurrency: 1, pollInterval: .seconds(600)))
        let run = Task { try await worker.run() }
        let listenerQuery = """
            SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'
            """
        #expect(try await eventually(timeout: .seconds(30)) { try await engine.scalar(listenerQuery) == 1 })
        let first = try await engine.start("flow", "C-1")
        #expect(try await eventually(timeout: .seconds(30)) { try await engine.state(first).state == "completed" })

        _ = try await engine.rows("""
            SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE datname = current_database() AND query LIKE 'LISTEN%'
            """)
        // Enrolled while the listener is away: its NOTIFY reaches nobody.
        let second = try await engine.start("flow", "C-2")
        let done = try await eventually(timeout: .seconds(60)) { try await engine.state(second).state == "completed" }
        #expect(done, "the worker must look for work when it subscribes again, not wait for its poll")
        #expect(try await eventually(timeout: .seconds(30)) { try await engine.scalar(listenerQuery) == 1 })
        let third = try await engine.start("flow", "C-3")
        #expect(try await eventually(timeout: .seconds(30)) { try await engine.state(third).state == "completed" })
        await worker.stop()
        try await run.value
    }
}
