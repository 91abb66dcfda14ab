import Baton
import BatonCore
import BatonTesting
import Foundation
import Postgres
import Testing

/// The HTTP API against a real baton-server process and a real database.
@Suite("HTTP API")
struct HTTPAPITests {
    static let flow = """
        name: flow
        start: route
        steps:
          route:
            assign: { team: sales, strategy: round_robin }
            next: wait
          wait:
            wait_for_sla: { event: first_touch, within: 1h }
            on_met: done
            on_breach: done
          done:
            end: {}
        """

    /// A migrated database with the flow applied, a running server, and a token of each role.
    struct Setup {
        let engine: Engine
        let server: APIServer
        let viewer: String
        let operator_: String
        let admin: String

        static func make(_ label: String) async throws -> Setup {
            let engine = try await Engine.make(label, workflows: [HTTPAPITests.flow])
            let server = try await APIServer(engine)
            return Setup(
                engine: engine, server: server,
                viewer: try await engine.store.createToken(name: "viewer-1", role: .viewer, createdBy: "test"),
                operator_: try await engine.store.createToken(name: "crm-sync", role: .operator_, createdBy: "test"),
                admin: try await engine.store.createToken(name: "ops-admin", role: .admin, createdBy: "test"))
        }

        func close() async {
            _ = await server.stop()
            await engine.close()
        }
    }

    @Test("health and readiness need no token; the contract is served")
    func health() async throws {
        let s = try await Setup.make("health")
        defer { Task { await s.close() } }
        #expect(try await s.server.get("/healthz").status == 200)
        let ready = try await s.server.get("/readyz")
        #expect(ready.status == 200)
        #expect(ready.json["schema_version"] as? Int == Store.knownSchemaVersion)
        let contract = try await s.server.get("/v1/openapi.yaml")
        #expect(contract.status == 200)
        #expect(contract.text.hasPrefix("openapi: 3.1.0"))
    }

    @Test("readyz is 503 on a database that was never migrated")
    func notReady() async throws {
        let config = try await TestDatabase.create("notready")
        let store = Store(pool: ConnectionPool(config, maxConnections: 1))
        let engine = Engine(config: config, store: store)
        let server = try await APIServer(engine)
        let ready = try await server.get("/readyz")
        #expect(ready.status == 503)
        #expect(ready.contentType == "application/problem+json")
        #expect((ready.json["detail"] as? String)?.contains("batonctl migrate") == true)
        _ = await server.stop()
        await engine.close()
    }

    @Test("missing, wrong and revoked tokens are 401 problems; a viewer is refused a write with 403")
    func authentication() async throws {
        let s = try await Setup.make("auth")
        defer { Task { await s.close() } }
        let missing = try await s.server.get("/v1/instances")
        #expect(missing.status == 401)
        #expect(missing.contentType == "application/problem+json")
        #expect(missing.json["type"] as? String == "/problems/unauthorized")
        #expect(try await s.server.get("/v1/instances", token: "baton_not-a-token").status == 401)
        #expect(try await s.server.send("GET", "/v1/instances", headers: ["Authorization": "Basic abc"]).status == 401)

        let doomed = try await s.engine.store.createToken(name: "doomed", role: .admin, createdBy: "test")
        try await s.engine.store.revokeToken(name: "doomed")
        #expect(try await s.server.get("/v1/instances", token: doomed).status == 401)

        let used = try await s.engine.store.createToken(name: "used", role: .viewer, createdBy: "test")
        #expect(try await s.server.get("/v1/instances", token: used).status == 200)
        try await s.engine.store.revokeToken(name: "used")
        #expect(try await eventually(timeout: .seconds(10)) { try await s.server.get("/v1/instances", token: used).status == 401 })

        #expect(try await s.server.get("/v1/instances", token: s.viewer).status == 200)
        let refused = try await s.server.send("POST", "/v1/instances", token: s.viewer, json: ["workflow": "flow", "contact": "C-1"])
        #expect(refused.status == 403)
        #expect(refused.json["type"] as? String == "/problems/forbidden")
        #expect(try await s.engine.scalar("SELECT count(*) FROM workflow_instances") == 0)
        let opRefused = try await s.server.send("POST", "/v1/contacts/C-1/reassign", token: s.operator_, json: ["to": "m1", "reason": "x"])
        #expect(opRefused.status == 403)
    }

