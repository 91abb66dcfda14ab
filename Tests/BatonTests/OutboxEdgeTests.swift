@testable import Baton
import BatonCore
import BatonTesting
import Foundation
import Postgres
import Testing

/// The outbox relay at the edges (issue 11, defects 6 and 9): hostile Retry-After values, Slack
/// text an attribute could turn into a mention, and a channel slower than the relay's lease.
@Suite("Outbox relay at the edges", .serialized)
struct OutboxEdgeTests {
    static let secret = "edge-s3cr3t"

    /// An engine with the `tell` workflow (assign, then notify the owner through channel `hook`),
    /// `hook` defined by `channel` (a flow mapping without the name).
    func engine(_ label: String, channel: String, message: String = "{{contact.id}} for {{owner.name}}") async throws -> Engine {
        let config = try await TestDatabase.create(label)
        let store = Store(pool: ConnectionPool(config, maxConnections: 8, checkoutTimeout: .seconds(60)))
        _ = try await store.migrate()
        _ = try await store.applyTeams(try DefinitionLoader.teams(from: Engine.sevenMembers, file: "teams.yaml"))
        _ = try await store.applyChannels(try DefinitionLoader.channels(from: """
            channels:
              - { name: hook, \(channel) }
            """, file: "channels.yaml"))
        let text = OutboxTests.workflow().replacingOccurrences(of: "{{contact.id}} for {{owner.name}}", with: message)
        _ = try await store.applyWorkflow(
            try DefinitionLoader.workflow(from: text, file: "tell.yaml", known: try await store.knownNames()), source: text, file: nil)
        return Engine(config: config, store: store)
    }

    func relay(_ engine: Engine, id: String = "relay", lease: Duration = .seconds(30),
               environment: [String: String] = [:]) -> OutboxRelay {
        OutboxRelay(store: engine.store, configuration: OutboxRelayConfiguration(
            id: id, lease: lease, baseBackoff: .milliseconds(50), maxBackoff: .milliseconds(200),
            pollInterval: .milliseconds(50), untilIdle: true),
            environment: environment.merging(["BATON_TEST_SECRET": Self.secret]) { a, _ in a })
    }

    /// A Retry-After of 9.3e15 seconds overflowed on its way to milliseconds and stopped the relay;
    /// it is clamped to an hour now, and the other instance's message is delivered in the same run.
    @Test func anAbsurdRetryAfterIsClampedAndOtherDeliveriesGoOn() async throws {
        let receiver = try await HTTPReceiver { request, _ in
            request.bodyText.contains("\"contact\":\"C-1\"") ? (429, [("Retry-After", "9300000000000000")]) : (200, [])
        }
        let engine = try await engine("edge429", channel: "type: webhook, url: \"\(receiver.url)\", max_attempts: 5")
        defer { Task { await engine.close(); try? await receiver.stop() } }
        _ = try await engine.start("tell", "C-1")
        _ = try await engine.start("tell", "C-2")
        try await engine.drain()
        try await relay(engine).run()
        let rows = try await engine.rows("""
            SELECT contact, status, extract(epoch FROM next_attempt_at - now())::float8 FROM outbox ORDER BY contact
            """)
        #expect(try rows.map { try $0.decode(String.self, at: 1) } == ["pending", "delivered"])
        let wait = try rows[0].decode(Double.self, at: 2)
        #expect(wait > 1800 && wait <= 3600, "C-1 waits \(wait) s")
    }

