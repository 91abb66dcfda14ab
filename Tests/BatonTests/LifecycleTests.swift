import AsyncHTTPClient
import Baton
import BatonCore
import BatonTesting
import Foundation
import NIOCore
import Postgres
import Testing

/// baton-worker's lifecycle: one ServiceGroup, SIGTERM draining in order, SIGHUP reloading the
/// channels, the outbox relay woken by NOTIFY.
@Suite("Worker lifecycle", .serialized)
struct LifecycleTests {
    static let secret = "lifecycle-secret"

    /// An engine with the `tell` workflow (assign → notify over the `hook` channel → end), `hook`
    /// pointing at `url`.
    func engine(_ label: String, url: String) async throws -> Engine {
        let engine = try await Engine.make(label, workflows: [])
        _ = try await engine.store.applyChannels(try DefinitionLoader.channels(from: Self.channels(url), file: "channels.yaml"))
        let text = OutboxTests.workflow()
        _ = try await engine.store.applyWorkflow(
            try DefinitionLoader.workflow(from: text, file: "tell.yaml", known: try await engine.store.knownNames()),
            source: text, file: nil)
        return engine
    }

    static func channels(_ url: String) -> String {
        """
        channels:
          - { name: hook, type: webhook, url: "\(url)", secret_env: BATON_TEST_SECRET, timeout: 30s, max_attempts: 3 }
        """
    }

    func worker(_ engine: Engine, _ arguments: [String]) throws -> ChildProcess {
        try ChildProcess(try Engine.binary("baton-worker"), ["--poll-interval", "200ms", "--log-format", "text"] + arguments,
                         environment: ["DATABASE_URL": engine.config.urlForChildren, "BATON_TEST_SECRET": Self.secret])
    }

    /// SIGHUP re-reads the channels: with channels otherwise cached for an hour, a delivery after
    /// `channels apply` + SIGHUP goes to the new URL; the process keeps running (before, SIGHUP
    /// ended it) and no instance is lost.
    @Test func sighupReloadsTheChannelsWithoutDroppingWork() async throws {
        let old = try await HTTPReceiver()
        let new = try await HTTPReceiver()
        let engine = try await engine("sighup", url: old.url)
        defer { Task { await engine.close(); try? await old.stop(); try? await new.stop() } }
        let worker = try worker(engine, ["--id", "hup", "--channels-refresh", "1h"])
        defer { worker.send(SIGKILL) }
        _ = try await engine.start("tell", "C-1")
        #expect(try await eventually(timeout: .seconds(60)) { old.requests.count == 1 })

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("baton-hup-\(getpid()).yaml").path
        try Self.channels(new.url).write(toFile: file, atomically: true, encoding: .utf8)
        defer { unlink(file) }
        let applied = try await runProgram(try Engine.binary("batonctl"), ["channels", "apply", file],
                                           environment: ["DATABASE_URL": engine.config.urlForChildren, "BATON_TEST_SECRET": Self.secret])
        #expect(applied.status == 0, "\(applied.output)")
        worker.send(SIGHUP)
        #expect(try await eventually(timeout: .seconds(30)) { worker.output.contains("SIGHUP: reloaded channels") },
                "output: \(worker.output)")

