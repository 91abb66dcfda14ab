import AsyncHTTPClient
import Baton
import BatonTesting
import Foundation
import NIOCore
import Testing

/// `baton-worker --metrics-port` and `baton-server`'s `/metrics`, scraped over HTTP from real processes.
@Suite("Metrics endpoints", .serialized)
struct MetricsEndpointTests {
    /// assign → notify → end, as the worker process tests run it.
    static let flow = WorkerProcessTests.flow

    /// Every metric family name in a Prometheus text exposition.
    static func names(_ text: String) -> Set<String> {
        Set(text.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }.map { line in
            String(line.prefix { $0 != "{" && $0 != " " })
        })
    }

    static func isValidName(_ name: String) -> Bool {
        name.range(of: #"^[a-zA-Z_:][a-zA-Z0-9_:]*$"#, options: .regularExpression) != nil
    }

    @Test("a worker's metrics port serves /metrics, /healthz and /readyz; the step counters rise")
    func workerMetrics() async throws {
        let engine = try await Engine.make("workermetrics", workflows: [Self.flow])
        defer { Task { await engine.close() } }
        _ = try await engine.store.enroll((0..<50).map { EnrollmentRequest(contact: "M-\($0)") }, in: "flow")
        let port = try freePort()
        let worker = try engine.spawnWorker(["--metrics-port", String(port), "--metrics-host", "127.0.0.1",
                                             "--poll-interval", "200ms", "--log-format", "json"])
        defer { worker.send(SIGKILL) }
        let client = try await MetricsClient(port: port)
        #expect(try await client.get("/healthz").status == 200)
        #expect(try await eventually(timeout: .seconds(60)) { try await client.get("/readyz").status == 200 })
        #expect(try await eventually(timeout: .seconds(60)) {
            try await engine.scalar("SELECT count(*) FROM workflow_instances WHERE state = 'completed'") == 50
        })
        var text = ""
        _ = try await eventually(timeout: .seconds(30)) {
            text = try await client.get("/metrics").text
            return text.contains("baton_instances{")
        }
        let names = Self.names(text)
        #expect(names.contains("baton_worker_up"))
        #expect(names.contains("baton_instances"))
        #expect(names.contains("baton_backlog_due"))
        for name in names { #expect(Self.isValidName(name), "\(name) breaks Prometheus' naming rules") }
        // JSON logs: every line of the worker's output parses as one JSON object.
        worker.send(SIGTERM)
        #expect(await worker.wait() == 0)
        let lines = worker.output.split(separator: "\n")
        #expect(!lines.isEmpty)
        for line in lines {
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["msg"] != nil && object?["level"] != nil, "not a JSON log line: \(line)")
        }
    }

    @Test("baton-server's /metrics counts its requests")
    func serverMetrics() async throws {
        let engine = try await Engine.make("servermetrics", workflows: [Self.flow])
        defer { Task { await engine.close() } }
        let server = try await APIServer(engine)
        _ = try await server.get("/v1/instances")
        let text = try await server.get("/metrics").text
        let names = Self.names(text)
        #expect(names.contains { $0.hasPrefix("http_server_request_duration") })
        for name in names { #expect(Self.isValidName(name), "\(name) breaks Prometheus' naming rules") }
        _ = await server.stop()
    }
}

/// Plain GETs against a metrics port (waits until it answers).
struct MetricsClient {
    let base: String

    init(port: Int, health: String = "/healthz") async throws {
        base = "http://127.0.0.1:\(port)"
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if let reply = try? await get(health), reply.status == 200 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestSetupError("nothing answers on \(base)")
    }

    func get(_ path: String) async throws -> (status: Int, text: String) {
        let response = try await APIServer.client.execute(HTTPClientRequest(url: base + path), timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 16 * 1024 * 1024)
        return (Int(response.status.code), String(buffer: body))
    }
}
