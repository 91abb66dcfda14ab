import Baton
import BatonCore
import BatonHTTP
import BatonTesting
import Foundation
import Testing

/// Signed inbound webhooks (HubSpot batches, generic events) against a real baton-server process.
@Suite("Inbound hooks")
struct HooksTests {
    static let secret = "hubspot-app-secret-for-tests"
    static let formsSecret = "forms-secret-for-tests"

    static let teams = Engine.sevenMembers.replacingOccurrences(
        of: "- { id: m3, name: Member Three }", with: "- { id: m3, name: Member Three, crm: { hubspot: \"9001\" } }")

    static let flow = """
        name: lead
        start: route
        steps:
          route:
            assign: { team: sales, strategy: round_robin }
            next: wait
          wait:
            wait_for_sla: { event: purchased, within: 1h }
            on_met: done
            on_breach: done
          done:
            end: {}
        """

    static let sources = """
        sources:
          - name: hubspot
            kind: hubspot
            secret_env: HUBSPOT_CLIENT_SECRET
            events:
              - { type: contact.creation, start: lead }
              - { type: contact.propertyChange, property: lifecyclestage, value: customer, signal: purchased }
              - { type: contact.propertyChange, property: hubspot_owner_id, owner_changed: true }
          - name: forms
            kind: webhook
            secret_env: BATON_FORMS_SECRET
            events:
              - { type: demo_requested, start: lead }
        """

    struct Setup {
        let engine: Engine
        let server: APIServer

        static func make(_ label: String) async throws -> Setup {
            let engine = try await Engine.make(label, teams: HooksTests.teams, workflows: [HooksTests.flow])
            _ = try await engine.store.applySources(try DefinitionLoader.sources(
                from: HooksTests.sources, file: "sources.yaml", workflows: try await engine.store.workflowNames()))
            let port = try freePort()
            let server = try await APIServer(
                engine, arguments: ["--public-url", "https://baton.example.com"],
                environment: ["HUBSPOT_CLIENT_SECRET": HooksTests.secret, "BATON_FORMS_SECRET": HooksTests.formsSecret, "UNUSED_PORT": "\(port)"])
            return Setup(engine: engine, server: server)
        }

        /// POSTs a HubSpot batch signed as HubSpot signs it (or with `badSecret`, or `age` old).
        func hubspot(_ events: [[String: Any]], source: String = "hubspot", secret: String = HooksTests.secret,
                     age: TimeInterval = 0) async throws -> APIServer.Reply {
            let body = try JSONSerialization.data(withJSONObject: events)
            let path = "/hooks/hubspot/\(source)"
            let timestamp = String(Int64((Date().timeIntervalSince1970 - age) * 1000))
            let signature = InboundSignature.hubSpotSignature(
                secret: secret, method: "POST", uri: "https://baton.example.com" + path, body: body, timestamp: timestamp)
            return try await server.send("POST", path, body: String(decoding: body, as: UTF8.self), headers: [
                "Content-Type": "application/json", "X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": timestamp,
            ])
        }

        func close() async {
            _ = await server.stop()
            await engine.close()
        }
    }

    static func creation(_ id: Int, contact: Int) -> [String: Any] {
        ["eventId": id, "subscriptionId": 1, "portalId": 62515, "appId": 1, "occurredAt": 1_700_000_000_000,
         "subscriptionType": "contact.creation", "attemptNumber": 0, "objectId": contact, "changeFlag": "CREATED",
         "changeSource": "CRM_UI"]
    }

    @Test("a signed batch of 500 contact.creation events starts 500 instances; the same batch again does nothing")
    func creationBatch() async throws {
        let s = try await Setup.make("hookbatch")
        defer { Task { await s.close() } }
        let batch = (1...500).map { Self.creation($0, contact: 100_000 + $0) }
        let first = try await s.hubspot(batch)
        #expect(first.status == 200, "\(first.text)")
        #expect(first.json["started"] as? Int == 500)
        #expect(try await s.engine.scalar("SELECT count(*) FROM workflow_instances") == 500)
        #expect(try await s.engine.scalar("SELECT count(*) FROM workflow_instances WHERE contact = '100001'") == 1)
        let again = try await s.hubspot(batch)
        #expect(again.status == 200)
        #expect(again.json["duplicates"] as? Int == 500)
        #expect(again.json["started"] as? Int == 0)
        #expect(try await s.engine.scalar("SELECT count(*) FROM workflow_instances") == 500)
    }

