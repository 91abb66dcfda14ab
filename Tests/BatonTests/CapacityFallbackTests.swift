@testable import Baton
import BatonCore
import BatonTesting
import Foundation
import Postgres
import Testing

/// Capacity holds on every commit path, also when a batch falls back to committing its instances
/// one by one because one of them cannot be committed.
@Suite("Capacity on the one-by-one commit path", .serialized)
struct CapacityFallbackTests {
    static let teams = """
        teams:
          - name: retention
            kind: retention
            members:
              - { id: r1, name: One, capacity: 1 }
        """

    @Test func theOneByOneCommitKeepsMembersWithinCapacity() async throws {
        let engine = try await Engine.make("capfallback", teams: Self.teams, workflows: [CapacityTests.workflow])
        defer { Task { await engine.close() } }
        let worker = Worker(store: engine.store, configuration: WorkerConfiguration(id: "w", concurrency: 1))
        _ = try await engine.start("keep", "A")
        #expect(try await worker.processOneBatch() == 1)
        #expect(try await engine.scalar("SELECT owner FROM contacts WHERE id = 'A'") == "r1")
        // The worker's directory snapshot (reused for a second) still shows r1 with room. A second
        // batch gives B to r1, and P, whose commit always fails, forces the one-by-one path.
        let b = try await engine.start("keep", "B")
        let p = try await engine.start("keep", "P")
        _ = try await engine.rows("""
            CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.instance = \(p) AND NEW.error IS NULL THEN RAISE EXCEPTION 'poisoned instance'; END IF;
                RETURN NEW;
            END $$
            """)
        _ = try await engine.rows(
            "CREATE TRIGGER poison BEFORE INSERT ON instance_events FOR EACH ROW EXECUTE FUNCTION poison()")
        #expect(try await worker.processOneBatch() == 2)
        #expect(try await engine.scalar("SELECT count(*) FROM contacts WHERE owner = 'r1'") == 1, "r1 has a capacity of 1")
        #expect(try await engine.state(b) == ("waiting", "wait"))
        #expect(try await engine.scalar("SELECT owner IS NULL AND queued_since IS NOT NULL FROM contacts WHERE id = 'B'"))
    }
}
