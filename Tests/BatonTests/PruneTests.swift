import Baton
import BatonCore
import BatonTesting
import Foundation
import Testing

/// `prune` and `contacts erase` against a real database.
@Suite("Prune and erase")
struct PruneTests {
    static let flow = """
        name: flow
        start: route
        steps:
          route:
            assign: { team: sales, strategy: round_robin }
            next: tell
          tell:
            notify: { to: [owner], message: "{{contact.id}} is yours" }
            next: wait
          wait:
            wait_for_sla: { event: touch, within: 10m }
            on_met: done
            on_breach: done
          done:
            end: {}
        """

    @Test("prune deletes old finished instances with their events, consumed signals and delivered outbox rows; history stays")
    func prune() async throws {
        let engine = try await Engine.make("prune", workflows: [Self.flow])
        defer { Task { await engine.close() } }
        _ = try await engine.store.enroll((0..<30).map { EnrollmentRequest(contact: "P-\($0)") }, in: "flow")
        try await engine.drain()
        for i in 0..<20 { _ = try await engine.store.signal("touch", contact: "P-\(i)", payload: nil) }
        try await engine.drain()
        #expect(try await engine.scalar("SELECT count(*) FROM workflow_instances WHERE state = 'completed'") == 20)
        _ = try await engine.rows("UPDATE outbox SET status = 'delivered', delivered_at = now()")
        // 15 of the 20 finished a day ago; one of those still has a delivery to make.
        _ = try await engine.rows("UPDATE workflow_instances SET finished_at = now() - interval '1 day' WHERE state = 'completed' AND contact IN (SELECT 'P-' || g FROM generate_series(0, 14) g)")
        _ = try await engine.rows("UPDATE outbox SET status = 'pending', delivered_at = NULL WHERE contact = 'P-0'")
        let history: Int = try await engine.scalar("SELECT count(*) FROM ownership_history")
        let dry = try await engine.store.prune(olderThan: 3600, dryRun: true)
        #expect(dry.instances == 14)
        #expect(try await engine.scalar("SELECT count(*) FROM workflow_instances") == 30)
        let done = try await engine.store.prune(olderThan: 3600, batchSize: 4, dryRun: false)
        #expect(done.instances == 14 && done.events == dry.events && done.signals == 14 && done.outbox == 14 && done.batches == 4)
        #expect(try await engine.scalar("SELECT count(*) FROM workflow_instances") == 16)
        #expect(try await engine.scalar("SELECT count(*) FROM instance_events e WHERE NOT EXISTS (SELECT 1 FROM workflow_instances i WHERE i.id = e.instance)") == 0)
        #expect(try await engine.scalar("SELECT count(*) FROM ownership_history") == history)
        #expect(try await engine.store.prune(olderThan: 3600, dryRun: false).instances == 0)
    }

    @Test("erase cancels live instances, deletes signals, redacts messages and empties attributes; the history stays")
    func erase() async throws {
        let engine = try await Engine.make("erase", workflows: [Self.flow])
        defer { Task { await engine.close() } }
        let id = try await engine.start("flow", "E-1", ["email": "person@example.com", "name": "A Person"])
        try await engine.drain()
        _ = try await engine.store.signal("other", contact: "E-1", payload: #"{"note": "private"}"#)
        let report = try await engine.store.eraseContact("E-1", by: "privacy-officer")
        #expect(report.cancelled == 1)
        #expect(report.signals == 1)
        #expect(report.messages == 1)
        #expect(try await engine.state(id).state == "cancelled")
        #expect(try await engine.scalar("SELECT attributes::text FROM contacts WHERE id = 'E-1'") == "{}")
        #expect(try await engine.scalar("SELECT count(*) FROM outbox WHERE message LIKE '%E-1%'") == 0)
        #expect(try await engine.scalar("SELECT count(*) FROM ownership_history WHERE contact = 'E-1'") == 1)
        await #expect(throws: BatonError.self) { try await engine.store.eraseContact("nobody", by: "x") }
    }
}
