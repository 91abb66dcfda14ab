@testable import Baton
import BatonCore
import BatonTesting
import Foundation
import Postgres
import Testing

/// What goes wrong with one instance stays with that instance: it fails through the retry path
/// with its error recorded, and the rest of its batch runs.
@Suite("Poison instances fail alone", .serialized)
struct PoisonInstanceTests {
    static let broken = """
        name: broken
        start: done
        steps:
          done:
            end: {}
        """

    /// Makes every commit of `instance`'s steps fail inside the database, as a bad value would
    /// (the failure's own timeline entry, which carries the error, still goes in).
    func poison(_ engine: Engine, instance: Int) async throws {
        _ = try await engine.rows("""
            CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.instance = \(instance) AND NEW.error IS NULL THEN RAISE EXCEPTION 'poisoned instance'; END IF;
                RETURN NEW;
            END $$
            """)
        _ = try await engine.rows(
            "CREATE TRIGGER poison BEFORE INSERT ON instance_events FOR EACH ROW EXECUTE FUNCTION poison()")
    }

    /// A retry backoff longer than any test run: an instance that failed an attempt stays `ready`
    /// until `retryNow`, however slow the machine.
    static let patient = Machine(baseBackoff: 3600, maxBackoff: 3600)

    /// Runs the instances that are waiting out a retry backoff now.
    func retryNow(_ engine: Engine) async throws {
        _ = try await engine.rows("UPDATE workflow_instances SET run_at = now() WHERE state = 'ready'")
        try await engine.drain(machine: Self.patient)
    }

    @Test func anUnreadableAttributeOrDefinitionFailsOnlyItsOwnInstance() async throws {
        let engine = try await Engine.make("poisonread", workflows: [WorkerProcessTests.flow, Self.broken])
        defer { Task { await engine.close() } }
        _ = try await engine.store.enroll((0..<30).map { EnrollmentRequest(contact: "C-\($0)") }, in: "flow")
        let nested = try await engine.start("flow", "C-nested")
        let numeric = try await engine.start("flow", "C-numeric")
        let orphan = try await engine.start("broken", "C-orphan")
        // Written by another system: an object, and a number.
        _ = try await engine.rows(#"UPDATE contacts SET attributes = '{"address": {"city": "Berlin"}}' WHERE id = 'C-nested'"#)
        _ = try await engine.rows(#"UPDATE contacts SET attributes = '{"score": 42, "vip": true}' WHERE id = 'C-numeric'"#)
        // A stored version this build cannot decode.
        _ = try await engine.rows(#"UPDATE workflow_definitions SET spec = '{"nonsense": true}' WHERE name = 'broken'"#)

        try await engine.drain(machine: Self.patient)
        #expect(try await engine.scalar("SELECT count(*) FROM workflow_instances WHERE workflow = 'flow' AND state = 'completed'") == 31)
        #expect(try await engine.state(numeric) == ("completed", "done"))
        for id in [nested, orphan] {
            // Ready again after a backoff, one attempt spent.
            let row = try await engine.rows("SELECT state, attempt, last_error FROM workflow_instances WHERE id = $1", [id])[0]
            #expect(try row.decode(String.self, "state") == "ready")
            #expect(try row.decode(Int.self, "attempt") == 1)
        }
        let nestedError: String = try await engine.scalar("SELECT last_error FROM workflow_instances WHERE id = $1", [nested])
        #expect(nestedError.contains("attribute \"address\""))
        let orphanError: String = try await engine.scalar("SELECT last_error FROM workflow_instances WHERE id = $1", [orphan])
        #expect(orphanError.contains("broken v1 cannot be loaded"))

        // The normal retry path: after the default five attempts, failed, with the error kept.
        for _ in 0..<5 { try await retryNow(engine) }
        #expect(try await engine.state(nested).state == "failed")
        #expect(try await engine.state(orphan).state == "failed")
        #expect(try await engine.scalar("SELECT attempt FROM workflow_instances WHERE id = $1", [nested]) == 5)
        let timeline = try await engine.rows(
            "SELECT to_state, error FROM instance_events WHERE instance = $1 ORDER BY seq", [nested])
        #expect(timeline.count == 5)
        #expect(try timeline.last?.decode(String.self, "to_state") == "failed")
    }

    @Test func aCommitThatFailsForOneInstanceFailsItAloneWithItsStepsAttemptLimit() async throws {
        let limited = """
            name: limited
            start: route
            steps:
              route:
                assign: { team: sales, strategy: round_robin }
                max_attempts: 2
                next: done
              done:
                end: {}
            """
        let engine = try await Engine.make("poisoncommit", workflows: [limited])
        defer { Task { await engine.close() } }
        let ids = try await engine.store.enroll((0..<10).map { EnrollmentRequest(contact: "C-\($0)") }, in: "limited").map(\.instance)
        try await poison(engine, instance: ids[3])
        try await engine.drain(machine: Self.patient)
        #expect(try await engine.scalar("SELECT count(*) FROM workflow_instances WHERE state = 'completed'") == 9)
        #expect(try await engine.scalar("SELECT attempt FROM workflow_instances WHERE id = $1", [ids[3]]) == 1)
        try await retryNow(engine)
        let row = try await engine.rows("SELECT state, attempt, last_error FROM workflow_instances WHERE id = $1", [ids[3]])[0]
        #expect(try row.decode(String.self, "state") == "failed", "the step's max_attempts is 2")
        #expect(try row.decode(Int.self, "attempt") == 2)
        #expect(try row.decode(String.self, "last_error").contains("poisoned instance"))
    }
}
