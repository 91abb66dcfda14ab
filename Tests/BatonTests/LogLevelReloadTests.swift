import Baton
import BatonCore
import BatonTesting
import Foundation
import Testing

/// SIGHUP re-reads the log level and format from the configuration file (flag > environment > file, as at
/// start) and applies it without a restart and without dropping work.
@Suite("SIGHUP reloads the log level", .serialized)
struct LogLevelReloadTests {
    /// A `log` channel: each delivery is an info line (`notification`), hidden at `notice`.
    @Test func sighupAppliesTheLogLevelFromTheRewrittenFile() async throws {
        let engine = try await Engine.make("loglevel", workflows: [])
        defer { Task { await engine.close() } }
        _ = try await engine.store.applyChannels(try DefinitionLoader.channels(
            from: "channels:\n  - { name: hook, type: log }\n", file: "channels.yaml"))
        let text = OutboxTests.workflow()
        _ = try await engine.store.applyWorkflow(
            try DefinitionLoader.workflow(from: text, file: "tell.yaml", known: try await engine.store.knownNames()),
            source: text, file: nil)
        func delivered() async throws -> Int { try await engine.scalar("SELECT count(*) FROM outbox WHERE status = 'delivered'") }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("baton-loglevel-\(getpid()).yaml").path
        try "log_level: notice\nlog_format: text\npoll_interval: 200ms\n".write(toFile: file, atomically: true, encoding: .utf8)
        defer { unlink(file) }
        let worker = try ChildProcess(
            try Engine.binary("baton-worker"), ["--config", file, "--id", "loglevel", "--channels-refresh", "1h"],
            environment: ["DATABASE_URL": engine.config.urlForChildren, "BATON_CONFIG": "", "BATON_LOG_LEVEL": "", "BATON_LOG_FORMAT": "", "BATON_POLL_INTERVAL": ""])
        defer { worker.send(SIGKILL) }

        _ = try await engine.start("tell", "C-1")
        #expect(try await eventually(timeout: .seconds(60)) { try await delivered() == 1 }, "output: \(worker.output)")
        // At notice, the info lines (worker started, the notification sent) are not written.
        #expect(!worker.output.contains("worker started") && !worker.output.contains(" notification"), "output: \(worker.output)")

        try "log_level: debug\nlog_format: json\npoll_interval: 200ms\n".write(toFile: file, atomically: true, encoding: .utf8)
        worker.send(SIGHUP)
        #expect(try await eventually(timeout: .seconds(30)) { worker.output.contains("SIGHUP: reloaded channels and the log level") },
                "output: \(worker.output)")
        #expect(worker.output.contains("log_level=notice -> debug (\(file):1)"), "output: \(worker.output)")
        #expect(worker.output.contains("log_format=text -> json (\(file):2)"), "output: \(worker.output)")

        _ = try await engine.start("tell", "C-2")
        #expect(try await eventually(timeout: .seconds(60)) { try await delivered() == 2 }, "output: \(worker.output)")
        // From the reload on: info lines, as JSON.
        #expect(try await eventually(timeout: .seconds(30)) { worker.output.contains(#""msg":"notification""#) }, "output: \(worker.output)")
        let afterReload = worker.output.components(separatedBy: "SIGHUP: reloaded").last ?? ""
        let notification = try #require(afterReload.split(separator: "\n").first { $0.contains(#""msg":"notification""#) })
        let fields = try #require(try JSONSerialization.jsonObject(with: Data(notification.utf8)) as? [String: Any])
        #expect(fields["level"] as? String == "info" && fields["contact"] as? String == "C-2", "\(notification)")
        #expect(!worker.output.contains("C-1"), "C-1's notification came at notice, before the reload: \(worker.output)")
        worker.send(SIGTERM)
        #expect(await worker.wait() == 0, "output: \(worker.output)")
        #expect(try await engine.scalar("SELECT count(*) FROM workflow_instances WHERE state = 'completed'") == 2)
        #expect(try await engine.scalar("SELECT count(*) FROM outbox WHERE status = 'delivered'") == 2)
    }
}