    @Test func retryAfterTakesSecondsOrAnHTTPDateAndNeverMoreThanAnHour() {
        let now = Date(timeIntervalSince1970: 784_111_777)  // Sun, 06 Nov 1994 08:49:37 GMT
        #expect(RetryAfter.delay("120", now: now) == .seconds(120))
        #expect(RetryAfter.delay(" 0 ", now: now) == .zero)
        #expect(RetryAfter.delay("3601", now: now) == .seconds(3600))
        #expect(RetryAfter.delay("9300000000000000", now: now) == .seconds(3600))
        #expect(RetryAfter.delay(String(repeating: "9", count: 40), now: now) == .seconds(3600))
        #expect(RetryAfter.delay("Sun, 06 Nov 1994 08:50:07 GMT", now: now) == .seconds(30))
        #expect(RetryAfter.delay("Sunday, 06-Nov-94 08:50:07 GMT", now: now) == .seconds(30))
        #expect(RetryAfter.delay("Sun Nov  6 08:50:07 1994", now: now) == .seconds(30))
        #expect(RetryAfter.delay("Sat, 05 Nov 1994 08:49:37 GMT", now: now) == .zero)  // in the past: now
        #expect(RetryAfter.delay("Fri, 31 Dec 9999 23:59:59 GMT", now: now) == .seconds(3600))
        for garbage in ["", "-5", "1.5", "soon", "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:00:00 GMT", "Sun, 06 Foo 1994 08:49:37 GMT"] {
            #expect(RetryAfter.delay(garbage, now: now) == nil, "\(garbage)")
        }
    }

    /// An attribute holding `<!channel>` would notify a whole Slack channel: &, < and > are escaped.
    @Test func slackTextIsEscaped() async throws {
        let receiver = try await HTTPReceiver()
        let engine = try await engine("edgeslack", channel: "type: slack, url_env: BATON_TEST_SLACK_URL",
                                      message: "{{contact.id}}: {{contact.note}}")
        defer { Task { await engine.close(); try? await receiver.stop() } }
        _ = try await engine.start("tell", "C-1", ["note": "<!channel> ask <@U123> & co"])
        try await engine.drain()
        try await relay(engine, environment: ["BATON_TEST_SLACK_URL": receiver.url]).run()
        let request = try #require(receiver.requests.first)
        let body = try #require(try JSONSerialization.jsonObject(with: Data(request.body)) as? [String: String])
        let text = try #require(body["text"])
        #expect(text.hasSuffix(": C-1: &lt;!channel&gt; ask &lt;@U123&gt; &amp; co"), "\(text)")
        #expect(!text.contains("<"))
    }

    /// A channel whose timeout is longer than the relay's lease: the claim holds the row beyond the
    /// timeout, so a second relay does not send it again while the first still waits for the answer.
    @Test func aSlowChannelIsNotSentTwiceBySecondRelay() async throws {
        let receiver = try await HTTPReceiver { _, n in
            if n == 0 { usleep(3_000_000) }  // the first answer takes 3 s
            return (200, [])
        }
        let engine = try await engine("edgeslow", channel: "type: webhook, url: \"\(receiver.url)\", timeout: 6s")
        defer { Task { await engine.close(); try? await receiver.stop() } }
        _ = try await engine.start("tell", "C-1")
        try await engine.drain()
        let first = Task { try await relay(engine, id: "first", lease: .seconds(1)).run() }
        #expect(try await eventually(timeout: .seconds(30)) { receiver.requests.count >= 1 })
        try await Task.sleep(for: .milliseconds(1500))  // past the configured 1 s lease
        try await relay(engine, id: "second", lease: .seconds(1)).run()
        try await first.value
        #expect(try await engine.scalar("SELECT status FROM outbox") == "delivered")
        #expect(receiver.requests.count == 1)
    }

    @Test func theClaimLeaseOutlastsTheSlowestChannel() {
        let channels = [
            "log": BatonCore.Channel(name: "log", type: .log, timeout: TimeSpan(seconds: 3600)),
            "a": BatonCore.Channel(name: "a", type: .webhook, url: "http://a", timeout: TimeSpan(seconds: 40)),
            "b": BatonCore.Channel(name: "b", type: .slack, urlEnv: "B", timeout: TimeSpan(seconds: 5)),
        ]
        #expect(OutboxRelay.claimLease(.seconds(30), channels: channels) == .seconds(45))
        #expect(OutboxRelay.claimLease(.seconds(60), channels: channels) == .seconds(60))
        #expect(OutboxRelay.claimLease(.seconds(1), channels: [:]) == .seconds(1))
    }
}
