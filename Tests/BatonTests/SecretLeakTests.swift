import AsyncHTTPClient
import Baton
import BatonCore
import BatonTesting
import Foundation
import NIOCore
import NIOHTTP1
import Postgres
import Testing

/// No secret in logs, errors, `--json`, the timeline, stored errors or `ps` (issue 11, security):
/// one run that uses every kind of secret Baton handles — the database password (from a file), a
/// webhook signing secret and a Slack URL (from the environment), an API token, a CRM app secret —
/// with deliveries failing and requests forged, and a grep of everything it printed and stored.
@Suite("Secrets stay secret", .serialized)
struct SecretLeakTests {
    static let password = "pw-Q7x9Lr2mZ"
    static let webhookSecret = "whsec-K4d8Tn1vY"
    static let slackToken = "xoxb-S3cretPathT0ken"
    static let hubspotSecret = "hs-app-Z6c2Wq8pB"

    @Test("a run with failing deliveries, forged hooks and a bad URL prints and stores no secret")
    func noSecretAnywhere() async throws {
        let failing = try await HTTPReceiver { _, _ in (500, []) }
        let engine = try await Engine.make("secrets")
        defer { Task { await engine.close(); try? await failing.stop() } }
        // A role of its own with a password to leak, and the URL with it in a file.
        let role = "secret_\(UInt32.random(in: 0...UInt32.max))"
        try await engine.store.pool.withConnection { connection in
            _ = try await connection.executeScript("CREATE ROLE \(role) LOGIN PASSWORD '\(Self.password)' IN ROLE \(try TestDatabase.serverConfig().user)")
        }
        let base = try TestDatabase.serverConfig()
        let url = "postgresql://\(role):\(Self.password)@\(base.host):\(base.port)/\(engine.config.database)?sslmode=disable"
        let urlFile = FileManager.default.temporaryDirectory.appendingPathComponent("baton-url-\(role)")
        try url.write(to: urlFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: urlFile) }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("baton-secrets-\(role)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }

        let environment = [
            "DATABASE_URL": "",
            "BATON_TEST_WEBHOOK_SECRET": Self.webhookSecret,
            "BATON_TEST_SLACK_URL": "\(failing.url)/services/\(Self.slackToken)",
            "BATON_TEST_HUBSPOT_SECRET": Self.hubspotSecret,
        ]
        var outputs: [String] = []
        func ctl(_ arguments: [String]) async throws -> String {
            let (_, output) = try await runProgram(try Engine.binary("batonctl"), ["--database-url-file", urlFile.path] + arguments,
                                                   environment: environment)
            outputs.append(output)
            return output
        }
        func file(_ name: String, _ text: String) throws -> String {
            let path = folder.appendingPathComponent(name).path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }

        _ = try await ctl(["channels", "apply", try file("channels.yaml", """
            channels:
              - { name: signed, type: webhook, url: "\(failing.url)", secret_env: BATON_TEST_WEBHOOK_SECRET, max_attempts: 2 }
              - { name: chat, type: slack, url_env: BATON_TEST_SLACK_URL, max_attempts: 2 }
            """)])
        _ = try await ctl(["workflows", "apply", try file("tell.yaml", """
            name: tell
            start: route
            steps:
              route:
                assign: { team: sales, strategy: round_robin }
                next: hook
              hook:
                notify: { to: [owner], channel: signed, message: "lead {{contact.id}}" }
                next: chat
              chat:
                notify: { to: [owner], channel: chat, message: "lead {{contact.id}}" }
                next: done
              done:
                end: { outcome: told }
            """)])
        _ = try await ctl(["sources", "apply", try file("sources.yaml", """
            sources:
              - name: crm
                kind: hubspot
                secret_env: BATON_TEST_HUBSPOT_SECRET
                events:
                  - { type: contact.creation, start: tell }
            """)])
        let token = try await ctl(["tokens", "create", "--name", "leak-check", "--role", "admin"])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        outputs.removeLast()  // printing the new token is that command's whole job
        _ = try await ctl(["start", "tell", "--contact", "C-1"])

        // The worker and the server, with the URL from the file; `ps` read while they run.
        let worker = try ChildProcess(try Engine.binary("baton-worker"),
                                      ["--database-url-file", urlFile.path, "--poll-interval", "100ms", "--outbox-backoff", "50ms",
                                       "--log-level", "debug", "--log-format", "json"], environment: environment)
        let port = try freePort()
        let server = try ChildProcess(try Engine.binary("baton-server"),
                                      ["--database-url-file", urlFile.path, "--listen", "127.0.0.1:\(port)", "--log-level", "debug"],
                                      environment: environment)
        let api = "http://127.0.0.1:\(port)"
        #expect(try await eventually(timeout: .seconds(60)) {
            try await engine.scalar("SELECT count(*) FROM outbox WHERE status = 'dead'") == 2
        })
        let ps = try await runProgram("/bin/ps", ["-eo", "args"]).output
        outputs.append(ps)
        #expect(ps.contains("baton-worker"))

        // API traffic: good token, wrong token, a forged HubSpot hook, a bad request.
        func call(_ method: String, _ path: String, headers: [(String, String)], body: String? = nil) async throws -> String {
            var request = HTTPClientRequest(url: api + path)
            request.method = HTTPMethod(rawValue: method)
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            if let body { request.body = .bytes(ByteBuffer(string: body)) }
            let response = try await APIServer.client.execute(request, timeout: .seconds(30))
            let bytes = try await response.body.collect(upTo: 1 << 24)
            return "\(response.status) \(response.headers) \(String(buffer: bytes))"
        }
        outputs.append(try await call("GET", "/v1/outbox", headers: [("Authorization", "Bearer \(token)")]))
        outputs.append(try await call("GET", "/v1/stuck", headers: [("Authorization", "Bearer \(token)x")]))
        outputs.append(try await call("POST", "/hooks/hubspot/crm", headers: [("X-HubSpot-Signature-v3", "forged"),
                                                                             ("X-HubSpot-Request-Timestamp", "1")], body: "[]"))
        outputs.append(try await call("POST", "/v1/signals", headers: [("Authorization", "Bearer \(token)")], body: "{\"event\": 1}"))

        // Everything an operator reads.
        for arguments in [["outbox", "list", "--json"], ["outbox", "list"], ["stuck", "--json"], ["instances", "list", "--json"],
                          ["instances", "show", "1", "--json"], ["contacts", "show", "C-1", "--json"], ["tokens", "list", "--json"],
                          ["channels", "list"], ["audit", "--json"], ["stats", "--json"]] {
            _ = try await ctl(arguments)
        }
        // A database URL that cannot work: its error names the host, never the password.
        let wrong = url.replacingOccurrences(of: engine.config.database, with: "no_such_database")
        outputs.append(try await runProgram(try Engine.binary("batonctl"), ["--database-url", wrong, "stuck"], environment: environment).output)
        #expect(outputs.last?.contains("no_such_database") == true)

        worker.send(SIGTERM)
        server.send(SIGTERM)
        _ = await worker.wait()
        _ = await server.wait()
        outputs.append(worker.output)
        outputs.append(server.output)
        #expect(worker.output.contains("delivery"), "the worker logged its failing deliveries")
        for column in ["SELECT coalesce(string_agg(detail || ' ' || coalesce(error, ''), E'\\n'), '') FROM instance_events",
                       "SELECT coalesce(string_agg(message || ' ' || coalesce(last_error, ''), E'\\n'), '') FROM outbox",
                       "SELECT coalesce(string_agg(spec::text, E'\\n'), '') FROM channels",
                       "SELECT coalesce(string_agg(spec::text, E'\\n'), '') FROM sources"] {
            outputs.append(try await engine.scalar(column))
        }

        let everything = outputs.joined(separator: "\n")
        #expect(everything.count > 2000, "the run printed what it should")
        for secret in [Self.password, Self.webhookSecret, Self.slackToken, Self.hubspotSecret, token] {
            let leaks = everything.split(separator: "\n").filter { $0.contains(secret) }
            #expect(leaks.isEmpty, "secret leaked in: \(leaks.prefix(3))")
        }
        // The role owns nothing and holds no grant of its own (it acts through its membership), so
        // DROP ROLE alone removes it; DROP OWNED would need its privileges, which the server's
        // non-superuser login (scripts/pg) does not have.
        try await engine.store.pool.withConnection { _ = try await $0.executeScript("DROP ROLE \(role)") }
    }
}
