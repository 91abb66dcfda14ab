import Baton
import BatonCore
import BatonTesting
import Foundation
import Postgres
import Testing

@Suite("Finding and repairing stuck work")
struct AdminTests {
    static let failing = """
        name: failing
        start: assign
        steps:
          assign:
            assign: { team: empty, fallback: fail }
            max_attempts: 1
            next: done
          done:
            end: {}
        """
    static let queued = """
        name: queued
        start: assign
        steps:
          assign:
            assign: { team: empty, fallback: queue }
            next: wait
          wait:
            wait_for_sla: { event: first_touch, within: 1h }
            on_met: done
            on_breach: done
          done:
            end: {}
        """
    static let teams = Engine.sevenMembers + "\n  - name: empty\n    kind: other\n"

    @Test func failedInstanceIsStuckAndRetryAfterAFixCompletesIt() async throws {
        let engine = try await Engine.make("stuckfailed", teams: Self.teams, workflows: [Self.failing])
        defer { Task { await engine.close() } }
        let id = try await engine.start("failing", "C-1")
        try await engine.drain()
        let stuck = try await engine.store.stuck(olderThan: 0)
        #expect(stuck.map(\.reason) == ["failed"])
        #expect(stuck[0].instance == String(id))
        #expect(stuck[0].detail.contains("nobody eligible"))
        #expect(stuck[0].suggestion == "fix the cause, then: batonctl retry \(id)")
        // The fix: the team gets a member. Then retry.
        _ = try await engine.store.applyTeams(try DefinitionLoader.teams(
            from: Self.teams + "    members:\n      - { id: newbie, name: New Bie }\n", file: "teams.yaml"))
        #expect(try await engine.store.retry(instance: id, workflow: nil, by: "tester") == [id])
        try await engine.drain()
        #expect(try await engine.state(id) == ("completed", "done"))
        #expect(try await engine.store.stuck(olderThan: 0).isEmpty)
    }

    @Test func unownedOverdueAndExpiredLeasesAreFound() async throws {
        let engine = try await Engine.make("stuckmany", teams: Self.teams, workflows: [Self.queued, WorkerProcessTests.flow])
        defer { Task { await engine.close() } }
        let unowned = try await engine.start("queued", "C-1")
        try await engine.drain()
        // Lease expired: a worker claimed it and vanished.
        let leased = try await engine.start("flow", "C-3")
        _ = try await engine.store.claim(worker: "ghost", limit: 10, lease: .seconds(30))
        _ = try await engine.rows(
            "UPDATE workflow_instances SET lease_expires_at = now() - interval '1 hour' WHERE lease_owner = 'ghost'")
        // Overdue: due long ago, no worker ran it.
        let overdue = try await engine.start("flow", "C-2")
        _ = try await engine.rows("UPDATE workflow_instances SET run_at = now() - interval '1 hour' WHERE id = $1", [overdue])
        let stuck = try await engine.store.stuck(olderThan: 0)
        let reasons = Dictionary(stuck.map { ($0.instance, $0.reason) }, uniquingKeysWith: { a, b in a + "," + b })
        #expect(reasons[String(unowned)] == "unowned")
        #expect(reasons[String(leased)] == "lease_expired")
        #expect(reasons[String(overdue)] == "overdue")
        // A worker clears overdue and expired work by itself; reassigning clears the unowned one.
        try await engine.drain()
        try await engine.store.reassign(contact: "C-1", to: "m3", reason: "manual:tester")
        let left = try await engine.store.stuck(olderThan: 0)
        #expect(left.isEmpty, "\(left)")
        let contact = try #require(try await engine.store.contact("C-1"))
        #expect(contact.owner == "m3")
        #expect(contact.history.map(\.reason) == ["queued: nobody eligible in empty", "manual:tester"])
    }

    @Test func cancelDuringALeaseIsNotUndoneByTheWorker() async throws {
        let engine = try await Engine.make("cancel", workflows: [WorkerProcessTests.flow])
        defer { Task { await engine.close() } }
        let id = try await engine.start("flow", "C-1")
        let batch = try await engine.store.claim(worker: "busy", limit: 10, lease: .seconds(30))
        try await engine.store.cancel(instance: id, by: "tester", reason: "duplicate")
        var directory = try await engine.store.directory()
        var rotation = Rotation()
        let advance = Machine().advance(
            batch.instances[0], definition: try DefinitionLoader.workflow(from: WorkerProcessTests.flow, file: "f"),
            directory: &directory, rotation: &rotation, now: batch.now)
        #expect(try await engine.store.commit([advance], worker: "busy", now: batch.now).isEmpty)
        #expect(try await engine.state(id).state == "cancelled")
        #expect(try await engine.scalar("SELECT count(*) FROM outbox") == 0)
        await #expect(throws: BatonError.self) { try await engine.store.cancel(instance: id, by: "tester", reason: nil) }
    }

