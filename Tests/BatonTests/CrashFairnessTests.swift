import Baton
import BatonCore
import BatonTesting
import Foundation
import Postgres
import Testing

/// A worker killed between taking round-robin positions and committing must not skew the
/// rotation: the positions it took are given back with its transaction.
@Suite("Round robin stays fair when a worker dies", .serialized)
struct CrashFairnessTests {
    @Test func aWorkerKilledMidCommitLeavesTheRotationEven() async throws {
        let engine = try await Engine.make("crashfair", workflows: [WorkerProcessTests.flow])
        defer { Task { await engine.close() } }
        // Three assignments first, so the rotation is mid-way through the team when the worker dies.
        _ = try await engine.store.enroll((0..<3).map { EnrollmentRequest(contact: "A-\($0)") }, in: "flow")
        try await engine.drain()
        var index = 0
        while index < 1397 {
            let batch = (index..<min(index + 500, 1397)).map { EnrollmentRequest(contact: "C-\($0)") }
            _ = try await engine.store.enroll(batch, in: "flow")
            index += 500
        }
        // Every instance's notification key is taken by an open transaction, so a worker's commit
        // waits inside its statement, after it has taken its positions.
        let blocker = try await Connection.connect(engine.config)
        try await blocker.simpleQuery("BEGIN")
        try await blocker.query(WorkerProcessTests.holdNotificationKeys)
        let doomed = try engine.spawnWorker(["--id", "doomed", "--concurrency", "1", "--batch-size", "100", "--lease", "1s",
                                             "--log-level", "warning"])
        let stuck = try await eventually(timeout: .seconds(30)) {
            try await engine.scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'baton-worker' AND wait_event_type = 'Lock'") > 0
        }
        #expect(stuck, "worker output: \(doomed.output)")
        doomed.send(SIGKILL)
        #expect(await doomed.wait() == 128 + SIGKILL)
        _ = try await engine.rows(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'baton-worker'")
        try await blocker.simpleQuery("ROLLBACK")
        await blocker.close()

        let workers = try (1...4).map {
            try engine.spawnWorker(["--id", "w\($0)", "--lease", "1s", "--poll-interval", "200ms", "--batch-size", "25",
                                    "--log-level", "warning"])
        }
        let finished = try await eventually(timeout: .seconds(120)) {
            try await engine.scalar("SELECT count(*) FROM workflow_instances WHERE state = 'completed'") == 1400
        }
        for worker in workers { worker.send(SIGTERM) }
        for worker in workers { #expect(await worker.wait() == 0, "output: \(worker.output)") }
        #expect(finished)
        #expect(try await engine.scalar("SELECT count(*) FROM instance_events WHERE worker = 'doomed'") == 0)
        let counts = try await engine.rows("SELECT to_owner, count(*) FROM ownership_history GROUP BY 1").map {
            try $0.decode(Int.self, at: 1)
        }
        #expect(counts.reduce(0, +) == 1400)
        #expect(counts.count == 7)
        #expect(counts.max()! - counts.min()! <= 1, "spread \(counts.sorted())")
    }
}
