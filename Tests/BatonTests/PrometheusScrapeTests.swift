import Baton
import BatonTesting
import Foundation
import Testing

/// Debian's prometheus, on loopback, scrapes a real baton-worker during a run; its HTTP API then
/// shows Baton's metrics (scripts/test installs prometheus).
@Suite("Prometheus scrape", .serialized)
struct PrometheusScrapeTests {
    static var prometheus: String? {
        ["/usr/bin/prometheus", "/usr/local/bin/prometheus"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    @Test("a real Prometheus scrapes a worker: the step counter rose, the batch histogram has buckets, every name is valid",
          .enabled(if: prometheus != nil, "Debian's prometheus is not installed (scripts/test installs it)"))
    func scrape() async throws {
        let engine = try await Engine.make("promscrape", workflows: [MetricsEndpointTests.flow])
        defer { Task { await engine.close() } }
        let metricsPort = try freePort()
        let worker = try engine.spawnWorker(["--metrics-port", String(metricsPort), "--metrics-host", "127.0.0.1",
                                             "--poll-interval", "200ms", "--log-format", "json"])
        defer { worker.send(SIGKILL) }

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("baton-prom-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = """
            global:
              scrape_interval: 1s
            scrape_configs:
              - job_name: baton-worker
                static_configs:
                  - targets: ["127.0.0.1:\(metricsPort)"]
            """
        try config.write(to: directory.appendingPathComponent("prometheus.yml"), atomically: true, encoding: .utf8)
        let promPort = try freePort()
        let prometheus = try ChildProcess(Self.prometheus!, [
            "--config.file=\(directory.appendingPathComponent("prometheus.yml").path)",
            "--storage.tsdb.path=\(directory.appendingPathComponent("data").path)",
            "--web.listen-address=127.0.0.1:\(promPort)",
        ])
        defer { prometheus.send(SIGKILL) }
        let api = try await MetricsClient(port: promPort, health: "/-/ready")

        _ = try await engine.store.enroll((0..<100).map { EnrollmentRequest(contact: "S-\($0)") }, in: "flow")
        #expect(try await eventually(timeout: .seconds(90)) {
            try await engine.scalar("SELECT count(*) FROM workflow_instances WHERE state = 'completed'") == 100
        })
        func query(_ promQL: String) async throws -> [[String: Any]] {
            let encoded = promQL.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let reply = try await api.get("/api/v1/query?query=\(encoded)")
            let object = try JSONSerialization.jsonObject(with: Data(reply.text.utf8)) as? [String: Any]
            return (object?["data"] as? [String: Any])?["result"] as? [[String: Any]] ?? []
        }
        func value(_ series: [String: Any]) -> Double { Double(((series["value"] as? [Any])?.last as? String) ?? "") ?? 0 }
        #expect(try await eventually(timeout: .seconds(60)) {
            (try await query("sum(baton_steps_total)")).first.map(value) ?? 0 >= 300
        })
        let buckets = try await query("baton_batch_duration_seconds_bucket")
        #expect(buckets.count > 1)
        #expect(try await query("up{job=\"baton-worker\"}").first.map(value) == 1)
        let names = try await api.get("/api/v1/label/__name__/values").text
        let list = ((try JSONSerialization.jsonObject(with: Data(names.utf8)) as? [String: Any])?["data"] as? [String]) ?? []
        #expect(list.contains("baton_steps_total"))
        for name in list { #expect(MetricsEndpointTests.isValidName(name), "\(name)") }
    }
}
