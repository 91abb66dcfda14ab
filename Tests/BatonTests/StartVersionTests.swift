import Baton
import BatonCore
import BatonTesting
import Foundation
import Testing

/// A single start answers from what its one statement wrote, and runs the newest version even when
/// another process applied it after the server last looked.
@Suite("Single starts")
struct StartVersionTests {
    typealias Setup = HTTPAPITests.Setup

    static func json(_ data: Data) throws -> NSDictionary {
        try #require(try JSONSerialization.jsonObject(with: data) as? NSDictionary)
    }

    @Test("a 201 answers the same object GET /v1/instances/{id} does; a version applied elsewhere is used at once")
    func startAnswersTheStoredInstanceOfTheNewestVersion() async throws {
        let s = try await Setup.make("startversion")
        defer { Task { await s.close() } }
        _ = try await s.engine.rows("INSERT INTO contacts (id, owner, team) VALUES ('C-owned', 'm1', 'sales')")
        let first = try await s.server.send("POST", "/v1/instances", token: s.operator_,
                                            json: ["workflow": "flow", "contact": "C-owned", "attributes": ["country": "DE"]])
        #expect(first.status == 201)
        #expect(first.json["version"] as? Int == 1)
        #expect(first.json["owner"] as? String == "m1")
        let id = try #require(first.json["id"] as? String)
        let shown = try await s.server.get("/v1/instances/\(id)", token: s.viewer)
        #expect(try Self.json(first.body) == Self.json(shown.body))

        // Another process applies version 2 (the server's cache still knows version 1 only).
        let known = try await s.engine.store.knownNames()
        let v2 = HTTPAPITests.flow.replacingOccurrences(of: "within: 1h", with: "within: 2h")
        _ = try await s.engine.store.applyWorkflow(
            try DefinitionLoader.workflow(from: v2, file: "workflow.yaml", known: known), source: v2, file: nil)
        for contact in ["C-2", "C-3"] {
            let next = try await s.server.send("POST", "/v1/instances", token: s.operator_, json: ["workflow": "flow", "contact": contact])
            #expect(next.status == 201)
            #expect(next.json["version"] as? Int == 2, "\(next.text)")
        }
        #expect(try await s.engine.scalar("SELECT count(*) FROM workflow_instances WHERE version = 2") == 2)
        // The live instance is answered with 200 and its stored state, as before.
        let again = try await s.server.send("POST", "/v1/instances", token: s.operator_, json: ["workflow": "flow", "contact": "C-owned"])
        #expect(again.status == 200)
        #expect(try Self.json(again.body) == Self.json(shown.body))
    }
}
