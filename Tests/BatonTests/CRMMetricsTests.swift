import Baton
import BatonCore
import BatonHTTP
import BatonTesting
import Foundation
import Testing

/// The CRM integration's metrics, scraped from real processes: write-backs from a worker's
/// `--metrics-port`, inbound events from baton-server's `/metrics`.
@Suite("CRM metrics", .serialized)
struct CRMMetricsTests {
    /// The value of the sample of `name` whose labels include every one of `labels`; nil when none.
    static func sample(_ text: String, _ name: String, _ labels: [String: String] = [:]) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(name + "{") || line.hasPrefix(name + " ") {
            let parts = line.split(separator: " ")
            guard parts.count >= 2, labels.allSatisfy({ line.contains("\($0.key)=\"\($0.value)\"") }) else { continue }
            return Double(parts[parts.count - 1])
        }
        return nil
    }

    @Test("a worker's /metrics counts write-backs by CRM and outcome (ok, skipped after a person's change), rate-limit waits and call latency")
    func writeBackMetrics() async throws {
        let hubspot = try await FakeCRM(.hubspot, token: CRMWriteBackTests.hubSpotToken)
        let engine = try await CRMWriteBackTests.engine("crmmetrics", hubspot: hubspot, rate: "20/1s")
        defer { Task { await engine.close(); try? await hubspot.stop() } }
        let source = try await CRMWriteBackTests.ownerSource(engine)
        for i in 1...30 { _ = try await engine.start("lead", "\(800 + i)") }
        let port = try freePort()
        let worker = try ChildProcess(try Engine.binary("baton-worker"), [
            "--metrics-port", String(port), "--metrics-host", "127.0.0.1", "--poll-interval", "200ms", "--log-level", "warning",
        ], environment: ["DATABASE_URL": engine.config.urlForChildren, "HUBSPOT_TOKEN": CRMWriteBackTests.hubSpotToken])
        defer { worker.send(SIGKILL) }
        let client = try await MetricsClient(port: port)
        #expect(try await eventually(timeout: .seconds(120)) { hubspot.owners.count == 30 }, "\(worker.output)")
        // A person sets another owner in HubSpot: Baton takes it, and its write-back finds it there.
        let current = try #require(hubspot.owners["801"])
        let other = current == "101" ? "102" : "101"
        hubspot.setOwner(other, of: "801")
        let human = try await engine.store.ingest([InboundEvent(
            id: "h1", type: "contact.propertyChange", contact: "801", property: "hubspot_owner_id", value: other,
            actor: "userId:7", occurredAt: Date())], from: source)
        #expect(human.owner_changed == 1)
        var text = ""
        #expect(try await eventually(timeout: .seconds(60)) {
            text = try await client.get("/metrics").text
            return Self.sample(text, "baton_crm_writebacks_total", ["crm": "hubspot", "outcome": "skipped_human_change"]) == 1
        }, "\(text)")
        #expect(Self.sample(text, "baton_crm_writebacks_total", ["crm": "hubspot", "outcome": "ok"]) == 30)
        #expect(Self.sample(text, "baton_crm_writeback_duration_seconds_count", ["crm": "hubspot"]) == 30)
        // 30 calls at 20 a second with a burst of one: most wait for the channel's rate.
        #expect((Self.sample(text, "baton_crm_rate_limit_waits_total", ["crm": "hubspot", "reason": "limit"]) ?? 0) >= 1)
        #expect(Self.sample(text, "baton_outbox_deliveries_total", ["channel": "hubspot", "outcome": "delivered"]) == 31)
        #expect(hubspot.writes.count == 30)
        for name in MetricsEndpointTests.names(text) {
            #expect(MetricsEndpointTests.isValidName(name), "\(name) breaks Prometheus' naming rules")
        }
        worker.send(SIGTERM)
        #expect(await worker.wait() == 0)
    }

    @Test("baton-server's /metrics counts inbound events by source, type and outcome, and refused signatures")
    func inboundMetrics() async throws {
        let s = try await HooksTests.Setup.make("crminmetrics")
        defer { Task { await s.close() } }
        let batch = (1...4).map { HooksTests.creation($0, contact: 300 + $0) }
        #expect(try await s.hubspot(batch).status == 200)
        #expect(try await s.hubspot(batch).status == 200)  // redelivered: 4 duplicates
        let unmapped: [String: Any] = ["eventId": 9, "subscriptionType": "contact.deletion", "objectId": 301]
        #expect(try await s.hubspot([unmapped]).json["ignored"] as? Int == 1)
        #expect(try await s.hubspot(batch, secret: "forged").status == 401)
        let text = try await s.server.get("/metrics").text
        let name = "baton_inbound_events_total"
        #expect(Self.sample(text, name, ["source": "hubspot", "type": "contact.creation", "outcome": "started"]) == 4, "\(text)")
        #expect(Self.sample(text, name, ["source": "hubspot", "type": "contact.creation", "outcome": "duplicate"]) == 4)
        #expect(Self.sample(text, name, ["source": "hubspot", "type": "other", "outcome": "ignored"]) == 1)
        #expect(Self.sample(text, name, ["source": "hubspot", "type": "unknown", "outcome": "rejected_signature"]) == 1)
        for name in MetricsEndpointTests.names(text) {
            #expect(MetricsEndpointTests.isValidName(name), "\(name) breaks Prometheus' naming rules")
        }
    }
}