    @Test("a wrong signature, a stale timestamp or an unknown source is refused and nothing is stored")
    func refused() async throws {
        let s = try await Setup.make("hookrefused")
        defer { Task { await s.close() } }
        let batch = [Self.creation(1, contact: 42)]
        let forged = try await s.hubspot(batch, secret: "not-the-secret")
        #expect(forged.status == 401)
        #expect(forged.contentType == "application/problem+json")
        #expect(!forged.text.contains(Self.secret))
        #expect(try await s.hubspot(batch, age: 600).status == 401)
        #expect(try await s.hubspot(batch, source: "nobody").status == 404)
        #expect(try await s.hubspot(batch, source: "forms").status == 404)
        let unsigned = try await s.server.send("POST", "/hooks/hubspot/hubspot", body: "[]")
        #expect(unsigned.status == 401)
        #expect(try await s.engine.scalar("SELECT count(*) FROM workflow_instances") == 0)
        #expect(try await s.engine.scalar("SELECT count(*) FROM inbound_events") == 0)
    }

    @Test("an owner changed in HubSpot is a manual reassignment with an owner_changed signal; our own echo changes nothing")
    func ownerChanged() async throws {
        let s = try await Setup.make("hookowner")
        defer { Task { await s.close() } }
        _ = try await s.hubspot([Self.creation(1, contact: 7)])
        try await s.engine.drain()
        let change: [String: Any] = ["eventId": 2, "subscriptionType": "contact.propertyChange", "objectId": 7,
                                     "propertyName": "hubspot_owner_id", "propertyValue": "9001", "changeSource": "CRM_UI",
                                     "sourceId": "userId:555"]
        let reply = try await s.hubspot([change])
        #expect(reply.json["owner_changed"] as? Int == 1, "\(reply.text)")
        #expect(try await s.engine.scalar("SELECT owner FROM contacts WHERE id = '7'") == "m3")
        let reason: String = try await s.engine.scalar("SELECT reason FROM ownership_history WHERE contact = '7' ORDER BY id DESC LIMIT 1")
        #expect(reason == "manual:hubspot:userId:555 changed in HubSpot")
        #expect(try await s.engine.scalar("SELECT count(*) FROM signals WHERE contact = '7' AND name = 'owner_changed'") == 1)
        // The same owner again (as Baton's own write-back echoes it) is no change.
        var echo = change
        echo["eventId"] = 3
        echo["changeSource"] = "INTEGRATION"
        let echoed = try await s.hubspot([echo])
        #expect(echoed.json["owner_changed"] as? Int == 0)
        #expect(try await s.engine.scalar("SELECT count(*) FROM ownership_history WHERE contact = '7'") == 2)
        // lifecyclestage = customer is the purchased signal: the wait is met.
        let bought: [String: Any] = ["eventId": 4, "subscriptionType": "contact.propertyChange", "objectId": 7,
                                     "propertyName": "lifecyclestage", "propertyValue": "customer"]
        #expect(try await s.hubspot([bought]).json["signalled"] as? Int == 1)
        try await s.engine.drain()
        #expect(try await s.engine.scalar("SELECT state FROM workflow_instances WHERE contact = '7'") == "completed")
        #expect(try await s.engine.scalar("SELECT attributes ->> 'lifecyclestage' FROM contacts WHERE id = '7'") == "customer")
    }

    @Test("a generic webhook signed with Baton-Signature starts a workflow once per event id")
    func genericWebhook() async throws {
        let s = try await Setup.make("hookgeneric")
        defer { Task { await s.close() } }
        let body = #"{"id": "evt-1", "event": "demo_requested", "contact": "F-1", "attributes": {"country": "DE"}}"#
        let signature = InboundSignature.batonSignature(secret: Self.formsSecret, body: Data(body.utf8), t: Int(Date().timeIntervalSince1970))
        let first = try await s.server.send("POST", "/hooks/webhook/forms", body: body, headers: ["Baton-Signature": signature])
        #expect(first.status == 200, "\(first.text)")
        #expect(first.json["started"] as? Int == 1)
        let again = try await s.server.send("POST", "/hooks/webhook/forms", body: body, headers: ["Baton-Signature": signature])
        #expect(again.json["duplicates"] as? Int == 1)
        let forged = try await s.server.send("POST", "/hooks/webhook/forms", body: body, headers: ["Baton-Signature": "t=1,v1=00"])
        #expect(forged.status == 401)
        #expect(try await s.engine.scalar("SELECT attributes ->> 'country' FROM contacts WHERE id = 'F-1'") == "DE")
    }
}
