import Baton
import BatonCore
import BatonTesting
import Foundation
import Testing

@Suite("batonctl simulate, workflows apply --dry-run, instances migrate")
struct AuthoringCommandLineTests {
    func ctl(_ engine: Engine?, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await runProgram(try Engine.binary("batonctl"), arguments,
                             environment: engine.map { ["DATABASE_URL": $0.config.urlForChildren] } ?? ["DATABASE_URL": ""])
    }

    func file(_ name: String, _ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(getpid())-\(name)").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func simulateWithATeamFileNeedsNoDatabase() async throws {
        let events = try file("touches.yaml", "- { at: +4d, event: first_touch }\n")
        let result = try await ctl(nil, [
            "simulate", packageRoot.appendingPathComponent("examples/inbound-lead.yaml").path,
            "--teams", packageRoot.appendingPathComponent("examples/teams.yaml").path, "--contact", "C-1001",
            "--attr", "country=FR", "--attr", "tier=smb", "--at", "2026-12-24T14:00:00Z", "--events", events,
        ])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("first-touch        waits for first_touch, 4h of business hours (emea): deadline 2026-12-28T10:00:00Z = Mon 28 Dec 11:00 Europe/Berlin"))
        #expect(result.output.hasSuffix("sla: met none; breached first-touch, first-touch-again, wait-purchase\n"))
        let bad = try await ctl(nil, ["simulate", events, "--contact", "C-1", "--at", "tomorrow"])
        #expect(bad.status == 1)
    }

    @Test func dryRunApplyAndMigrateThroughTheCommandLine() async throws {
        let engine = try await InstanceMigrationTests.waitingEngine("cliauthor", count: 3)
        defer { Task { await engine.close() } }
        let v3 = try file("v3.yaml", InstanceMigrationTests.v2.replacingOccurrences(of: "within: 2h", with: "within: 3h"))
        let dry = try await ctl(engine, ["workflows", "apply", "--dry-run", v3])
        #expect(dry.status == 0)
        #expect(dry.output.contains("mig: would be stored as v3; changes against v2:\n  ~ step touch-window: wait_for_sla.within: 2h -> 3h\n"))
        #expect(try await engine.scalar("SELECT max(version) FROM workflow_definitions") == 2)

        let refused = try await ctl(engine, ["instances", "migrate", "--workflow", "mig", "--from-version", "1", "--to-version", "2"])
        #expect(refused.status == 1)
        #expect(refused.output == """
            error: step first-touch (wait_for_sla) is not in mig v2: 3 instance(s) stand there (1, 2, 3); map it with --map first-touch=STEP
            error: nothing was migrated

            """)
        let moved = try await ctl(engine, ["instances", "migrate", "--workflow", "mig", "--from-version", "1", "--to-version", "2",
                                           "--map", "first-touch=touch-window"])
        #expect(moved.status == 0, "\(moved.output)")
        #expect(moved.output.hasSuffix("moved 3 instance(s) to mig v2 in 1 batch(es)\n"))
        #expect(try await engine.scalar("SELECT count(*) FROM workflow_instances WHERE version = 2 AND step = 'touch-window'") == 3)
    }
}
