import Baton
import BatonCore
import BatonTesting
import Foundation
import Postgres
import Testing

@Suite("Enrollment and signals", .serialized)
struct EnrollmentTests {
    func ctl(_ engine: Engine, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await runProgram(try Engine.binary("batonctl"), arguments, environment: ["DATABASE_URL": engine.config.urlForChildren])
    }

    func file(_ name: String, _ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(getpid())-\(name)").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// A worker polling only every 30 s still runs a signalled instance at once: NOTIFY wakes it.
    @Test func aSignalWakesAnIdleWorkerLongBeforeItsPollInterval() async throws {
        let engine = try await Engine.make("wake", workflows: [StepKindTests.sla.replacingOccurrences(of: "within: 1s", with: "within: 1h")])
        defer { Task { await engine.close() } }
        let id = try await engine.start("sla", "C-1")
        let worker = try engine.spawnWorker(["--poll-interval", "30s", "--log-level", "warning"])
        defer { worker.send(SIGKILL) }
        #expect(try await eventually(timeout: .seconds(20)) { try await engine.state(id).state == "waiting" })
        try await Task.sleep(for: .milliseconds(300))  // the worker is idle in its 30 s wait now
        let result = try await ctl(engine, ["signal", "first_touch", "--contact", "C-1"])
        #expect(result.output == "signal 1 first_touch for C-1: woke 1 waiting instance(s)\n")
        let start = ContinuousClock.now
        #expect(try await eventually(timeout: .seconds(20)) { try await engine.state(id).state == "completed" })
        #expect(ContinuousClock.now - start < .seconds(20))  // not the 30 s poll
        let stopAt = ContinuousClock.now
        worker.send(SIGTERM)
        #expect(await worker.wait() == 0)
        #expect(ContinuousClock.now - stopAt < .seconds(5))  // an idle worker stops at once, not after its poll
    }

    /// `signal --file`: every good line stores one signal and wakes its waiting instance; a bad
    /// line and an unknown contact are reported with their line numbers and change nothing.
    @Test func signalsFromAFileWakeTheirWaitsAndReportBadLines() async throws {
        let engine = try await Engine.make("signalfile", workflows: [StepKindTests.sla.replacingOccurrences(of: "within: 1s", with: "within: 1h")])
        defer { Task { await engine.close() } }
        var ids: [Int] = []
        for n in 1...5 { ids.append(try await engine.start("sla", "C-\(n)")) }
        try await engine.drain()
        for id in ids { #expect(try await engine.state(id).state == "waiting") }
        let path = try file("touched.jsonl", """
            {"contact": "C-1"}
            {"contact": "C-2", "attributes": {"by": "ana"}}
            not json
            {"contact": "NOBODY"}
            {"contact": "C-3"}

            """)
        let result = try await ctl(engine, ["signal", "first_touch", "--file", path, "--batch-size", "2"])
        #expect(result.status == 0)
        #expect(result.output.contains("touched.jsonl:3: not a JSON object"))
        #expect(result.output.contains("touched.jsonl:4: unknown contact NOBODY (skipped)"))
        #expect(result.output.contains("stored 3 first_touch signal(s), woke 3 waiting instance(s); skipped 2 line(s)"))
        let payload: String? = try await engine.scalar("SELECT payload::text FROM signals WHERE contact = 'C-2'")
        #expect(payload == #"{"by": "ana"}"#)
        #expect(try await engine.scalar("SELECT count(*) FROM signals") as Int == 3)
        try await engine.drain()
        for id in ids.prefix(3) { #expect(try await engine.state(id).state == "completed") }
        for id in ids.suffix(2) { #expect(try await engine.state(id).state == "waiting") }
        let refused = try await ctl(engine, ["signal", "first_touch", "--file", path, "--contact", "C-1"])
        #expect(refused.status != 0)
        #expect(refused.output.contains("leave out --contact"))
    }

    @Test func jsonlEnrollmentReportsBadLinesAndSkipsThem() async throws {
        let engine = try await Engine.make("jsonl", workflows: [StepKindTests.sla])
        defer { Task { await engine.close() } }
        let path = try file("contacts.jsonl", """
            {"contact": "C-1", "attributes": {"country": "DE", "score": 42, "vip": true}}
            not json
            {"attributes": {}}

            {"contact": "C-2"}
            """)
        let result = try await ctl(engine, ["start", "sla", "--file", path])
        #expect(result.status == 0)
        #expect(result.output.contains("\(path):2: not a JSON object"))
        #expect(result.output.contains("\(path):3: "))
        #expect(result.output.contains("enrolled 2 contact(s) in sla"))
        let attributes: String = try await engine.scalar("SELECT attributes::text FROM contacts WHERE id = 'C-1'")
        #expect(attributes == #"{"vip": "true", "score": "42", "country": "DE"}"#)
    }

    @Test func strictRefusesTheWholeFileOnABadLine() async throws {
        let engine = try await Engine.make("strict", workflows: [StepKindTests.sla])
        defer { Task { await engine.close() } }
        let path = try file("contacts.csv", "contact,country,tier\nC-1,DE,smb\nC-2,FR\n")
        let result = try await ctl(engine, ["start", "sla", "--file", path, "--strict"])
        #expect(result.status == 1)
        #expect(result.output.contains("\(path):3: 2 fields, the header has 3"))
        #expect(try await engine.scalar("SELECT count(*) FROM contacts") == 0)
    }

    @Test func csvEnrollmentStoresColumnsAsAttributes() async throws {
        let engine = try await Engine.make("csv", workflows: [StepKindTests.sla])
        defer { Task { await engine.close() } }
        let path = try file("contacts.csv", "country,contact,name\nDE,C-1,\"Vogel, Dirk\"\nFR,C-2,Anne\n")
        let result = try await ctl(engine, ["start", "sla", "--file", path])
        #expect(result.status == 0, "\(result.output)")
        #expect(try await engine.scalar("SELECT attributes->>'name' FROM contacts WHERE id = 'C-1'") == "Vogel, Dirk")
        #expect(try await engine.scalar("SELECT count(*) FROM workflow_instances") == 2)
        // A second start of the same file starts nothing new and says so.
        let again = try await ctl(engine, ["start", "sla", "--file", path])
        #expect(again.output.contains("enrolled 0 contact(s) in sla; 2 already had a live instance"))
    }

    @Test func singleStartSaysWhenTheContactAlreadyHasAnInstance() async throws {
        let engine = try await Engine.make("single", workflows: [StepKindTests.sla])
        defer { Task { await engine.close() } }
        let first = try await ctl(engine, ["start", "sla", "--contact", "C-1", "--attr", "tier=enterprise"])
        #expect(first.output == "started instance 1 of sla for C-1\n")
        let second = try await ctl(engine, ["start", "sla", "--contact", "C-1"])
        #expect(second.output == "contact C-1 already has live instance 1 of sla; not started again\n")
        #expect(try await ctl(engine, ["start", "sla", "--contact", "C-1", "--attr", "oops"]).status == 1)
    }
}