    @Test func resumeMovesAnInstanceToANamedStep() async throws {
        let engine = try await Engine.make("resume", teams: Self.teams, workflows: [Self.queued])
        defer { Task { await engine.close() } }
        let id = try await engine.start("queued", "C-1")
        try await engine.drain()
        #expect(try await engine.state(id) == ("waiting", "wait"))
        await #expect(throws: BatonError.self) { try await engine.store.resume(instance: id, at: "nope", by: "tester") }
        try await engine.store.resume(instance: id, at: "done", by: "tester")
        try await engine.drain()
        #expect(try await engine.state(id) == ("completed", "done"))
        let details = try await engine.rows("SELECT detail FROM instance_events WHERE instance = $1 ORDER BY seq", [id])
        #expect(try details.map { try $0.decode(String.self, at: 0) }.contains { $0.hasPrefix("manual resume at done") })
    }

    @Test func auditReportsOwnershipProblems() async throws {
        let engine = try await Engine.make("audit", teams: Self.teams, workflows: [Self.queued])
        defer { Task { await engine.close() } }
        _ = try await engine.start("queued", "C-1")
        try await engine.drain()
        _ = try await engine.rows("UPDATE contacts SET queued_since = now() - interval '2 hours'")
        try await engine.store.reassign(contact: "C-1", to: "m4", reason: "manual:tester")
        _ = try await engine.rows("UPDATE members SET active = false WHERE id = 'm4'")
        let findings = try await engine.store.audit(queuedLongerThan: 3600)
        #expect(findings.map(\.kind) == ["inactive_owner"])
        #expect(findings.first?.contact == "C-1")
    }
}

@Suite("batonctl")
struct CommandLineTests {
    func ctl(_ engine: Engine, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await runProgram(try Engine.binary("batonctl"), arguments, environment: ["DATABASE_URL": engine.config.urlForChildren])
    }

    /// `instances list` takes the API's filters and sorts and pages with the cursor it prints.
    @Test func instancesListSortsFiltersAndPages() async throws {
        let engine = try await Engine.make("clilist", workflows: [StepKindTests.slaLong])
        defer { Task { await engine.close() } }
        var ids: [Int] = []
        for n in 1...5 { ids.append(try await engine.start("sla", "C-\(n)")) }
        func idsIn(_ output: String) -> [Int] {
            // The table's rows (the header and the "more:" line on stderr are not numbers).
            output.split(separator: "\n").compactMap { $0.split(separator: " ").first.flatMap { Int($0) } }
        }
        let first = try await ctl(engine, ["instances", "list", "--sort", "-id", "--limit", "2"])
        #expect(first.status == 0)
        #expect(idsIn(first.output) == [ids[4], ids[3]])
        let more = try #require(first.output.split(separator: "\n").first { $0.hasPrefix("more: batonctl ") })
        let cursor = String(try #require(more.split(separator: " ").last))
        #expect(more.contains("--sort -id --limit 2 --after"))
        let second = try await ctl(engine, ["instances", "list", "--sort", "-id", "--limit", "2", "--after", cursor])
        #expect(idsIn(second.output) == [ids[2], ids[1]])
        let filtered = try await ctl(engine, ["instances", "list", "--version", "1", "--started-after", "2000-01-01T00:00:00Z",
                                              "--started-before", "2999-01-01T00:00:00Z", "--contact", "C-3"])
        #expect(idsIn(filtered.output) == [ids[2]])
        #expect(!filtered.output.contains("more:"))
        let none = try await ctl(engine, ["instances", "list", "--version", "2"])
        #expect(idsIn(none.output) == [])
        for (arguments, message) in [(["--sort", "owner"], "sort must be one of"), (["--version", "x"], "version must be a whole number"),
                                     (["--started-after", "yesterday"], "started-after must be an RFC 3339 time"),
                                     (["--after", "nonsense!"], "--after takes the cursor"),
                                     (["--sort", "run_at", "--after", cursor], "the cursor belongs to sort=id")] {
            let refused = try await ctl(engine, ["instances", "list"] + arguments)
            #expect(refused.status != 0, "\(arguments)")
            #expect(refused.output.contains(message), "\(arguments): \(refused.output)")
        }
    }

    /// A --limit above the API's page bound is read in pages of 1,000 and still says there is more.
    @Test func instancesListReadsMoreThanOnePage() async throws {
        let engine = try await Engine.make("clilistbig", workflows: [StepKindTests.slaLong])
        defer { Task { await engine.close() } }
        _ = try await engine.store.enroll((1...1_201).map { EnrollmentRequest(contact: "C-\($0)") }, in: "sla")
        let listed = try await ctl(engine, ["instances", "list", "--limit", "1200", "--json"])
        #expect(listed.status == 0)
        // Standard error (the "more:" line) may land between two blocks of standard output.
        let json = listed.output.replacingOccurrences(of: #"more: batonctl [^\n]*\n"#, with: "", options: .regularExpression)
        let items = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
        #expect(items.count == 1200)
        #expect(Set(items.compactMap { $0["id"] as? String }).count == 1200)
        #expect(listed.output.contains("more: batonctl instances list --limit 1200 --json --after "))
    }

    @Test func applyReportsNewVersionsAndUnchanged() async throws {
        let engine = try await Engine.make("cliapply")
        defer { Task { await engine.close() } }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("wf-\(getpid()).yaml").path
        try WorkerProcessTests.flow.write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try await ctl(engine, ["workflows", "apply", file]) == (0, "flow v1\n"))
        #expect(try await ctl(engine, ["workflows", "apply", file]) == (0, "flow v1 unchanged\n"))
        try WorkerProcessTests.flow.replacingOccurrences(of: "is yours", with: "is now yours").write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try await ctl(engine, ["workflows", "apply", file]) == (0, "flow v2\n"))
        try? FileManager.default.removeItem(atPath: file)
    }

