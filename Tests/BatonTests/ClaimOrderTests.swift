import Baton
import BatonCore
import BatonTesting
import Foundation
import Postgres
import Testing

/// Deadlines and reclaims must not wait behind a backlog of new work.
@Suite("Claim order", .serialized)
struct ClaimOrderTests {
    static let waiting = """
        name: waiting
        start: wait
        steps:
          wait:
            wait_for_sla: { event: touched, within: 1h }
            on_met: done
            on_breach: done
          done:
            end: {}
        """

    @Test func dueDeadlinesAndExpiredLeasesComeBeforeABacklogOfReadyWork() async throws {
        let engine = try await Engine.make("claimorder", workflows: [WorkerProcessTests.flow, Self.waiting])
        defer { Task { await engine.close() } }
        // Five waits whose deadline has passed, one instance whose worker died holding it.
        let waits = try await engine.store.enroll((0..<5).map { EnrollmentRequest(contact: "W-\($0)") }, in: "waiting")
            .map(\.instance)
        try await engine.drain()
        _ = try await engine.rows("""
            UPDATE workflow_instances SET run_at = now() - interval '1 second', deadline = now() - interval '1 second'
            WHERE workflow = 'waiting'
            """)
        let orphan = try await engine.start("flow", "E-1")
        _ = try await engine.store.claim(worker: "ghost", limit: 1, lease: .seconds(30))
        _ = try await engine.rows(
            "UPDATE workflow_instances SET lease_expires_at = now() - interval '1 second' WHERE lease_owner = 'ghost'")
        // Then a bulk import: 20,000 new instances, all due now.
        for chunk in 0..<10 {
            _ = try await engine.store.enroll(
                (0..<2000).map { EnrollmentRequest(contact: "B-\(chunk)-\($0)") }, in: "flow")
        }
        let first = try await engine.store.claim(worker: "w", limit: 50, lease: .seconds(30))
        let claimed = Set(first.instances.map(\.id))
        #expect(first.instances.count == 50)
        #expect(claimed.isSuperset(of: waits), "the due deadlines are in the first batch")
        #expect(claimed.contains(orphan), "the expired lease is in the first batch")
        #expect(first.instances.filter { $0.workflow == "flow" }.count == 45, "ready work fills the rest")
    }

    @Test func readyWorkIsTakenByPriorityThenAge() async throws {
        let engine = try await Engine.make("claimprio", workflows: [WorkerProcessTests.flow])
        defer { Task { await engine.close() } }
        let ids = try await engine.store.enroll((0..<10).map { EnrollmentRequest(contact: "C-\($0)") }, in: "flow")
            .map(\.instance)
        _ = try await engine.rows("UPDATE workflow_instances SET priority = 5 WHERE id = ANY($1::bigint[])", [[ids[7], ids[8]]])
        let batch = try await engine.store.claim(worker: "w", limit: 3, lease: .seconds(30))
        #expect(Set(batch.instances.map(\.id)) == [ids[7], ids[8], ids[0]])
    }
}
