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

    /// The user in a `postgresql://USER:PASSWORD@HOST/…` URL.
    static func user(inURL url: String) -> String? {
        guard let scheme = url.range(of: "://") else { return nil }
        let rest = url[scheme.upperBound...]
        guard let at = rest.firstIndex(of: "@") else { return nil }
        return String(rest[..<at].prefix { $0 != ":" })
    }

    @Test("compose: no Baton process is a superuser; the init script makes the roles of sql/roles.sql, each process logs in as its own")
    func composeRoles() throws {
        let root = try #require(try Yams.load(yaml: try Self.text("docker-compose.yml")) as? [String: Any])
        let services = try #require(root["services"] as? [String: [String: Any]])
        let postgres = try #require(services["postgres"])
        let environment = try #require(postgres["environment"] as? [String: Any])
        let superuser = try #require(environment["POSTGRES_USER"] as? String)
        // The init script runs once on an empty volume, as the superuser; it needs roles.sql beside it.
        let volumes = postgres["volumes"] as? [String] ?? []
        #expect(volumes.contains("./deploy/postgres-init:/docker-entrypoint-initdb.d:ro"))
        #expect(volumes.contains("./sql/roles.sql:/baton/roles.sql:ro"))
        let script = try Self.text("deploy/postgres-init/10-baton-roles.sh")
        #expect(FileManager.default.isExecutableFile(atPath: packageRoot.appendingPathComponent("deploy/postgres-init/10-baton-roles.sh").path))
        let logins = ["migrate": ("baton", "baton_owner"), "worker": ("worker", "baton_worker"), "server": ("server", "baton_admin")]
        for (name, (login, group)) in logins {
            let env = try #require(services[name]?["environment"] as? [String: Any], "\(name) has no environment")
            let url = try #require(env["DATABASE_URL"] as? String, "\(name) has no DATABASE_URL")
            let user = Self.user(inURL: url)
            #expect(user == login, "\(name) logs in as \(user ?? "?"), not \(login)")
            #expect(user != superuser, "\(name) logs in as the image's superuser")
            #expect(script.contains("CREATE ROLE \(login) LOGIN NOSUPERUSER PASSWORD") && script.contains("IN ROLE \(group);"),
                    "the init script does not make \(login) a member of \(group)")
            #expect(environment.keys.contains { key in url.contains("${\(key):-") }, "\(name)'s password is not the one the init script sets")
        }
        // The group roles are sql/roles.sql's, the database belongs to the owner, and roles.sql runs as the owner.
        for group in ["baton_owner", "baton_admin", "baton_worker", "baton_readonly"] {
            #expect(script.contains("CREATE ROLE \(group) NOLOGIN;"), "\(group)")
            #expect(try Self.text("sql/roles.sql").contains("'\(group)'"), "\(group) is not a role of sql/roles.sql")
        }
        #expect(script.contains("CREATE DATABASE baton OWNER baton;"))
        #expect(script.contains("SET ROLE baton") && script.contains("/baton/roles.sql"))
        #expect(!script.replacingOccurrences(of: "NOSUPERUSER", with: "").contains("SUPERUSER"), "the init script grants SUPERUSER")
        #expect(superuser != "baton")
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
