import Baton
import BatonCore
import BatonTesting
import Foundation
import Postgres
import Testing

/// A value tests change while a receiver's responder reads it. `@unchecked Sendable`: under `lock`.
final class Box<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: T
    init(_ value: T) { self.value = value }
    var get: T { lock.withLock { value } }
    func set(_ new: T) { lock.withLock { value = new } }
}

@Suite("Outbox delivery over real HTTP", .serialized)
struct OutboxTests {
    static let secret = "s3cr3t-for-tests"

    static func workflow(to recipients: String = "[owner]") -> String {
        """
        name: tell
        start: route
        steps:
          route:
            assign: { team: sales }
            next: notify
          notify:
            notify: { to: \(recipients), channel: hook, message: "{{contact.id}} for {{owner.name}}" }
            next: done
          done:
            end: {}
        """
    }

    /// An engine whose `hook` webhook channel points at `url`.
    /// `timeout` is the channel's: long by default, so a loaded machine never times a delivery out
    /// and sends it twice; short where a test needs the relay lease (derived from it) to run out.
    func engine(_ label: String, url: String, maxAttempts: Int = 3, recipients: String = "[owner]",
                timeout: String = "30s") async throws -> Engine {
        let config = try await TestDatabase.create(label)
        let store = Store(pool: ConnectionPool(config, maxConnections: 8, checkoutTimeout: .seconds(60)))
        _ = try await store.migrate()
        _ = try await store.applyTeams(try DefinitionLoader.teams(from: Engine.sevenMembers, file: "teams.yaml"))
        _ = try await store.applyChannels(try DefinitionLoader.channels(from: """
            channels:
              - { name: hook, type: webhook, url: "\(url)", secret_env: BATON_TEST_SECRET, timeout: \(timeout), max_attempts: \(maxAttempts) }
            """, file: "channels.yaml"))
        let text = Self.workflow(to: recipients)
        _ = try await store.applyWorkflow(
            try DefinitionLoader.workflow(from: text, file: "tell.yaml", known: try await store.knownNames()), source: text, file: nil)
        return Engine(config: config, store: store)
    }

    func relay(_ engine: Engine, id: String = "relay", lease: Duration = .seconds(30)) -> OutboxRelay {
        OutboxRelay(store: engine.store, configuration: OutboxRelayConfiguration(
            id: id, lease: lease, baseBackoff: .milliseconds(50), maxBackoff: .milliseconds(200),
            pollInterval: .milliseconds(50), untilIdle: true),
            environment: ["BATON_TEST_SECRET": Self.secret])
    }

    /// Runs relays until `condition` holds (each run stops when nothing is due right now).
    func relayUntil(_ engine: Engine, _ condition: @escaping () async throws -> Bool) async throws -> Bool {
        try await eventually(timeout: .seconds(30)) {
            try await relay(engine).run()
            return try await condition()
        }
    }

    func status(_ engine: Engine) async throws -> String {
        try await engine.scalar("SELECT string_agg(status, ',' ORDER BY id) FROM outbox")
    }

    @Test func deliveredOnceWithAValidSignatureAndTheDocumentedBody() async throws {
        let receiver = try await HTTPReceiver()
        let engine = try await engine("outboxok", url: receiver.url)
        defer { Task { await engine.close(); try? await receiver.stop() } }
        let instance = try await engine.start("tell", "C-1")
        try await engine.drain()
        try await relay(engine).run()
        #expect(try await status(engine) == "delivered")
        let requests = receiver.requests
        try #require(requests.count == 1)
        let request = requests[0]
        let key: String = try await engine.scalar("SELECT idempotency_key FROM outbox")
        #expect(request.method == "POST")
        #expect(request.headers["idempotency-key"] == key)
        #expect(request.hasValidSignature(secret: Self.secret))
        #expect(!request.hasValidSignature(secret: "wrong"))
        let body = try #require(try JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any])
        #expect(body["id"] as? String == key)
        #expect(body["workflow"] as? String == "tell")
        #expect(body["instance"] as? String == String(instance))
        #expect(body["step"] as? String == "notify")
        #expect(body["contact"] as? String == "C-1")
        #expect((body["recipient"] as? [String: Any])?["id"] as? String != nil)
        #expect((body["message"] as? String)?.hasPrefix("C-1 for ") == true)
        #expect(body["sent_at"] as? String != nil)
        // Nothing more to send: running the relay again sends nothing.
        try await relay(engine).run()
        #expect(receiver.requests.count == 1)
    }

