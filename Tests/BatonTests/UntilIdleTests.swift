import Baton
import BatonCore
import BatonTesting
import Foundation
import Postgres
import Testing

/// `baton-worker --until-idle` as a cron job runs it (issue 11, defect 12): it delivers the
/// notifications its own run produced, and it ends when the database cannot be reached.
@Suite("baton-worker --until-idle", .serialized)
struct UntilIdleTests {
    /// An engine whose `tell` workflow notifies each owner through webhook channel `hook` at `url`.
    func engine(_ label: String, url: String) async throws -> Engine {
        let engine = try await Engine.make(label, workflows: [])
        _ = try await engine.store.applyChannels(try DefinitionLoader.channels(from: """
            channels:
              - { name: hook, type: webhook, url: "\(url)", max_attempts: 5 }
            """, file: "channels.yaml"))
        let text = OutboxTests.workflow()
        _ = try await engine.store.applyWorkflow(
            try DefinitionLoader.workflow(from: text, file: "tell.yaml", known: try await engine.store.knownNames()),
            source: text, file: nil)
        return engine
    }

    /// Waits for `child` to exit, at most `limit`; kills it and returns nil if it has not by then.
    func exitStatus(_ child: ChildProcess, within limit: Duration) async -> Int32? {
        await withTaskGroup(of: Int32?.self) { group in
            group.addTask { await child.wait() }
            group.addTask {
                try? await Task.sleep(for: limit)
                return nil
            }
            let first = await group.next() ?? nil
            if first == nil { child.send(SIGKILL) }
            group.cancelAll()
            return first
        }
    }

    /// 24 instances, 24 notifications: all delivered by the same run (they were left pending for the next one).
    @Test func itDeliversTheNotificationsOfItsOwnRun() async throws {
        let receiver = try await HTTPReceiver()
        let engine = try await engine("idledrain", url: receiver.url)
        defer { Task { await engine.close(); try? await receiver.stop() } }
        _ = try await engine.store.enroll((1...24).map { EnrollmentRequest(contact: "C-\($0)") }, in: "tell")
        let worker = try engine.spawnWorker(["--until-idle", "--log-level", "warning"])
        let status = await exitStatus(worker, within: .seconds(120))
        #expect(status == 0, "\(worker.output)")
        #expect(try await engine.scalar("SELECT count(*) FROM workflow_instances WHERE state = 'completed'") == 24)
        #expect(try await engine.scalar("SELECT count(*) FROM outbox WHERE status = 'delivered'") == 24)
        #expect(receiver.requests.count == 24)
    }

    /// A delivery whose retry is due beyond --drain-limit is left for a later run, and the run says so.
    @Test func aDeliveryInLongBackoffIsLeftAndReported() async throws {
        let receiver = try await HTTPReceiver { _, _ in (503, []) }
        let engine = try await engine("idleleft", url: receiver.url)
        defer { Task { await engine.close(); try? await receiver.stop() } }
        _ = try await engine.start("tell", "C-1")
        let worker = try engine.spawnWorker(["--until-idle", "--log-level", "warning", "--outbox-backoff", "1h", "--drain-limit", "2s"])
        let status = await exitStatus(worker, within: .seconds(120))
        #expect(status == 0, "\(worker.output)")
        #expect(try await engine.scalar("SELECT status FROM outbox") == "pending")
        #expect(worker.output.contains("deliveries left for a later run"), "\(worker.output)")
        #expect(receiver.requests.count == 1)
    }

    /// With no database it retried for ever (652 lines in 10 minutes); it gives up after
    /// --connect-timeout with exit 1 and one line saying why.
    @Test func itGivesUpOnAnUnreachableDatabase() async throws {
        let child = try ChildProcess(try Engine.binary("baton-worker"), [
            "--until-idle", "--connect-timeout", "2s", "--log-level", "error",
            "--database-url", "postgresql://baton@127.0.0.1:1/nowhere?sslmode=disable&connect_timeout=2",
        ])
        let status = await exitStatus(child, within: .seconds(60))
        #expect(status == 1, "\(child.output)")
        let lines = child.output.split(separator: "\n")
        #expect(lines.count == 1, "\(child.output)")
        #expect(lines.first?.hasPrefix("baton-worker: cannot reach the database at 127.0.0.1:1/nowhere within 2.0 seconds") == true,
                "\(child.output)")
    }
}

extension UntilIdleTests {
    /// Without --until-idle the worker waits for its database as long as it takes, one line per
    /// attempt (with backoff and jitter), and SIGTERM still stops it at once.
    @Test func theLongRunningWorkerKeepsRetryingOneLinePerAttempt() async throws {
        let child = try ChildProcess(try Engine.binary("baton-worker"), [
            "--log-level", "warning", "--log-format", "text", "--connect-timeout", "1s",
            "--database-url", "postgresql://baton@127.0.0.1:1/nowhere?sslmode=disable&connect_timeout=2",
        ])
        #expect(try await eventually(timeout: .seconds(30)) { child.output.contains("database not reachable; retrying") })
        try await Task.sleep(for: .seconds(2))  // past --connect-timeout, which only --until-idle obeys
        child.send(SIGTERM)
        let status = await exitStatus(child, within: .seconds(30))
        #expect(status == 0, "\(child.output)")
        let lines = child.output.split(separator: "\n")
        #expect(!lines.isEmpty)
        for line in lines {
            #expect(line.contains("database not reachable; retrying") && line.contains("retry_in="), "\(line)")
        }
    }
}
