import Baton
import BatonCore
import BatonHTTP
import BatonTesting
import Foundation
import Postgres
import Testing

/// Owner write-back to a fake HubSpot and a fake Salesforce (real HTTP servers on loopback), the
/// `owner.changed` webhook event, and the inbound hook recognising Baton's own writes.
@Suite("CRM owner write-back")
struct CRMWriteBackTests {
    static let hubSpotToken = "pat-na1-test-token"
    static let salesforceToken = "00Dxx!salesforce-test-token"
    static let hookSecret = "owner-hook-secret"

    static let teams = """
        teams:
          - name: sales
            kind: sales
            members:
              - { id: m1, name: Member One, crm: { hubspot: "101", salesforce: "005A01" } }
              - { id: m2, name: Member Two, crm: { hubspot: "102", salesforce: "005A02" } }
              - { id: m3, name: Member Three, crm: { hubspot: "103", salesforce: "005A03" } }
          - name: nocrm
            kind: sales
            members:
              - { id: ned, name: Ned Nocrm }
        """

    static func flow(_ name: String, team: String) -> String {
        """
        name: \(name)
        start: route
        steps:
          route:
            assign: { team: \(team), strategy: round_robin }
            next: done
          done:
            end: {}
        """
    }

    static var environment: [String: String] {
        ["HUBSPOT_TOKEN": hubSpotToken, "SALESFORCE_TOKEN": salesforceToken, "OWNER_HOOK_SECRET": hookSecret]
    }