    @Test func badFileIsExitOneWithLocatedLinesAndStoresNothing() async throws {
        let engine = try await Engine.make("clibad")
        defer { Task { await engine.close() } }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(getpid()).yaml").path
        try "name: x\nstart: a\nsteps:\n  a:\n    assign: { team: sales, strategey: rules }\n    next: b\n".write(toFile: file, atomically: true, encoding: .utf8)
        let result = try await ctl(engine, ["workflows", "apply", file])
        #expect(result.status == 1)
        let lines = result.output.split(separator: "\n")
        #expect(lines.count == 2, "\(result.output)")
        #expect(lines.allSatisfy { $0.hasPrefix("\(file):") })
        #expect(result.output.contains("did you mean \"strategy\"?"))
        #expect(result.output.contains("unknown step \"b\""))
        #expect(try await engine.scalar("SELECT count(*) FROM workflow_definitions") == 0)
        try? FileManager.default.removeItem(atPath: file)
    }

    @Test func unknownIdsAndBadInputAreOneLineExitOne() async throws {
        let engine = try await Engine.make("cliids")
        defer { Task { await engine.close() } }
        for arguments in [["instances", "show", "999"], ["contacts", "show", "nobody"], ["start", "nope", "--contact", "C-1"],
                          ["signal", "first_touch", "--contact", "nobody"], ["stuck", "--older-than", "soon"],
                          ["cancel", "abc"], ["teams", "apply", "/no/such/file.yaml"]] {
            let result = try await ctl(engine, arguments)
            #expect(result.status == 1, "\(arguments): \(result.output)")
            #expect(result.output.split(separator: "\n").count == 1 || arguments[0] == "stuck", "\(arguments): \(result.output)")
        }
    }

    @Test func deadServerIsExitOneNamingTheEndpoint() async throws {
        let result = try await runProgram(try Engine.binary("batonctl"), ["migrate", "--database-url", "postgresql://u:pw@127.0.0.1:1/x?sslmode=disable"])
        #expect(result.status == 1)
        #expect(result.output.contains("127.0.0.1:1/x"))
        #expect(!result.output.contains("pw"))
    }

    @Test func twoMigrateProcessesAtOnceBothSucceed() async throws {
        let config = try await TestDatabase.create("climigrate")
        let env = ["DATABASE_URL": config.urlForChildren]
        let bin = try Engine.binary("batonctl")
        let a = try ChildProcess(bin, ["migrate"], environment: env)
        let b = try ChildProcess(bin, ["migrate"], environment: env)
        #expect(await a.wait() == 0)
        #expect(await b.wait() == 0)
        #expect([a.output, b.output].filter { $0.contains("applied 0001_init") }.count == 1)
    }
}