        _ = try await engine.start("tell", "C-2")
        #expect(try await eventually(timeout: .seconds(60)) { new.requests.count == 1 }, "output: \(worker.output)")
        #expect(old.requests.count == 1)
        #expect(new.requests.first?.hasValidSignature(secret: Self.secret) == true)
        worker.send(SIGTERM)
        #expect(await worker.wait() == 0, "output: \(worker.output)")
        #expect(try await engine.scalar("SELECT count(*) FROM workflow_instances WHERE state = 'completed'") == 2)
        #expect(try await engine.scalar("SELECT count(*) FROM outbox WHERE status = 'delivered'") == 2)
    }

    /// The relay waits on LISTEN baton_outbox, not only on its poll: with the poll set to an hour,
    /// a notification written by a step is still delivered. Shown without a stopwatch, as
    /// `notifyArrivesWithoutWaitingForAProbe` does for the listener; each wait is bounded by
    /// `eventually` rather than a time limit on the whole test, which would also count setting up
    /// the database (most of a minute when the whole suite starts at once).
    @Test func theRelayIsWokenByNotifyNotByItsPoll() async throws {
        let receiver = try await HTTPReceiver()
        let engine = try await engine("relaynotify", url: receiver.url)
        defer { Task { await engine.close(); try? await receiver.stop() } }
        let relay = OutboxRelay(store: engine.store, configuration: OutboxRelayConfiguration(
            id: "relay", pollInterval: .seconds(3600)), environment: ["BATON_TEST_SECRET": Self.secret])
        let running = Task { try await relay.run() }
        defer { running.cancel() }
        // The relay has looked once and found nothing, and its listener is subscribed.
        #expect(try await eventually(timeout: .seconds(30)) {
            try await engine.scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %baton_outbox%'") == 1
        })
        for (n, contact) in ["C-1", "C-2"].enumerated() {
            _ = try await engine.start("tell", contact)
            try await engine.drain()
            #expect(try await eventually(timeout: .seconds(60)) { receiver.requests.count == n + 1 })
        }
        await relay.stop()
        try await running.value
        #expect(try await engine.scalar("SELECT count(*) FROM outbox WHERE status = 'delivered'") == 2)
    }

    /// An admin's reassignment wakes the relay too: the owner.changed event the ownership trigger
    /// queues is delivered with the relay's poll set to an hour (before, it waited for the poll).
    @Test func anAdminsReassignmentWakesTheRelay() async throws {
        let receiver = try await HTTPReceiver()
        let engine = try await engine("relayreassign", url: receiver.url)
        defer { Task { await engine.close(); try? await receiver.stop() } }
        _ = try await engine.store.applyChannels(try DefinitionLoader.channels(from: """
            channels:
              - { name: owners, type: webhook, url: "\(receiver.url)", secret_env: BATON_TEST_SECRET, events: [owner.changed], timeout: 30s }
            """, file: "channels.yaml"))
        _ = try await engine.start("tell", "C-1")
        try await engine.drain()
        let relay = OutboxRelay(store: engine.store, configuration: OutboxRelayConfiguration(
            id: "relay", pollInterval: .seconds(3600)), environment: ["BATON_TEST_SECRET": Self.secret])
        let running = Task { try await relay.run() }
        defer { running.cancel() }
        // Everything queued so far (the step's notification, its owner.changed) is delivered by the
        // relay's first look; then its listener is subscribed.
        let before = try await engine.scalar("SELECT count(*) FROM outbox") as Int
        #expect(try await eventually(timeout: .seconds(60)) {
            try await engine.scalar("SELECT count(*) FROM outbox WHERE status = 'delivered'") == before
        })
        #expect(try await eventually(timeout: .seconds(30)) {
            try await engine.scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %baton_outbox%'") == 1
        })
        let owner: String = try await engine.scalar("SELECT owner FROM contacts WHERE id = 'C-1'")
        let other = try await engine.scalar("SELECT id FROM members WHERE id <> $1 ORDER BY id LIMIT 1", [owner]) as String
        _ = try await engine.store.reassign(contact: "C-1", to: other, reason: "by hand")
        #expect(try await eventually(timeout: .seconds(60)) {
            try await engine.scalar("SELECT count(*) FROM outbox WHERE status = 'delivered'") == before + 1
        })
        await relay.stop()
        try await running.value
        #expect(receiver.requests.contains { $0.bodyText.contains("by hand") })
    }

    /// SIGTERM with a delivery in flight: /readyz says draining while the relay finishes it, the
    /// metrics endpoint answers until then, the delivery is recorded, and the process exits 0.
    @Test func sigtermDrainsInOrderWhileReadyzSaysDraining() async throws {
        let receiver = try await HTTPReceiver(hold: .seconds(10))
        let engine = try await engine("drainorder", url: receiver.url)
        defer { Task { await engine.close(); try? await receiver.stop() } }
        let port = try freePort()
        let worker = try worker(engine, ["--id", "drain", "--metrics-port", String(port), "--metrics-host", "127.0.0.1"])
        defer { worker.send(SIGKILL) }
        let client = try await MetricsClient(port: port)
        #expect(try await eventually(timeout: .seconds(60)) { try await client.get("/readyz").status == 200 })
        _ = try await engine.start("tell", "C-1")
        #expect(try await eventually(timeout: .seconds(60)) { receiver.requests.count == 1 })
        worker.send(SIGTERM)
        // The delivery is held by the receiver: the process drains, /readyz says so, /metrics answers.
        var ready = (status: 0, text: "")
        let draining = try await eventually(timeout: .seconds(8)) {
            ready = try await client.get("/readyz")
            return ready.status == 503
        }
        #expect(draining && ready.text.contains("draining"), "\(ready.status) \(ready.text)")
        #expect(try await client.get("/metrics").status == 200)
        #expect(await worker.wait() == 0, "output: \(worker.output)")
        #expect(try await engine.scalar("SELECT string_agg(status, ',') FROM outbox") == "delivered")
        #expect(receiver.requests.count == 1)
        let output = worker.output
        let stopped = ["worker stopped", "outbox relay stopped"].map { output.range(of: $0)?.lowerBound }
        #expect(stopped[0] != nil && stopped[1] != nil && stopped[0]! < stopped[1]!, "the worker stops before the relay: \(output)")
    }

    /// A second SIGTERM while the first drains exits 1 at once: here the relay waits on a delivery
    /// the receiver holds (up to the channel's 30 s timeout), which the second signal abandons to
    /// its outbox lease.
    @Test func aSecondSigtermExitsAtOnce() async throws {
        let receiver = try await HTTPReceiver(hold: .seconds(120))
        let engine = try await engine("secondsignal", url: receiver.url)
        defer { Task { await engine.close(); try? await receiver.stop() } }
        let worker = try worker(engine, ["--id", "twice"])
        defer { worker.send(SIGKILL) }
        _ = try await engine.start("tell", "C-1")
        #expect(try await eventually(timeout: .seconds(60)) { receiver.requests.count == 1 })
        worker.send(SIGTERM)
        #expect(try await eventually(timeout: .seconds(20)) { worker.output.contains("worker stopped") }, "\(worker.output)")
        worker.send(SIGTERM)
        #expect(await worker.wait() == 1, "output: \(worker.output)")
        #expect(try await engine.scalar("SELECT string_agg(status, ',') FROM outbox") == "delivering")
    }
}