    /// An engine with the CRM channels (and optionally a webhook asking for owner.changed) applied.
    static func engine(_ label: String, hubspot: FakeCRM?, salesforce: FakeCRM? = nil, hook: String? = nil,
                       rate: String? = nil) async throws -> Engine {
        let engine = try await Engine.make(label, teams: teams, workflows: [flow("lead", team: "sales"), flow("orphan", team: "nocrm")])
        var lines = ["channels:"]
        if let hubspot {
            lines.append("  - { name: hubspot, type: hubspot, token_env: HUBSPOT_TOKEN, base_url: \"\(hubspot.baseURL)\", "
                         + "sync_owner: true, timeout: 30s\(rate.map { ", rate: \"\($0)\"" } ?? "") }")
        }
        if let salesforce {
            lines.append("  - { name: salesforce, type: salesforce, token_env: SALESFORCE_TOKEN, instance_url: \"\(salesforce.baseURL)\", "
                         + "object: Lead, sync_owner: true, timeout: 30s }")
        }
        if let hook {
            lines.append("  - { name: owners, type: webhook, url: \"\(hook)\", secret_env: OWNER_HOOK_SECRET, events: [owner.changed], timeout: 30s }")
        }
        _ = try await engine.store.applyChannels(try DefinitionLoader.channels(from: lines.joined(separator: "\n"), file: "channels.yaml"))
        return engine
    }

    static func relay(_ engine: Engine, id: String = "relay") -> OutboxRelay {
        OutboxRelay(store: engine.store, configuration: OutboxRelayConfiguration(
            id: id, lease: .seconds(30), baseBackoff: .milliseconds(50), maxBackoff: .milliseconds(200),
            pollInterval: .milliseconds(50), untilIdle: true, drainLimit: .seconds(120)),
            environment: environment)
    }

    /// The CRM id of each contact's current owner in Baton.
    static func expectedOwners(_ engine: Engine, crm: String) async throws -> [String: String] {
        var result: [String: String] = [:]
        for row in try await engine.rows("SELECT c.id, m.crm ->> $1 AS crm FROM contacts c JOIN members m ON m.id = c.owner", [crm]) {
            result[try row.decode("id")] = try row.decode("crm")
        }
        return result
    }

    @Test("every ownership change reaches HubSpot and Salesforce as the owner at send time; queued changes collapse into one call")
    func writesOwnersAndCollapses() async throws {
        let hubspot = try await FakeCRM(.hubspot, token: Self.hubSpotToken)
        let salesforce = try await FakeCRM(.salesforce, token: Self.salesforceToken)
        let engine = try await Self.engine("crmwrite", hubspot: hubspot, salesforce: salesforce)
        defer { Task { await engine.close(); try? await hubspot.stop(); try? await salesforce.stop() } }
        for i in 1...12 { _ = try await engine.start("lead", "\(9000 + i)") }
        try await engine.drain()
        // Two more changes to one contact before anything is sent: one pending write-back holds them.
        try await engine.store.reassignByHand(contact: "9001", to: "m2", reason: "first", by: "ops")
        try await engine.store.reassignByHand(contact: "9001", to: "m3", reason: "second", by: "ops")
        #expect(try await engine.scalar("SELECT count(*) FROM outbox WHERE kind = 'owner_sync' AND channel = 'hubspot' AND contact = '9001'") == 1)
        try await Self.relay(engine).run()

        let expectedHubSpot = try await Self.expectedOwners(engine, crm: "hubspot")
        #expect(expectedHubSpot.count == 12)
        #expect(hubspot.owners == expectedHubSpot)
        #expect(hubspot.owners["9001"] == "103")
        #expect(hubspot.writes.count == 12, "one call per contact: \(hubspot.writes.map { "\($0.contact)=\($0.owner)" })")
        #expect(try await Self.expectedOwners(engine, crm: "salesforce") == salesforce.owners)
        #expect(salesforce.writes.count == 12)
        let request = try #require(salesforce.requests.first)
        #expect(request.path.hasPrefix("/services/data/v60.0/sobjects/Lead/"))
        #expect(request.headers["sforce-auto-assign"] == "FALSE")
        #expect(try await engine.scalar("SELECT count(*) FROM outbox WHERE kind = 'owner_sync' AND status <> 'delivered'") == 0)
        // A change now is written again, once.
        try await engine.store.reassignByHand(contact: "9002", to: "m1", reason: "third", by: "ops")
        try await Self.relay(engine).run()
        #expect(hubspot.owners["9002"] == "101")
    }

    @Test("an owner without a CRM id makes a dead delivery that names the member and the team-file fix")
    func missingCRMID() async throws {
        let hubspot = try await FakeCRM(.hubspot, token: Self.hubSpotToken)
        let engine = try await Self.engine("crmmissing", hubspot: hubspot)
        defer { Task { await engine.close(); try? await hubspot.stop() } }
        _ = try await engine.start("orphan", "77")
        try await engine.drain()
        try await Self.relay(engine).run()
        let error: String = try await engine.scalar("SELECT last_error FROM outbox WHERE kind = 'owner_sync' AND status = 'dead'")
        #expect(error.contains("member ned has no HubSpot id"))
        #expect(error.contains(#"crm: { hubspot: "<owner id>" }"#))
        #expect(error.contains("team file"))
        #expect(hubspot.requests.isEmpty)
    }

    @Test("a wrong token is a dead delivery naming the variable, never the token")
    func refusedToken() async throws {
        let hubspot = try await FakeCRM(.hubspot, token: "another-token")
        let engine = try await Self.engine("crmtoken", hubspot: hubspot)
        defer { Task { await engine.close(); try? await hubspot.stop() } }
        _ = try await engine.start("lead", "5")
        try await engine.drain()
        try await Self.relay(engine).run()
        let error: String = try await engine.scalar("SELECT last_error FROM outbox WHERE kind = 'owner_sync'")
        #expect(error.contains("HTTP 401") && error.contains("HUBSPOT_TOKEN"))
        #expect(!error.contains(Self.hubSpotToken))
    }

    @Test("a 429 storm: two relays slow to the channel's rate, every write arrives, no contact keeps a stale owner")
    func tooManyRequests() async throws {
        // The fake refuses more than 12 calls a second; the channel asks for at most 10.
        let hubspot = try await FakeCRM(.hubspot, token: Self.hubSpotToken, limit: (12, .seconds(1)))
        let engine = try await Self.engine("crm429", hubspot: hubspot, rate: "10/1s")
        defer { Task { await engine.close(); try? await hubspot.stop() } }
        for i in 1...40 { _ = try await engine.start("lead", "\(500 + i)") }
        try await engine.drain()
        hubspot.failNext(15, status: 429, retryAfter: 1)
        let relays = [Self.relay(engine, id: "r1"), Self.relay(engine, id: "r2")]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for relay in relays { group.addTask { try await relay.run() } }
            // Owners change while deliveries are held back.
            group.addTask {
                for i in 1...10 {
                    try await engine.store.reassignByHand(contact: "\(500 + i)", to: "m\(1 + i % 3)", reason: "moved", by: "ops")
                }
            }
            try await group.waitForAll()
        }
        // Deferred ones may have come due after the relays' drain: run once more.
        try await Self.relay(engine, id: "r3").run()
        #expect(hubspot.tooManyRequests >= 15)
        #expect(hubspot.owners == (try await Self.expectedOwners(engine, crm: "hubspot")))
        #expect(hubspot.owners.count == 40)
        // 40 writes at 10 a second take at least 3.9 s, however fast the machine.
        let times = hubspot.writes.map(\.at)
        #expect(try #require(times.max()) - (try #require(times.min())) >= .seconds(3))
        #expect(try await engine.scalar("SELECT count(*) FROM outbox WHERE kind = 'owner_sync' AND status <> 'delivered'") == 0)
        #expect(try await engine.scalar("SELECT max(attempts) FROM outbox WHERE kind = 'owner_sync'") <= 3)
    }

    @Test("HubSpot echoing Baton's own write changes nothing; a person's change is recorded and not written back")
    func echoIsNotAChange() async throws {
        let hubspot = try await FakeCRM(.hubspot, token: Self.hubSpotToken)
        let engine = try await Self.engine("crmecho", hubspot: hubspot)
        defer { Task { await engine.close(); try? await hubspot.stop() } }
        _ = try await engine.store.applySources(try DefinitionLoader.sources(from: """
            sources:
              - name: hubspot
                kind: hubspot
                secret_env: HUBSPOT_CLIENT_SECRET
                events:
                  - { type: contact.propertyChange, property: hubspot_owner_id, owner_changed: true }
            """, file: "sources.yaml", workflows: try await engine.store.workflowNames()))
        let source = try #require(try await engine.store.source("hubspot"))
        _ = try await engine.start("lead", "42")
        try await engine.drain()
        try await Self.relay(engine).run()
        let written = try #require(hubspot.owners["42"])
        // Baton moves the contact on before HubSpot's webhook about the first write arrives.
        let other = written == "101" ? "m2" : "m1"
        try await engine.store.reassignByHand(contact: "42", to: other, reason: "moved", by: "ops")
        func change(_ id: String, _ value: String) -> InboundEvent {
            InboundEvent(id: id, type: "contact.propertyChange", contact: "42", property: "hubspot_owner_id", value: value,
                         actor: "userId:9")
        }
        let echo = try await engine.store.ingest([change("e1", written)], from: source)
        #expect(echo.owner_changed == 0)
        #expect(try await engine.scalar("SELECT owner FROM contacts WHERE id = '42'") == other)
        try await Self.relay(engine).run()
        #expect(hubspot.owners["42"] == (other == "m1" ? "101" : "102"))
        // A person sets m3 in HubSpot: recorded as theirs, and not written back to HubSpot.
        let calls = hubspot.requests.count
        hubspot.setOwner("103", of: "42")
        let human = try await engine.store.ingest([change("e2", "103")], from: source)
        #expect(human.owner_changed == 1)
        #expect(try await engine.scalar("SELECT owner FROM contacts WHERE id = '42'") == "m3")
        try await Self.relay(engine).run()
        #expect(hubspot.requests.count == calls)
        #expect(hubspot.owners["42"] == "103")
    }

    /// Applies a HubSpot source that reports owner changes, and returns it.
    static func ownerSource(_ engine: Engine) async throws -> Source {
        _ = try await engine.store.applySources(try DefinitionLoader.sources(from: """
            sources:
              - name: hubspot
                kind: hubspot
                secret_env: HUBSPOT_CLIENT_SECRET
                events:
                  - { type: contact.propertyChange, property: hubspot_owner_id, owner_changed: true }
            """, file: "sources.yaml", workflows: try await engine.store.workflowNames()))
        return try #require(try await engine.store.source("hubspot"))
    }

    @Test("HubSpot's late echo of an older write (A, then B written) is not a person's change; a person setting A later is")
    func lateEchoOfOlderWrite() async throws {
        let hubspot = try await FakeCRM(.hubspot, token: Self.hubSpotToken)
        let engine = try await Self.engine("crmlateecho", hubspot: hubspot)
        defer { Task { await engine.close(); try? await hubspot.stop() } }
        let source = try await Self.ownerSource(engine)
        _ = try await engine.start("lead", "43")
        try await engine.drain()
        try await Self.relay(engine).run()
        let first = try #require(hubspot.owners["43"])
        // HubSpot applied the first write before it answered it.
        let firstApplied = Date().addingTimeInterval(-0.01)
        let second = first == "101" ? "102" : "101"
        try await engine.store.reassignByHand(contact: "43", to: second == "101" ? "m1" : "m2", reason: "moved", by: "ops")
        try await Self.relay(engine).run()
        #expect(hubspot.owners["43"] == second)
        let historyBefore: Int = try await engine.scalar("SELECT count(*) FROM ownership_history WHERE contact = '43'")
        func change(_ id: String, _ value: String, at: Date) -> InboundEvent {
            InboundEvent(id: id, type: "contact.propertyChange", contact: "43", property: "hubspot_owner_id", value: value,
                         actor: "userId:9", occurredAt: at)
        }
        // The webhook about the first write arrives only after the second was written.
        let echo = try await engine.store.ingest([change("late", first, at: firstApplied)], from: source)
        #expect(echo.owner_changed == 0)
        #expect(try await engine.scalar("SELECT m.crm ->> 'hubspot' FROM contacts c JOIN members m ON m.id = c.owner WHERE c.id = '43'") == second)
        #expect(try await engine.scalar("SELECT count(*) FROM ownership_history WHERE contact = '43'") == historyBefore)
        #expect(try await engine.scalar("SELECT count(*) FROM signals WHERE contact = '43' AND name = 'owner_changed'") == 0)
        try await Self.relay(engine).run()
        #expect(hubspot.owners["43"] == second)
        // A minute later a person sets the first owner back in HubSpot: that is their change.
        hubspot.setOwner(first, of: "43")
        let human = try await engine.store.ingest([change("human", first, at: Date().addingTimeInterval(60))], from: source)
        #expect(human.owner_changed == 1)
        #expect(try await engine.scalar("SELECT m.crm ->> 'hubspot' FROM contacts c JOIN members m ON m.id = c.owner WHERE c.id = '43'") == first)
        let calls = hubspot.requests.count
        try await Self.relay(engine).run()
        #expect(hubspot.requests.count == calls)
        #expect(hubspot.owners["43"] == first)
    }

    @Test("outbox list shows a write-back's CRM record and owner id under TO, sent or still to send")
    func outboxListShowsCRMTarget() async throws {
        let hubspot = try await FakeCRM(.hubspot, token: Self.hubSpotToken)
        let salesforce = try await FakeCRM(.salesforce, token: Self.salesforceToken)
        let engine = try await Self.engine("crmoutboxlist", hubspot: hubspot, salesforce: salesforce)
        defer { Task { await engine.close(); try? await hubspot.stop(); try? await salesforce.stop() } }
        _ = try await engine.start("lead", "123")
        _ = try await engine.start("orphan", "77")
        try await engine.drain()
        try await Self.relay(engine).run()
        let sent = try #require(hubspot.owners["123"])
        let sentSF = try #require(salesforce.owners["123"])
        let owner: String = try await engine.scalar("SELECT owner FROM contacts WHERE id = '123'")
        let next = owner == "m3" ? "m2" : "m3"
        try await engine.store.reassignByHand(contact: "123", to: next, reason: "moved", by: "ops")
        let rows = try await engine.store.outbox(status: nil, limit: 100)
        let targets = Set(rows.compactMap(\.target))
        #expect(targets.contains("hubspot:contact/123 → owner \(sent)"), "\(targets)")
        #expect(targets.contains("salesforce:Lead/123 → owner \(sentSF)"), "\(targets)")
        // Not sent yet: the owner it would send now.
        let nextID = next == "m3" ? "103" : "102"
        #expect(targets.contains("hubspot:contact/123 → owner \(nextID) (\(next))"), "\(targets)")
        #expect(targets.contains("hubspot:contact/77 → ned (no hubspot id)"), "\(targets)")
        let (status, output) = try await runProgram(try Engine.binary("batonctl"), ["outbox", "list"],
                                                    environment: ["DATABASE_URL": engine.config.urlForChildren])
        #expect(status == 0, "\(output)")
        #expect(output.contains("hubspot:contact/123 → owner \(sent)"), "\(output)")
        let json = try await runProgram(try Engine.binary("batonctl"), ["outbox", "list", "--json", "--state", "delivered"],
                                        environment: ["DATABASE_URL": engine.config.urlForChildren])
        #expect(json.output.contains(#""target" : "hubspot:contact/123 → owner \#(sent)""#), "\(json.output)")
    }

    @Test("a webhook channel with events: [owner.changed] gets each change, signed, with who, why and when")
    func ownerChangedEvent() async throws {
        let receiver = try await HTTPReceiver()
        let engine = try await Self.engine("crmevent", hubspot: nil, hook: receiver.url)
        defer { Task { await engine.close(); try? await receiver.stop() } }
        _ = try await engine.start("lead", "8")
        try await engine.drain()
        try await engine.store.reassignByHand(contact: "8", to: "m3", reason: "key account", by: "ops")
        try await Self.relay(engine).run()
        let requests = receiver.requests
        #expect(requests.count == 2)
        #expect(requests.allSatisfy { $0.hasValidSignature(secret: Self.hookSecret) })
        let bodies = requests.compactMap { try? JSONSerialization.jsonObject(with: Data($0.body)) as? [String: Any] }
            .sorted { ($0["id"] as? String ?? "") < ($1["id"] as? String ?? "") }
        let manual = try #require(bodies.first { $0["actor"] as? String == "ops" })
        #expect(manual["event"] as? String == "owner.changed")
        #expect(manual["contact"] as? String == "8")
        #expect(manual["to"] as? String == "m3")
        #expect(manual["reason"] as? String == "key account")
        #expect(manual["team"] as? String == "sales")
        #expect((manual["at"] as? String)?.hasSuffix("Z") == true)
        let assigned = try #require(bodies.first { $0["actor"] as? String == "workflow" })
        #expect(assigned["from"] is NSNull)
        #expect(assigned["instance"] as? String != nil)
        #expect(Set(bodies.compactMap { $0["id"] as? String }).count == 2)
    }

    @Test("baton-server and baton-worker processes: a signed batch of 500 new HubSpot contacts ends with each contact's owner in HubSpot")
    func processesEndToEnd() async throws {
        let hubspot = try await FakeCRM(.hubspot, token: Self.hubSpotToken)
        let engine = try await Self.engine("crmproc", hubspot: hubspot)
        defer { Task { await engine.close(); try? await hubspot.stop() } }
        _ = try await engine.store.applySources(try DefinitionLoader.sources(from: """
            sources:
              - name: hubspot
                kind: hubspot
                secret_env: HUBSPOT_CLIENT_SECRET
                events:
                  - { type: contact.creation, start: lead }
                  - { type: contact.propertyChange, property: hubspot_owner_id, owner_changed: true }
            """, file: "sources.yaml", workflows: try await engine.store.workflowNames()))
        let server = try await APIServer(engine, arguments: ["--public-url", "https://baton.example.com"],
                                         environment: ["HUBSPOT_CLIENT_SECRET": HooksTests.secret])
        defer { Task { _ = await server.stop() } }
        let body = try JSONSerialization.data(withJSONObject: (1...500).map { HooksTests.creation($0, contact: 200_000 + $0) })
        let timestamp = String(Int64(Date().timeIntervalSince1970 * 1000))
        let path = "/hooks/hubspot/hubspot"
        let signature = InboundSignature.hubSpotSignature(
            secret: HooksTests.secret, method: "POST", uri: "https://baton.example.com" + path, body: body, timestamp: timestamp)
        let reply = try await server.send("POST", path, body: String(decoding: body, as: UTF8.self), headers: [
            "Content-Type": "application/json", "X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": timestamp,
        ])
        #expect(reply.status == 200, "\(reply.text)")
        #expect(reply.json["started"] as? Int == 500)

        func runWorker() async throws {
            let worker = try ChildProcess(try Engine.binary("baton-worker"), ["--id", "crm", "--until-idle", "--log-level", "warning"],
                                          environment: ["DATABASE_URL": engine.config.urlForChildren, "HUBSPOT_TOKEN": Self.hubSpotToken])
            let status = await worker.wait()
            #expect(status == 0, "\(worker.output)")
        }
        try await runWorker()
        #expect(hubspot.writes.count == 500)
        #expect(hubspot.owners == (try await Self.expectedOwners(engine, crm: "hubspot")))
        // Some owners change again (by hand): the last PATCH for each contact names its final owner.
        for i in 1...25 {
            try await engine.store.reassignByHand(contact: "\(200_000 + i)", to: "m\(1 + i % 3)", reason: "rebalance", by: "ops")
        }
        try await runWorker()
        var last: [String: String] = [:]
        for write in hubspot.writes { last[write.contact] = write.owner }
        let expected = try await Self.expectedOwners(engine, crm: "hubspot")
        #expect(expected.count == 500)
        #expect(last == expected)
        #expect(try await engine.scalar("SELECT count(*) FROM outbox WHERE kind = 'owner_sync' AND status <> 'delivered'") == 0)
    }
}
