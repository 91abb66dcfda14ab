import BatonTesting
import Foundation
import Testing
import Yams

/// docker-compose.yml, the Dockerfile and the Prometheus rules are checked for structure here (no
/// Docker engine runs on the build machines; docs/operations.md says what was and was not run).
@Suite("Deployment files")
struct DeploymentFilesTests {
    static func text(_ path: String) throws -> String {
        try String(contentsOf: packageRoot.appendingPathComponent(path), encoding: .utf8)
    }

    static let executables = ["baton-worker", "baton-server", "batonctl"]

    @Test("compose: every service runs an image, migrate runs once before workers and server, all have healthchecks")
    func compose() throws {
        let root = try #require(try Yams.load(yaml: try Self.text("docker-compose.yml")) as? [String: Any])
        let services = try #require(root["services"] as? [String: [String: Any]])
        #expect(Set(services.keys).isSuperset(of: ["postgres", "migrate", "worker", "server"]))
        for (name, service) in services {
            #expect(service["image"] != nil || service["build"] != nil, "\(name) has neither image nor build")
            if let command = service["command"] as? [String], let program = command.first, name != "prometheus" {
                #expect(Self.executables.contains(program), "\(name) runs \(program), which the image does not have")
            }
        }
        #expect(services["postgres"]?["healthcheck"] != nil)
        let migrateDeps = try #require(services["migrate"]?["depends_on"] as? [String: [String: String]])
        #expect(migrateDeps["postgres"]?["condition"] == "service_healthy")
        #expect(services["migrate"]?["restart"] as? String == "no")
        #expect(services["migrate"]?["command"] as? [String] == ["batonctl", "migrate"])
        for name in ["worker", "server"] {
            let deps = try #require(services[name]?["depends_on"] as? [String: [String: String]], "\(name) has no depends_on")
            #expect(deps["migrate"]?["condition"] == "service_completed_successfully", "\(name) may start before migrate ends")
            #expect(services[name]?["healthcheck"] != nil, "\(name) has no healthcheck")
            #expect(services[name]?["ports"] == nil || name == "server", "\(name) publishes ports: --scale would clash")
        }
        for (name, service) in services {
            for port in service["ports"] as? [String] ?? [] {
                #expect(port.hasPrefix("127.0.0.1:"), "\(name) publishes \(port) beyond loopback")
            }
        }
    }

    /// The Dockerfile's instructions, continuation lines joined.
    static func dockerInstructions() throws -> [(keyword: String, arguments: String)] {
        var result: [(String, String)] = []
        var pending = ""
        for raw in try text("Dockerfile").split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if pending.isEmpty && (line.isEmpty || line.hasPrefix("#")) { continue }
            if line.hasSuffix("\\") { pending += line.dropLast() + " "; continue }
            let full = pending + line
            pending = ""
            let parts = full.split(separator: " ", maxSplits: 1).map(String.init)
            result.append((parts[0].uppercased(), parts.count > 1 ? parts[1] : ""))
        }
        return result
    }

    @Test("Dockerfile: a build stage and a slim runtime stage, COPY sources exist, the three executables are built")
    func dockerfile() throws {
        let instructions = try Self.dockerInstructions()
        let known: Set<String> = ["FROM", "RUN", "COPY", "WORKDIR", "ENV", "USER", "EXPOSE", "CMD", "ENTRYPOINT", "ARG", "LABEL", "HEALTHCHECK"]
        for instruction in instructions { #expect(known.contains(instruction.keyword), "unknown instruction \(instruction.keyword)") }
        let stages = instructions.filter { $0.keyword == "FROM" }.map { $0.arguments.components(separatedBy: " AS ").last ?? "" }
        #expect(stages == ["build", "runtime"])
        #expect(instructions.first?.keyword == "FROM")
        #expect(instructions.first { $0.keyword == "FROM" }?.arguments.hasPrefix("swift:") == true)
        #expect(instructions.last { $0.keyword == "FROM" }?.arguments.contains("slim") == true)
        var stage = ""
        for instruction in instructions {
            if instruction.keyword == "FROM" { stage = instruction.arguments.components(separatedBy: " AS ").last ?? ""; continue }
            guard instruction.keyword == "COPY" else { continue }
            var words = instruction.arguments.split(separator: " ").map(String.init)
            if let from = words.first(where: { $0.hasPrefix("--from=") }) {
                let source = String(from.dropFirst("--from=".count))
                #expect(stages.firstIndex(of: source).map { $0 < stages.firstIndex(of: stage)! } == true, "COPY --from=\(source) in \(stage)")
                continue
            }
            words.removeLast()
            for source in words {
                #expect(FileManager.default.fileExists(atPath: packageRoot.appendingPathComponent(source).path), "COPY \(source): no such file")
            }
        }
        let builds = instructions.filter { $0.keyword == "RUN" }.map(\.arguments).joined(separator: " ")
        for product in Self.executables { #expect(builds.contains("--product \(product)"), "\(product) is not built") }
        #expect(instructions.contains { $0.keyword == "USER" && $0.arguments != "root" })
    }

    @Test("the Prometheus alert rules pass promtool (when Debian's prometheus is installed)")
    func alertRules() async throws {
        let rules = packageRoot.appendingPathComponent("deploy/prometheus/alerts.yml").path
        let parsed = try #require(try Yams.load(yaml: try Self.text("deploy/prometheus/alerts.yml")) as? [String: Any])
        let groups = try #require(parsed["groups"] as? [[String: Any]])
        let alerts = groups.flatMap { $0["rules"] as? [[String: Any]] ?? [] }.compactMap { $0["alert"] as? String }
        #expect(Set(alerts) == ["BatonBacklogOld", "BatonSLABreachRateHigh", "BatonDeadDeliveries", "BatonNoWorker"])
        guard let promtool = ["/usr/bin/promtool", "/usr/local/bin/promtool"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            return
        }
        let result = try await runProgram(promtool, ["check", "rules", rules])
        #expect(result.status == 0, "\(result.output)")
    }
}
