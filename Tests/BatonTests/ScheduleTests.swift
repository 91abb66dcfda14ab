import Baton
import BatonCore
import BatonTesting
import Foundation
import Postgres
import Testing

/// Schedules: applied from a file, listed, run by workers once per period — in process, and with
/// three worker processes of which one is SIGKILLed in the middle of a run.
@Suite("Schedules", .serialized)
struct ScheduleTests {
    static let weekly = """
        schedules:
          - name: weekly-exceptions
            cron: "0 8 * * mon"
            timezone: Europe/Berlin
            action: exception_report
            channel: log
            stale_days: 14
        """

    func ctl(_ engine: Engine, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await runProgram(try Engine.binary("batonctl"), arguments, environment: ["DATABASE_URL": engine.config.urlForChildren])
    }

    func write(_ text: String, _ name: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(getpid()).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func applyAndListShowTheNextRunInTheSchedulesZone() async throws {
        let engine = try await Engine.make("sched-apply")
        defer { Task { await engine.close() } }
        let file = try write(Self.weekly, "weekly")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let first = try await ctl(engine, ["schedules", "apply", file])
        #expect(first.status == 0)
        #expect(first.output.hasPrefix("weekly-exceptions created, next run "))
        #expect(try await ctl(engine, ["schedules", "apply", file]).output.hasPrefix("weekly-exceptions unchanged, next run "))

        let listed = try await ctl(engine, ["schedules", "list", "--json"])
        let objects = try JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [[String: Any]] ?? []
        #expect(objects.count == 1)
        #expect(objects.first?["cron"] as? String == "0 8 * * mon")
        #expect(objects.first?["timezone"] as? String == "Europe/Berlin")
        #expect(objects.first?["runs"] as? Int == 0)
        // The next run is a Monday, 08:00 in Berlin.
        let next = try #require((objects.first?["next_run_at"] as? String).flatMap { ISO8601DateFormatter().date(from: $0) })
        var berlin = Calendar(identifier: .gregorian)
        berlin.timeZone = TimeZone(identifier: "Europe/Berlin")!
        let parts = berlin.dateComponents([.weekday, .hour, .minute], from: next)
        #expect((parts.weekday, parts.hour, parts.minute) == (2, 8, 0))
        #expect(next > Date())
        let table = try await ctl(engine, ["schedules", "list"])
        #expect(table.output.contains("NAME") && table.output.contains("weekly-exceptions") && table.output.contains("NEXT RUN"))
        #expect(try await ctl(engine, ["schedules", "remove", "weekly-exceptions"]) == (0, "removed weekly-exceptions\n"))
        #expect(try await ctl(engine, ["schedules", "remove", "weekly-exceptions"]).status == 1)
        #expect(try await ctl(engine, ["schedules", "list"]).output.hasPrefix("no schedules"))
    }

    @Test func aBadScheduleFileNamesTheLineAndStoresNothing() async throws {
        let engine = try await Engine.make("sched-bad")
        defer { Task { await engine.close() } }
        let file = try write("""
            schedules:
              - name: broken
                cron: "0 25 * * *"
                action: exception_report
                channel: nowhere
            """, "badsched")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let result = try await ctl(engine, ["schedules", "apply", file])
        #expect(result.status == 1)
        #expect(result.output.contains(":3:") && result.output.contains("hour field \"25\""))
        #expect(result.output.contains(":5:") && result.output.contains("unknown channel \"nowhere\""))
        #expect(try await engine.scalar("SELECT count(*) FROM schedules") == 0)
    }

    @Test func aDueReportRunsOnceAndGoesToEachTeamsManager() async throws {
        let engine = try await AuditTests.everyProblem()
        defer { Task { await engine.close() } }
        let file = try DefinitionLoader.schedules(from: Self.weekly, file: "s.yaml")
        _ = try await engine.store.applySchedules(file)
        // Time travel: the period is due.
        _ = try await engine.rows("UPDATE schedules SET next_run_at = now() - interval '1 minute'")
        let period: Date = try await engine.scalar("SELECT next_run_at FROM schedules")
        let runner = ScheduleRunner(store: engine.store, worker: "w1", lease: .seconds(30))
        #expect(await runner.runDue() == 1)
        #expect(await runner.runDue() == 0)

        let rows = try await engine.rows("SELECT idempotency_key, recipient, recipient_email, message, channel FROM outbox ORDER BY id")
        let messages = try rows.map { row in
            (key: try row.decode(String.self, "idempotency_key"), to: try row.decode(String?.self, "recipient"),
             email: try row.decode(String?.self, "recipient_email"), text: try row.decode(String.self, "message"))
        }
        let periodText = RFC3339.string(period)
        try #require(messages.count == 3)
        #expect(messages.map(\.key) == ["queue", "sales-dach", "sales-emea"].map { "schedule:weekly-exceptions:\(periodText):\($0)" })
        #expect(messages.map(\.to) == [nil, "maria", "maria"])
        #expect(messages.map(\.email) == [nil, "maria@example.com", "maria@example.com"])
        let emea = messages[2].text
        #expect(emea.hasPrefix("Exception report weekly-exceptions for \(periodText), team sales-emea, for Maria Chen: "))
        #expect(emea.contains("- territory_conflict T-1 (ana): ") && emea.contains("  fix: batonctl reassign --contact T-1 --to dirk"))
        #expect(messages[1].text.contains("- duplicate D-2 (dirk)") && messages[1].text.contains("- stale S-1 (dirk)"))

        let summary = try #require(try await engine.store.schedules().first)
        #expect(summary.runs == 1)
        #expect(summary.last_period == period)
        #expect(summary.next_run_at > Date())
        #expect(try await engine.scalar("SELECT count(*) FROM schedule_runs WHERE worker = 'w1' AND messages = 3") == 1)

        // batonctl prints what the run sent.
        let report = try await ctl(engine, ["schedules", "report", "weekly-exceptions"])
        #expect(report.status == 0)
        #expect(report.output.hasPrefix("weekly-exceptions: last run for \(periodText), 3 message(s)\n"))
        #expect(report.output.contains("-- via log to maria <maria@example.com>\nException report weekly-exceptions"))
        #expect(report.output.contains("-- via log to nobody in particular"))

        // The relay delivers them through the log channel.
        let relay = OutboxRelay(store: engine.store, configuration: OutboxRelayConfiguration(id: "r", untilIdle: true))
        try await relay.run()
        #expect(try await engine.scalar("SELECT count(*) FROM outbox WHERE status = 'delivered'") == 3)
    }

    /// Three workers run a schedule due every 2 seconds. The first claim is held mid-run: a lock
    /// the test holds on `schedule_runs` stops the run's commit; two more workers start; then the
    /// first is SIGKILLed and its connection dropped, so its transaction rolls back. Once its lease
    /// runs out another worker takes the period over; every period runs exactly once.
    @Test func threeWorkersOneKilledMidRunEachPeriodRunsOnce() async throws {
        let engine = try await AuditTests.everyProblem()
        defer { Task { await engine.close() } }
        _ = try await engine.store.applySchedules(try DefinitionLoader.schedules(from: """
            schedules:
              - name: fast
                cron: "*/2 * * * * *"
                action: exception_report
            """, file: "fast.yaml"))
        let blocker = try await Connection.connect(engine.config)
        try await blocker.simpleQuery("BEGIN")
        try await blocker.simpleQuery("LOCK TABLE schedule_runs IN SHARE MODE")

        let arguments = ["--lease", "24s", "--poll-interval", "200ms", "--log-level", "warning"]
        let doomed = try engine.spawnWorker(["--id", "doomed"] + arguments)
        let stuck = try await eventually(timeout: .seconds(30)) {
            try await engine.scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'baton-worker' AND wait_event_type = 'Lock'") > 0
        }
        #expect(stuck)
        let held = try await engine.rows("SELECT lease_owner, next_run_at FROM schedules")[0]
        #expect(try held.decode(String?.self, "lease_owner") == "doomed")
        let heldPeriod: Date = try held.decode("next_run_at")
        // Two more workers start while the doomed one holds the period: they cannot take it yet.
        let others = try ["w1", "w2"].map { try engine.spawnWorker(["--id", $0] + arguments) }
        try await Task.sleep(for: .milliseconds(300))
        // Still mid-run (its lock wait gives up only after a quarter of the lease, 6 s).
        #expect(try await engine.scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'baton-worker' AND wait_event_type = 'Lock'") == 1)
        doomed.send(SIGKILL)
        #expect(await doomed.wait() == 128 + SIGKILL)
        // Its blocked connection goes as the host's would (the others wait on no lock).
        _ = try await engine.rows(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'baton-worker' AND wait_event_type = 'Lock'")
        try await blocker.simpleQuery("COMMIT")
        await blocker.close()

        // The killed worker's period is taken over once its lease runs out, then a few more run.
        let ran = try await eventually(timeout: .seconds(90)) {
            try await engine.scalar("SELECT count(*) FROM schedule_runs") >= 4
        }
        for worker in others { worker.send(SIGTERM) }
        for worker in others { #expect(await worker.wait() == 0) }
        #expect(ran)

        #expect(try await engine.scalar("SELECT count(*) FROM schedule_runs WHERE worker = 'doomed'") == 0)
        let takeover = try await engine.rows("SELECT worker FROM schedule_runs WHERE period = $1", [heldPeriod])
        #expect(takeover.count == 1)
        // One run per period (the primary key), periods on the 2-second grid, and each run's
        // messages written once: three teams' reports per run.
        let runs = try await engine.rows("SELECT period, messages FROM schedule_runs ORDER BY period")
        let periods = try runs.map { try $0.decode(Date.self, "period") }
        #expect(Set(periods).count == periods.count)
        #expect(periods.allSatisfy { Int($0.timeIntervalSince1970) % 2 == 0 })
        #expect(try runs.allSatisfy { try $0.decode(Int.self, "messages") == 3 })
        #expect(try await engine.scalar("SELECT count(*) FROM outbox WHERE step = 'schedule:fast'") == 3 * periods.count)
        let counted: Int = try await engine.scalar("SELECT runs FROM schedules")
        #expect(counted == periods.count)
        #expect(try await engine.scalar("SELECT count(DISTINCT worker) FROM schedule_runs") >= 1)
    }
}
