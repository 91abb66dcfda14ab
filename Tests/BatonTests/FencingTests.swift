import Baton
import BatonCore
import BatonTesting
import Foundation
import Postgres
import Testing

@Suite("Leases and fencing")
struct FencingTests {
    @Test func aWorkerWhoseLeaseWasTakenOverCannotCommit() async throws {
        let engine = try await Engine.make("fencing", workflows: [WorkerProcessTests.flow])
        defer { Task { await engine.close() } }
        let id = try await engine.start("flow", "C-1")
        let machine = Machine()
        let directory = try await engine.store.directory()

        let first = try await engine.store.claim(worker: "slow", limit: 10, lease: .seconds(30))
        #expect(first.instances.map(\.id) == [id])
        // The slow worker's lease runs out; another worker claims the instance (fence + 1).
        _ = try await engine.rows("UPDATE workflow_instances SET lease_expires_at = now() - interval '1 second'")
        let second = try await engine.store.claim(worker: "fast", limit: 10, lease: .seconds(30))
        #expect(second.instances.map(\.fence) == [first.instances[0].fence + 1])

        func advance(_ batch: ClaimedBatch) throws -> Advance {
            var d = directory
            var rotation = Rotation()
            return machine.advance(batch.instances[0], definition: try DefinitionLoader.workflow(from: WorkerProcessTests.flow, file: "flow"),
                                   directory: &d, rotation: &rotation, now: batch.now)
        }
        let stale = try await engine.store.commit([try advance(first)], worker: "slow", now: first.now)
        #expect(stale.isEmpty)
        #expect(try await engine.scalar("SELECT count(*) FROM instance_events") == 0)
        #expect(try await engine.scalar("SELECT count(*) FROM outbox") == 0)

        let fresh = try await engine.store.commit([try advance(second)], worker: "fast", now: second.now)
        #expect(fresh == [id])
        #expect(try await engine.state(id) == ("completed", "done"))
        #expect(try await engine.scalar("SELECT count(*) FROM ownership_history") == 1)
    }

    @Test func releasedInstancesAreReadyAgainAtOnce() async throws {
        let engine = try await Engine.make("release", workflows: [WorkerProcessTests.flow])
        defer { Task { await engine.close() } }
        let id = try await engine.start("flow", "C-1")
        let batch = try await engine.store.claim(worker: "w", limit: 10, lease: .seconds(30))
        try await engine.store.release(batch.instances.map { (id: $0.id, fence: $0.fence) }, worker: "w")
        #expect(try await engine.state(id).state == "ready")
        try await engine.drain()
        #expect(try await engine.state(id) == ("completed", "done"))
    }

    /// Found by scripts/chaos: a reclaimed instance's timeline said "running → …" for its next step,
    /// since the claim took the expired row's state ('running') as the state the step started from.
    @Test func aReclaimedInstanceTimelineContinuesFromItsLastEntry() async throws {
        let engine = try await Engine.make("reclaimfrom", workflows: [WorkerProcessTests.flow])
        defer { Task { await engine.close() } }
        let id = try await engine.start("flow", "C-1")
        _ = try await engine.store.claim(worker: "dies", limit: 10, lease: .seconds(30))
        _ = try await engine.rows("UPDATE workflow_instances SET lease_expires_at = now() - interval '1 second'")
        let again = try await engine.store.claim(worker: "next", limit: 10, lease: .seconds(30))
        #expect(again.instances.map(\.state) == [.ready])
        #expect(again.reclaimed == 1)
        try await engine.store.release(again.instances.map { (id: $0.id, fence: $0.fence) }, worker: "next")
        try await engine.drain()
        let first: String = try await engine.scalar("SELECT from_state FROM instance_events WHERE instance = $1 ORDER BY seq LIMIT 1", [id])
        #expect(first == "ready")
    }
}