    @Test("starting: 201 new, 200 for the live instance; an Idempotency-Key makes a repeat act once")
    func startAndIdempotency() async throws {
        let s = try await Setup.make("start")
        defer { Task { await s.close() } }
        let first = try await s.server.send("POST", "/v1/instances", token: s.operator_,
                                            json: ["workflow": "flow", "contact": "C-1", "attributes": ["country": "DE", "score": 7]])
        #expect(first.status == 201)
        let id = try #require(first.json["id"] as? String)
        #expect(first.json["workflow"] as? String == "flow")
        #expect(first.json["state"] as? String == "ready")
        #expect(first.headers.first(name: "location") == "/v1/instances/\(id)")
        let again = try await s.server.send("POST", "/v1/instances", token: s.operator_, json: ["workflow": "flow", "contact": "C-1"])
        #expect(again.status == 200)
        #expect(again.json["id"] as? String == id)

        let body: [String: Any] = ["workflow": "flow", "contact": "C-2"]
        let keyed1 = try await s.server.send("POST", "/v1/instances", token: s.operator_, json: body, headers: ["Idempotency-Key": "k-1"])
        let keyed2 = try await s.server.send("POST", "/v1/instances", token: s.operator_, json: body, headers: ["Idempotency-Key": "k-1"])
        #expect(keyed1.status == 201)
        #expect(keyed2.status == 201)
        #expect(keyed2.headers.first(name: "idempotent-replayed") == "true")
        #expect(keyed1.json["id"] as? String == keyed2.json["id"] as? String)
        #expect(try await s.engine.scalar("SELECT count(*) FROM workflow_instances WHERE contact = 'C-2'") == 1)
        let reused = try await s.server.send("POST", "/v1/instances", token: s.operator_, json: ["workflow": "flow", "contact": "C-3"],
                                             headers: ["Idempotency-Key": "k-1"])
        #expect(reused.status == 422)
        #expect(reused.json["type"] as? String == "/problems/idempotency-key-reused")
        #expect(try await s.engine.scalar("SELECT count(*) FROM workflow_instances WHERE contact = 'C-3'") == 0)

        let attributes = try await s.engine.scalar("SELECT attributes::text FROM contacts WHERE id = 'C-1'") as String
        #expect(attributes.contains("\"score\": \"7\""))
    }