    @Test func receiverDownThenUpIsRetriedAndDelivered() async throws {
        let first = try await HTTPReceiver()
        let port = first.port
        try await first.stop()
        let engine = try await engine("outboxdown", url: "http://127.0.0.1:\(port)/hook", maxAttempts: 20)
        defer { Task { await engine.close() } }
        _ = try await engine.start("tell", "C-1")
        try await engine.drain()
        try await relay(engine).run()
        #expect(try await status(engine) == "pending")
        let error: String? = try await engine.scalar("SELECT last_error FROM outbox")
        #expect(error?.contains("127.0.0.1") == true)
        let receiver = try await HTTPReceiver(port: port)
        defer { Task { try? await receiver.stop() } }
        #expect(try await relayUntil(engine) { try await status(engine) == "delivered" })
        #expect(receiver.requests.count == 1)
    }

    @Test func serverErrorsUntilTheLimitEndDeadVisibleAndRetriedByCommand() async throws {
        let healthy = Box(false)
        let receiver = try await HTTPReceiver { _, _ in (healthy.get ? 200 : 500, []) }
        let engine = try await engine("outbox500", url: receiver.url, maxAttempts: 3)
        defer { Task { await engine.close(); try? await receiver.stop() } }
        let instance = try await engine.start("tell", "C-1")
        try await engine.drain()
        #expect(try await relayUntil(engine) { try await status(engine) == "dead" })
        #expect(receiver.requests.count == 3)
        let error: String? = try await engine.scalar("SELECT last_error FROM outbox")
        #expect(error?.contains("HTTP 500") == true)
        let stuck = try await engine.store.stuck(olderThan: 0)
        #expect(stuck.map(\.reason) == ["delivery_failed"])
        #expect(stuck.first?.instance == String(instance))
        #expect(stuck.first?.suggestion.contains("batonctl outbox retry") == true)
        healthy.set(true)
        #expect(try await engine.store.retryOutbox(id: nil).count == 1)
        #expect(try await relayUntil(engine) { try await status(engine) == "delivered" })
        #expect(receiver.requests.count == 4)
        #expect(Set(receiver.requests.compactMap { $0.headers["idempotency-key"] }).count == 1)
    }

    @Test func aBadRequestIsDeadAtOnce() async throws {
        let receiver = try await HTTPReceiver { _, _ in (400, []) }
        let engine = try await engine("outbox400", url: receiver.url, maxAttempts: 8)
        defer { Task { await engine.close(); try? await receiver.stop() } }
        _ = try await engine.start("tell", "C-1")
        try await engine.drain()
        try await relay(engine).run()
        #expect(try await status(engine) == "dead")
        #expect(receiver.requests.count == 1)
        // Counted per channel and status (the console's outbox), with the stuck check's group.
        let channel: String = try await engine.scalar("SELECT channel FROM outbox")
        #expect(try await engine.store.outboxCountsByChannel() == [channel: ["dead": 1]])
        _ = try await engine.start("tell", "C-2")
        try await engine.drain()
        #expect(try await engine.store.outboxCountsByChannel() == [channel: ["dead": 1, "pending": 1]])
        let groups = try await engine.store.stuckGroups(olderThan: 0, limit: 10)
        #expect(groups.map(\.reason) == ["delivery_failed"] && groups[0].count == 1)
    }

