import Baton
import BatonTesting
import Foundation
import Testing

/// The HTTP API takes `record` (KIND:ID) wherever it takes `contact`, and shows records of any kind.
@Suite("Records over HTTP")
struct RecordsHTTPTests {
    @Test func startSignalAndShowADealByRecord() async throws {
        let engine = try await Engine.make("recordhttp", workflows: [RecordsCommandLineTests.companies, RecordsCommandLineTests.deals])
        let server = try await APIServer(engine)
        defer { Task { _ = await server.stop(); await engine.close() } }
        let token = try await engine.store.createToken(name: "ops", role: .admin, createdBy: "test")

        let company = try await server.send("POST", "/v1/instances", token: token, json: ["workflow": "accounts", "record": "company:acme"])
        #expect(company.status == 201, "\(company.text)")
        try await engine.drain()
        let deal = try await server.send("POST", "/v1/instances", token: token,
                                         json: ["workflow": "new-deal", "record": "deal:D-7", "attributes": ["company": "acme"]])
        #expect(deal.status == 201, "\(deal.text)")
        #expect(deal.json["contact"] as? String == "deal:D-7")
        try await engine.drain()

        let signal = try await server.send("POST", "/v1/signals", token: token, json: ["event": "closed_won", "record": "deal:D-7"])
        #expect(signal.status == 201, "\(signal.text)")
        #expect(signal.json["record"] as? String == "deal:D-7")
        #expect(signal.json["woken"] as? Int == 1)

        let shown = try await server.get("/v1/records/deal:D-7", token: token)
        #expect(shown.status == 200)
        #expect(shown.json["kind"] as? String == "deal")
        #expect(shown.json["owner"] as? String != nil)
        #expect(shown.json["owner"] as? String == (try await server.get("/v1/records/company:acme", token: token)).json["owner"] as? String)

        let both = try await server.send("POST", "/v1/signals", token: token, json: ["event": "x", "record": "deal:D-7", "contact": "C-1"])
        #expect(both.status == 400)
        let prefixed = try await server.send("POST", "/v1/instances", token: token, json: ["workflow": "new-deal", "contact": "deal:D-8"])
        #expect(prefixed.status == 400)
        #expect((prefixed.json["detail"] as? String)?.contains("send record: deal:D-8") == true)
        let wrongKind = try await server.send("POST", "/v1/instances", token: token, json: ["workflow": "new-deal", "contact": "C-1"])
        #expect(wrongKind.status == 400 || wrongKind.status == 422, "\(wrongKind.text)")
        #expect((wrongKind.json["detail"] as? String)?.contains("runs on deal records") == true)
        #expect(try await server.get("/v1/records/lead:L-1", token: token).status == 400)
        #expect(try await server.get("/v1/records/deal:nope", token: token).status == 404)
    }
}