    @Test("bad requests are 4xx problems with one clear line, never a 500")
    func badInput() async throws {
        let s = try await Setup.make("badinput")
        defer { Task { await s.close() } }
        let cases: [(String, String, String?, Int)] = [
            ("POST", "/v1/instances", "not json", 400),
            ("POST", "/v1/instances", "[1, 2]", 400),
            ("POST", "/v1/instances", #"{"workflow": "flow"}"#, 400),
            ("POST", "/v1/instances", #"{"workflow": 7, "contact": "C"}"#, 400),
            ("POST", "/v1/instances", #"{"workflow": "nope", "contact": "C"}"#, 404),
            ("POST", "/v1/instances", #"{"workflow": "flow", "contact": "C", "attributes": {"a": {"deep": 1}}}"#, 400),
            ("POST", "/v1/instances", #"{"workflow": "flow", "contact": "C\u0000"}"#, 400),
            ("POST", "/v1/instances", #"{"workflow": "flow", "contact": "'; DROP TABLE contacts; --"}"#, 201),
            ("GET", "/v1/instances?state=sleeping", nil, 400),
            ("GET", "/v1/instances?limit=0", nil, 400),
            ("GET", "/v1/instances?cursor=garbage", nil, 400),
            ("GET", "/v1/instances/999999", nil, 404),
            ("GET", "/v1/instances/abc", nil, 404),
            ("GET", "/v1/contacts/nobody", nil, 404),
            ("GET", "/v1/nothing-here", nil, 404),
            ("GET", "/v1/stuck?older_than=forever", nil, 400),
            ("POST", "/v1/signals", #"{"event": "first_touch", "contact": "nobody"}"#, 404),
            ("POST", "/v1/instances/999999/cancel", nil, 404),
        ]
        for (method, path, body, status) in cases {
            let reply = try await s.server.send(method, path, token: s.admin, body: body)
            #expect(reply.status == status, "\(method) \(path) \(body ?? ""): \(reply.status) \(reply.text)")
            if status >= 400 {
                #expect(reply.contentType == "application/problem+json", "\(path)")
                #expect((reply.json["detail"] as? String)?.isEmpty == false, "\(path)")
                #expect(reply.json["status"] as? Int == status)
            }
        }
        #expect(try await s.engine.scalar("SELECT count(*) FROM contacts") == 1)
        let big = String(repeating: "x", count: 70 * 1024)
        let tooBig = try await s.server.send("POST", "/v1/instances", token: s.admin, json: ["workflow": "flow", "contact": "C-9", "attributes": ["note": big]])
        #expect(tooBig.status == 413)
        #expect(try await s.engine.scalar("SELECT count(*) FROM contacts WHERE id = 'C-9'") == 0)
    }

    @Test("pagination over 1,000 instances with inserts in between: no row twice, none skipped")
    func pagination() async throws {
        let s = try await Setup.make("pages")
        defer { Task { await s.close() } }
        _ = try await s.engine.store.enroll((0..<1000).map { EnrollmentRequest(contact: "P-\($0)") }, in: "flow")
        var seen: [String] = []
        var cursor: String?
        var pages = 0
        repeat {
            let path = "/v1/instances?limit=37" + (cursor.map { "&cursor=\($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)" } ?? "")
            let page = try await s.server.get(path, token: s.viewer)
            #expect(page.status == 200)
            let items = page.json["items"] as? [[String: Any]] ?? []
            seen += items.compactMap { $0["id"] as? String }
            cursor = page.json["next_cursor"] as? String
            pages += 1
            if pages == 5 {
                _ = try await s.engine.store.enroll((0..<50).map { EnrollmentRequest(contact: "Q-\($0)") }, in: "flow")
            }
        } while cursor != nil && pages < 100
        #expect(seen.count == 1050)
        #expect(Set(seen).count == seen.count)
        let filtered = try await s.server.get("/v1/instances?contact=P-7", token: s.viewer)
        #expect((filtered.json["items"] as? [[String: Any]])?.count == 1)
        let newest = try await s.server.get("/v1/instances?limit=1&order=desc", token: s.viewer)
        #expect(((newest.json["items"] as? [[String: Any]])?.first?["contact"] as? String)?.hasPrefix("Q-") == true)
    }

    @Test("a workflow with mistakes comes back as 422 with each mistake's line, column and field")
    func validation() async throws {
        let s = try await Setup.make("validation")
        defer { Task { await s.close() } }
        let bad = """
            name: other
            start: route
            steps:
              route:
                assign: { team: sales, strategey: round_robin }
                next: nowhere
            """
        let reply = try await s.server.send("PUT", "/v1/workflows/other", token: s.admin, body: bad)
        #expect(reply.status == 422)
        #expect(reply.json["type"] as? String == "/problems/validation-failed")
        let errors = reply.json["errors"] as? [[String: Any]] ?? []
        #expect(errors.count >= 2)
        #expect(errors.contains { ($0["field"] as? String)?.contains("strategey") == true && $0["line"] as? Int == 5 })
        #expect(try await s.engine.scalar("SELECT count(*) FROM workflow_definitions WHERE name = 'other'") == 0)

        let good = HTTPAPITests.flow.replacingOccurrences(of: "name: flow", with: "name: other")
        let created = try await s.server.send("PUT", "/v1/workflows/other", token: s.admin, body: good)
        #expect(created.status == 201)
        #expect(created.json["version"] as? Int == 1)
        let unchanged = try await s.server.send("PUT", "/v1/workflows/other", token: s.admin, body: good)
        #expect(unchanged.status == 200)
        #expect(unchanged.json["created"] as? Bool == false)
        let mismatch = try await s.server.send("PUT", "/v1/workflows/third", token: s.admin, body: good)
        #expect(mismatch.status == 422)
        let listed = try await s.server.get("/v1/workflows", token: s.viewer)
        #expect(listed.array.map { $0["name"] as? String } == ["flow", "other"])
        #expect(try await s.server.get("/v1/workflows/other/versions/1", token: s.viewer).json["source"] as? String == good)
        #expect(try await s.server.get("/v1/workflows/other/versions/2", token: s.viewer).status == 404)

        let teams = try await s.server.send("PUT", "/v1/teams", token: s.admin, body: "teams:\n  - name: x\n    kind: wrong\n")
        #expect(teams.status == 422)
    }

    @Test("writes through the API name the token as the actor in timelines and ownership history")
    func actor() async throws {
        let s = try await Setup.make("actor")
        defer { Task { await s.close() } }
        let started = try await s.server.send("POST", "/v1/instances", token: s.operator_, json: ["workflow": "flow", "contact": "A-1"])
        let id = try #require(started.json["id"] as? String)
        try await s.engine.drain()
        let signal = try await s.server.send("POST", "/v1/signals", token: s.operator_, json: ["event": "first_touch", "contact": "A-1", "payload": ["by": "m1"]])
        #expect(signal.status == 201)
        #expect(signal.json["woken"] as? Int == 1)
        try await s.engine.drain()
        #expect(try await s.engine.state(Int(id)!).state == "completed")

        let second = try await s.server.send("POST", "/v1/instances", token: s.operator_, json: ["workflow": "flow", "contact": "A-2"])
        let secondID = try #require(second.json["id"] as? String)
        let cancelled = try await s.server.send("POST", "/v1/instances/\(secondID)/cancel", token: s.admin, json: ["reason": "duplicate"])
        #expect(cancelled.status == 200)
        #expect(cancelled.json["state"] as? String == "cancelled")
        let timeline = cancelled.json["timeline"] as? [[String: Any]] ?? []
        #expect(timeline.last?["worker"] as? String == "ops-admin")
        let again = try await s.server.send("POST", "/v1/instances/\(secondID)/cancel", token: s.admin)
        #expect(again.status == 400 || again.status == 409)
        // Found by schemathesis: resuming a cancelled instance was a 500 (a unique violation).
        _ = try await s.server.send("POST", "/v1/instances", token: s.operator_, json: ["workflow": "flow", "contact": "A-2"])
        let resumed = try await s.server.send("POST", "/v1/instances/\(secondID)/resume", token: s.admin, json: ["step": "route"])
        #expect(resumed.status >= 400 && resumed.status < 500, "\(resumed.status) \(resumed.text)")
        let third = try await s.server.send("POST", "/v1/instances", token: s.operator_, json: ["workflow": "flow", "contact": "A-3"])
        let thirdID = try #require(third.json["id"] as? String)
        let moved = try await s.server.send("POST", "/v1/instances/\(thirdID)/resume", token: s.admin, json: ["step": "wait"])
        #expect(moved.status == 200)
        #expect(moved.json["step"] as? String == "wait")
        #expect((moved.json["timeline"] as? [[String: Any]])?.last?["worker"] as? String == "ops-admin")

        let reassigned = try await s.server.send("POST", "/v1/contacts/A-1/reassign", token: s.admin, json: ["to": "m3", "reason": "speaks German"])
        #expect(reassigned.status == 200)
        #expect(reassigned.json["owner"] as? String == "m3")
        let history = reassigned.json["history"] as? [[String: Any]] ?? []
        #expect(history.last?["reason"] as? String == "manual:ops-admin speaks German")
        let shown = try await s.server.get("/v1/instances/\(id)", token: s.viewer)
        #expect((shown.json["timeline"] as? [[String: Any]])?.isEmpty == false)
        let retry = try await s.server.send("POST", "/v1/instances/\(id)/retry", token: s.admin)
        #expect(retry.status == 409)
    }

    @Test("bulk: bad lines are reported by number and skipped; strict stores nothing")
    func bulk() async throws {
        let s = try await Setup.make("bulk")
        defer { Task { await s.close() } }
        let lines = """
            {"workflow": "flow", "contact": "B-1", "attributes": {"country": "DE"}}
            not json

            {"workflow": "flow"}
            {"workflow": "ghost", "contact": "B-4"}
            {"contact": "B-5"}
            """
        let strict = try await s.server.send("POST", "/v1/instances/bulk?strict=true", token: s.operator_, body: lines)
        #expect(strict.status == 422)
        #expect(try await s.engine.scalar("SELECT count(*) FROM workflow_instances") == 0)
        let report = try await s.server.send("POST", "/v1/instances/bulk?workflow=flow", token: s.operator_, body: lines)
        #expect(report.status == 200)
        #expect(report.json["created"] as? Int == 2)
        let errors = report.json["errors"] as? [[String: Any]] ?? []
        #expect(errors.map { $0["line"] as? Int } == [2, 4, 5])
        let array = (0..<500).map { ["workflow": "flow", "contact": "J-\($0)"] }
        let many = try await s.server.send("POST", "/v1/instances/bulk", token: s.operator_, json: array)
        #expect(many.json["created"] as? Int == 500)
        #expect(try await s.engine.scalar("SELECT count(*) FROM workflow_instances") == 502)
    }

    @Test("operations listings answer with the CLI's objects")
    func operations() async throws {
        let s = try await Setup.make("ops")
        defer { Task { await s.close() } }
        _ = try await s.server.send("POST", "/v1/instances", token: s.operator_, json: ["workflow": "flow", "contact": "O-1"])
        try await s.engine.drain()
        let stats = try await s.server.get("/v1/stats?since=1h", token: s.viewer)
        #expect(stats.status == 200)
        #expect((stats.json["workflows"] as? [[String: Any]])?.first?["started"] as? Int == 1)
        #expect(try await s.server.get("/v1/stuck", token: s.viewer).status == 200)
        #expect(try await s.server.get("/v1/audit", token: s.viewer).status == 200)
        #expect(try await s.server.get("/v1/outbox?state=dead", token: s.viewer).status == 200)
        #expect(try await s.server.get("/v1/outbox?state=nope", token: s.viewer).status == 400)
        let contact = try await s.server.get("/v1/contacts/O-1", token: s.viewer)
        #expect(contact.json["owner"] as? String != nil)
        #expect(contact.json.keys.sorted() == ["attributes", "backup", "history", "id", "lifecycle", "owner", "team"])
    }

    @Test("SIGTERM stops the server with exit status 0")
    func gracefulStop() async throws {
        let s = try await Setup.make("sigterm")
        let status = await s.server.stop()
        #expect(status == 0)
        await s.engine.close()
    }
}