    @Test func tooManyRequestsHonoursRetryAfter() async throws {
        let receiver = try await HTTPReceiver { _, n in n == 0 ? (429, [("Retry-After", "1")]) : (200, []) }
        let engine = try await engine("outbox429", url: receiver.url)
        defer { Task { await engine.close(); try? await receiver.stop() } }
        _ = try await engine.start("tell", "C-1")
        try await engine.drain()
        try await relay(engine).run()
        let wait: Double = try await engine.scalar("SELECT extract(epoch FROM next_attempt_at - now())::float8 FROM outbox")
        #expect(wait > 0.5)  // Retry-After: 1 s, not the 50 ms backoff
        #expect(try await relayUntil(engine) { try await status(engine) == "delivered" })
    }

    @Test func aRelayKilledAfterThePostResendsWithTheSameKey() async throws {
        let victim = Box<ChildProcess?>(nil)
        let receiver = try await HTTPReceiver { _, n in
            if n == 0, let child = victim.get {
                child.send(SIGKILL)
                usleep(200_000)  // the relay is gone before it can read the answer and mark the row
            }
            return (200, [])
        }
        let engine = try await engine("outboxcrash", url: receiver.url, timeout: "2s")
        defer { Task { await engine.close(); try? await receiver.stop() } }
        _ = try await engine.start("tell", "C-1")
        try await engine.drain()
        let child = try ChildProcess(try Engine.binary("baton-worker"),
                                     ["--only-outbox", "--outbox-lease", "1s", "--log-level", "warning"],
                                     environment: ["DATABASE_URL": engine.config.urlForChildren, "BATON_TEST_SECRET": Self.secret])
        victim.set(child)
        #expect(await child.wait() == 128 + SIGKILL)
        #expect(try await status(engine) == "delivering")
        try await Task.sleep(for: .milliseconds(1100))  // the dead relay's lease runs out
        #expect(try await relayUntil(engine) { try await status(engine) == "delivered" })
        let keys = receiver.requests.compactMap { $0.headers["idempotency-key"] }
        #expect(keys.count == 2)
        #expect(Set(keys).count == 1)
    }

    @Test func fiveRelaysInParallelDeliverTwoThousandRowsOnceEach() async throws {
        let receiver = try await HTTPReceiver()
        let engine = try await engine("outbox5", url: receiver.url)
        defer { Task { await engine.close(); try? await receiver.stop() } }
        var index = 0
        while index < 2000 {
            _ = try await engine.store.enroll((index..<index + 500).map { EnrollmentRequest(contact: "C-\($0)") }, in: "tell")
            index += 500
        }
        try await engine.drain()
        #expect(try await engine.scalar("SELECT count(*) FROM outbox") == 2000)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<5 { group.addTask { try await relay(engine, id: "relay-\(n)").run() } }
            try await group.waitForAll()
        }
        #expect(try await engine.scalar("SELECT count(*) FROM outbox WHERE status = 'delivered'") == 2000)
        let keys = receiver.requests.compactMap { $0.headers["idempotency-key"] }
        #expect(keys.count == 2000)
        #expect(Set(keys).count == 2000)
    }

    @Test func aMessageToAContactWithoutConsentIsSuppressedAndRecorded() async throws {
        let receiver = try await HTTPReceiver()
        let engine = try await engine("outboxconsent", url: receiver.url, recipients: "[contact, owner]")
        defer { Task { await engine.close(); try? await receiver.stop() } }
        let instance = try await engine.start("tell", "C-1", ["consent.email": "false", "email": "c1@example.com"])
        try await engine.drain()
        try await relay(engine).run()
        let rows = try await engine.rows("SELECT recipient, status FROM outbox ORDER BY recipient")
        #expect(try rows.map { "\(try $0.decode(String.self, at: 0)):\(try $0.decode(String.self, at: 1))" }.contains("contact:suppressed"))
        #expect(receiver.requests.count == 1)  // the owner's only
        let detail: String = try await engine.scalar("SELECT detail FROM instance_events WHERE instance = $1 AND step = 'notify'", [instance])
        #expect(detail.contains("suppressed"))
    }
}
