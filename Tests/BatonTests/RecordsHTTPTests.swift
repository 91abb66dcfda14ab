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

    /// Starts for a deal the moment it becomes a customer.
    static let dealKickoff = """
        name: deal-kickoff
        subject: deal
        starts_on: { stage: customer }
        start: done
        steps:
          done:
            end: {}
        """

    /// `POST /v1/records/{KIND:ID}/stage {stage, reason?}`: an operator sets a stage by hand and gets
    /// `records stage --json`'s object; the token's name is the actor in the history; the refusals
    /// are problems carrying the CLI's one line, and write nothing.
    @Test func setAStageByHandOverHTTP() async throws {
        let engine = try await Engine.make("recordstagehttp", workflows: [RecordsCommandLineTests.deals, Self.dealKickoff])
        let server = try await APIServer(engine)
        defer { Task { _ = await server.stop(); await engine.close() } }
        let operatorToken = try await engine.store.createToken(name: "crm-ops", role: .operator_, createdBy: "test")
        let viewer = try await engine.store.createToken(name: "analyst", role: .viewer, createdBy: "test")
        func ctl(_ arguments: [String]) async throws -> (status: Int32, output: String) {
            try await runProgram(try Engine.binary("batonctl"), arguments,
                                 environment: ["DATABASE_URL": engine.config.urlForChildren, "BATON_USER": "tester"])
        }
        for deal in ["deal:D-3", "deal:D-7", "deal:D-9"] {
            let started = try await server.send("POST", "/v1/instances", token: operatorToken, json: ["workflow": "new-deal", "record": deal])
            #expect(started.status == 201, "\(started.text)")
        }
        try await engine.drain()

        let forbidden = try await server.send("POST", "/v1/records/deal:D-7/stage", token: viewer, json: ["stage": "customer"])
        #expect(forbidden.status == 403)
        #expect(forbidden.json["detail"] as? String == "token analyst is a viewer; setting a lifecycle stage needs an operator token")

        let set = try await server.send("POST", "/v1/records/deal:D-7/stage", token: operatorToken,
                                        json: ["stage": "customer", "reason": "contract signed"])
        #expect(set.status == 200, "\(set.text)")
        #expect(set.json["record"] as? String == "deal:D-7")
        #expect(set.json["from"] is NSNull)
        #expect(set.json["to"] as? String == "customer")
        #expect(set.json["changed"] as? Bool == true)
        let started = try #require(set.json["started"] as? [[String: Any]])
        #expect(started.map { $0["workflow"] as? String } == ["deal-kickoff"])
        // The same object `batonctl records stage --json` prints.
        let cli = try await ctl(["records", "stage", "deal:D-9", "customer", "--json"])
        #expect(cli.status == 0, "\(cli.output)")
        let cliObject = try #require(try JSONSerialization.jsonObject(with: Data(cli.output.utf8)) as? [String: Any])
        #expect(Set(cliObject.keys) == Set(set.json.keys))
        let shown = try await server.get("/v1/records/deal:D-7", token: viewer)
        #expect(shown.json["lifecycle"] as? String == "customer")
        let stages = try #require(shown.json["stages"] as? [[String: Any]])
        #expect(stages.map { $0["reason"] as? String } == ["stage - -> customer (manual:crm-ops: contract signed)"])

        // Already there: nothing written; a repeated Idempotency-Key replays the first answer.
        let again = try await server.send("POST", "/v1/records/deal:D-7/stage", token: operatorToken, json: ["stage": "customer"])
        #expect(again.status == 200)
        #expect(again.json["changed"] as? Bool == false)
        for attempt in 0..<2 {
            let keyed = try await server.send("POST", "/v1/records/deal:D-7/stage", token: operatorToken,
                                              json: ["stage": "at_risk"], headers: ["Idempotency-Key": "risk-1"])
            #expect(keyed.status == 200, "\(keyed.text)")
            #expect(keyed.json["changed"] as? Bool == true)
            #expect((keyed.headers.first(name: "Idempotent-Replayed") == "true") == (attempt == 1))
        }
        #expect(try await engine.scalar("SELECT count(*) FROM stage_history WHERE contact = 'deal:D-7'") == 2)

        // Refusals: problem+json with the line the CLI prints; nothing written.
        let before: Int = try await engine.scalar("SELECT count(*) FROM stage_history")
        func refusal(_ path: String, _ body: [String: Any], _ arguments: [String], status: Int) async throws {
            let reply = try await server.send("POST", path, token: operatorToken, json: body)
            #expect(reply.status == status, "\(path): \(reply.text)")
            #expect(reply.contentType == "application/problem+json")
            let line = try await ctl(["records", "stage"] + arguments)
            #expect(line.status == 1)
            #expect("error: " + (reply.json["detail"] as? String ?? "?") + "\n" == line.output, "\(reply.text) vs \(line.output)")
        }
        try await refusal("/v1/records/deal:D-3/stage", ["stage": "custmer"], ["deal:D-3", "custmer"], status: 400)
        try await refusal("/v1/records/deal:D-404/stage", ["stage": "customer"], ["deal:D-404", "customer"], status: 404)
        _ = try await engine.store.merge(keep: "deal:D-3", drop: "deal:D-7", reason: "same deal", by: "test")
        try await refusal("/v1/records/deal:D-7/stage", ["stage": "churned"], ["deal:D-7", "churned"], status: 409)
        let merged = try await server.send("POST", "/v1/records/deal:D-7/stage", token: operatorToken, json: ["stage": "churned"])
        #expect(merged.json["detail"] as? String == "deal:D-7 was merged into deal:D-3: set the stage on deal:D-3")
        #expect(try await server.send("POST", "/v1/records/deal:D-3/stage", token: operatorToken, json: [:]).status == 400)
        #expect(try await server.send("POST", "/v1/records/deal:D-3/stage", token: operatorToken, json: ["stage": 3]).status == 400)
        #expect(try await server.send("POST", "/v1/records/lead:L-1/stage", token: operatorToken, json: ["stage": "customer"]).status == 400)
        #expect(try await engine.scalar("SELECT count(*) FROM stage_history") == before)
        #expect(try await engine.scalar("SELECT lifecycle_stage FROM contacts WHERE id = 'deal:D-3'") == String?.none)
    }
}
