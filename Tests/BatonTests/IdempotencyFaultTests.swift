import Baton
import BatonCore
import BatonTesting
import Foundation
import Postgres
import Testing

/// An idempotent request whose database connection dies halfway (found by scripts/chaos: the key was
/// claimed in a transaction of its own, so a fault after the claim left it "in progress" for 24 hours
/// and every retry got a 409, while effects committed before the fault stayed).
@Suite("Idempotency under faults")
struct IdempotencyFaultTests {
    @Test("a request cut off mid-way commits nothing, key included; the retry runs once, the next replays")
    func faultMidRequest() async throws {
        let engine = try await Engine.make("idemfault")
        defer { Task { await engine.close() } }
        _ = try await engine.store.enroll([EnrollmentRequest(contact: "C-1")], in: try await workflowName(engine))
        let killer = ConnectionPool(engine.config, maxConnections: 1)
        defer { Task { await killer.close() } }
        let hash = Data("request".utf8)

        await #expect(throws: (any Error).self) {
            _ = try await engine.store.idempotent(token: "t", key: "k-1", method: "POST", path: "/v1/signals", requestHash: hash, {
                _ = try await engine.store.signal("first_touch", contact: "C-1", payload: nil)
                // The database goes away under the request (a restart, a failover).
                let pid: Int32 = try await engine.store.pool.withConnection { try await $0.backendPID() }
                try await killer.withConnection { _ = try await $0.query("SELECT pg_terminate_backend($1)", [Int(pid)]) }
                _ = try await engine.store.signal("purchased", contact: "C-1", payload: nil)
                return 1
            }, response: { _ in (201, Data()) })
        }
        #expect(try await engine.scalar("SELECT count(*) FROM signals") == 0, "the first signal rolled back with the request")
        #expect(try await engine.scalar("SELECT count(*) FROM idempotency_keys") == 0, "no key left claimed")

        let again = try await engine.store.idempotent(token: "t", key: "k-1", method: "POST", path: "/v1/signals", requestHash: hash, {
            try await engine.store.signal("first_touch", contact: "C-1", payload: nil).signal
        }, response: { _ in (201, Data("{}".utf8)) })
        guard case .ran = again else { Issue.record("the retry should run, got \(again)"); return }
        let third = try await engine.store.idempotent(token: "t", key: "k-1", method: "POST", path: "/v1/signals", requestHash: hash, {
            try await engine.store.signal("first_touch", contact: "C-1", payload: nil).signal
        }, response: { _ in (201, Data("{}".utf8)) })
        guard case .replay(201, Data("{}".utf8)) = third else { Issue.record("the repeat should replay, got \(third)"); return }
        #expect(try await engine.scalar("SELECT count(*) FROM signals") == 1)
    }

    @Test("two requests with one key at once: one runs, the other waits and replays")
    func concurrentRepeat() async throws {
        let engine = try await Engine.make("idemrace")
        defer { Task { await engine.close() } }
        _ = try await engine.store.enroll([EnrollmentRequest(contact: "C-1")], in: try await workflowName(engine))
        let store = engine.store
        let outcomes = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<2 {
                group.addTask {
                    let outcome = try await store.idempotent(token: "t", key: "same", method: "POST", path: "/v1/signals",
                                                             requestHash: Data("r".utf8), {
                        let id = try await store.signal("first_touch", contact: "C-1", payload: nil).signal
                        try await Task.sleep(for: .milliseconds(300))
                        return id
                    }, response: { (201, Data("\($0)".utf8)) })
                    switch outcome {
                    case .ran: return "ran"
                    case .replay: return "replay"
                    case .mismatch: return "mismatch"
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.sorted() == ["ran", "replay"])
        #expect(try await engine.scalar("SELECT count(*) FROM signals") == 1)
    }

    /// A one-step workflow on the fixture's teams, applied to `engine`.
    func workflowName(_ engine: Engine) async throws -> String {
        let text = """
            name: hold
            start: wait
            steps:
              wait:
                wait_for_sla: { event: never, within: 1h }
                on_met: done
                on_breach: done
              done:
                end: { outcome: done }
            """
        _ = try await engine.store.applyWorkflow(
            try DefinitionLoader.workflow(from: text, file: "hold.yaml", known: try await engine.store.knownNames()), source: text, file: nil)
        return "hold"
    }
}
