import Baton
import BatonTesting
import Foundation
import Postgres
import Testing

/// `BATON_OUTBOUND_HOSTS` (issue 11, security): deliveries reach only the hosts it names.
@Suite("Outbound host allow-list")
struct OutboundAllowListTests {
    @Test("exact names and addresses match without regard to case; *.example.com matches names under it only")
    func matching() throws {
        let list = try #require(OutboundAllowList(" Hooks.Slack.com, *.example.com ,10.0.0.7,[::1]"))
        #expect(list.allows(host: "hooks.slack.com"))
        #expect(list.allows(host: "HOOKS.SLACK.COM."))
        #expect(list.allows(host: "crm.example.com"))
        #expect(list.allows(host: "a.b.example.com"))
        #expect(!list.allows(host: "example.com"))
        #expect(!list.allows(host: "evilexample.com"))
        #expect(!list.allows(host: "example.com.evil.net"))
        #expect(list.allows(host: "10.0.0.7"))
        #expect(list.allows(host: "::1"))
        #expect(!list.allows(host: "slack.com"))
        #expect(OutboundAllowList(" , ") == nil, "an empty list allows everything")
        #expect(OutboundAllowList(environment: [:]) == nil)
    }

    @Test("a refusal names the host and never the URL's path or query")
    func refusalLine() throws {
        let list = try #require(OutboundAllowList("hooks.example.com"))
        let line = try #require(list.refusal(for: "https://hooks.slack.com/services/T0/B0/xoxb-secret-path?token=abc"))
        #expect(line == "host hooks.slack.com is not in BATON_OUTBOUND_HOSTS: delivery refused")
        #expect(list.refusal(for: "https://hooks.example.com/x") == nil)
    }

    @Test("a webhook to a host off the list is dead at once, unsent; on the list it is delivered")
    func deliveriesFollowTheList() async throws {
        let receiver = try await HTTPReceiver()
        defer { Task { try? await receiver.stop() } }
        let outbox = OutboxTests()
        let engine = try await outbox.engine("allowlist", url: receiver.url, maxAttempts: 5)
        defer { Task { await engine.close() } }
        _ = try await engine.start("tell", "C-1")
        try await engine.drain()

        let refusing = OutboxRelay(store: engine.store, configuration: OutboxRelayConfiguration(
            id: "relay", baseBackoff: .milliseconds(50), maxBackoff: .milliseconds(200), pollInterval: .milliseconds(50), untilIdle: true),
            environment: ["BATON_TEST_SECRET": OutboxTests.secret, "BATON_OUTBOUND_HOSTS": "hooks.example.com,*.example.net"])
        try await refusing.run()
        let dead = try await engine.rows("SELECT status, attempts, last_error FROM outbox")[0]
        #expect(try dead.decode(String.self, "status") == "dead")
        let error: String = try dead.decode("last_error")
        #expect(error.contains("host 127.0.0.1 is not in BATON_OUTBOUND_HOSTS: delivery refused (channel hook)"), "\(error)")
        #expect(!error.contains(OutboxTests.secret))
        #expect(receiver.requests.isEmpty)

        _ = try await engine.start("tell", "C-2")
        try await engine.drain()
        let allowing = OutboxRelay(store: engine.store, configuration: OutboxRelayConfiguration(
            id: "relay2", baseBackoff: .milliseconds(50), maxBackoff: .milliseconds(200), pollInterval: .milliseconds(50), untilIdle: true),
            environment: ["BATON_TEST_SECRET": OutboxTests.secret, "BATON_OUTBOUND_HOSTS": "hooks.example.com, 127.0.0.1"])
        try await allowing.run()
        #expect(try await engine.scalar("SELECT count(*) FROM outbox WHERE status = 'delivered'") == 1)
        #expect(receiver.requests.count == 1)
    }
}
