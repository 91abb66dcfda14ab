import Baton
import BatonCore
import BatonTesting
import Foundation
import Postgres
import Testing

/// A signal that arrives while its instance is being run must count, not wait for the deadline.
@Suite("Signals that arrive while an instance runs", .serialized)
struct SignalWhileRunningTests {
    /// Assigns, tells the owner (outbox key `i<id>-t2-r0`), then waits for a first touch.
    static let touch = """
        name: touch
        start: route
        steps:
          route:
            assign: { team: sales, strategy: round_robin }
            next: tell
          tell:
            notify: { to: [owner], message: "{{contact.id}} is yours" }
            next: wait
          wait:
            wait_for_sla: { event: touched, within: 1h }
            on_met: done
            on_breach: done
          done:
            end: {}
        """

    @Test func aSignalDuringTheCommitOfItsWaitWakesTheWait() async throws {
        let engine = try await Engine.make("signalrun", workflows: [Self.touch])
        defer { Task { await engine.close() } }
        let id = try await engine.start("touch", "C-1")
        // Hold the worker inside its commit: its notification's key is taken by an open transaction.
        let blocker = try await Connection.connect(engine.config)
        try await blocker.simpleQuery("BEGIN")
        try await blocker.query(WorkerProcessTests.holdNotificationKeys)
        let worker = Task { try await engine.drain(id: "slow") }
        let blocked = try await eventually(timeout: .seconds(30)) {
            try await engine.scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'") > 0
        }
        #expect(blocked)
        // The owner touches the lead now: after the worker read the signals, before it commits.
        let signal = Task { try await engine.store.signal("touched", contact: "C-1", payload: nil) }
        try await Task.sleep(for: .milliseconds(300))
        try await blocker.simpleQuery("ROLLBACK")
        await blocker.close()
        try await worker.value
        _ = try await signal.value
        try await engine.drain(id: "next")
        #expect(try await engine.state(id) == ("completed", "done"))
        let details = try await engine.rows("SELECT detail FROM instance_events WHERE instance = $1 ORDER BY seq", [id])
        #expect(try details.map { try $0.decode(String.self, at: 0) }.contains { $0.hasPrefix("sla_met: touched") })
    }
}
