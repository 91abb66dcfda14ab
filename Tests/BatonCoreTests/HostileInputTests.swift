import BatonCore
import BatonTesting
import Foundation
import Testing

/// A bounded random-input test ("fuzzing", see `Fuzzer`) of the files users write: the workflow,
/// team, channel, sources, schedules and simulation-events loaders and the CSV/JSONL contact readers.
/// Nothing may crash, and every rejection is one clear line. By default a fixed seed and a few
/// thousand inputs (a second or two); `scripts/chaos` runs it for a fixed time (`BATON_FUZZ_SECONDS`).
@Suite("Hostile input to loaders and readers")
struct HostileInputTests {
    func expectLoads(_ kind: String, _ load: (String) throws -> Void, seeds: [String], seed: UInt64, count: Int) async {
        var fuzzer = Fuzzer(kind, seed: seed, count: count)
        while fuzzer.more() {
            let n = fuzzer.next()
            let bytes = fuzzer.input(seeds: seeds, number: n)
            let text = String(decoding: bytes, as: UTF8.self)
            do {
                try load(text)
            } catch let errors as DefinitionErrors {
                fuzzer.countRefused()
                if errors.issues.isEmpty {
                    fuzzer.countFailure()
                    Issue.record("\(kind) input \(n) (seed \(fuzzer.seed)) was refused without a reason: \(Fuzzer.shown(bytes))")
                }
                for issue in errors.issues where !Fuzzer.isOneClearLine(issue.description) {
                    fuzzer.countFailure()
                    Issue.record("\(kind) input \(n) (seed \(fuzzer.seed)) \(Fuzzer.shown(bytes)): \(issue.description.debugDescription)")
                }
            } catch {
                fuzzer.countFailure()
                Issue.record("\(kind) input \(n) (seed \(fuzzer.seed)) threw \(error) instead of DefinitionErrors: \(Fuzzer.shown(bytes))")
            }
            if n % 64 == 63 { await Task.yield() }
        }
        fuzzer.report()
        #expect(fuzzer.refused > fuzzer.inputs / 2)  // the mutations do reach the checks
    }

    @Test func fuzzWorkflowFiles() async throws {
        let known = try exampleKnownNames()
        let seeds = [try example("inbound-lead.yaml"), try example("demo-lead.yaml"), try example("retention-save.yaml")]
        await expectLoads("workflow files", { _ = try DefinitionLoader.workflow(from: $0, file: "wf.yaml", known: known) },
                          seeds: seeds, seed: 1, count: 1500)
    }

    @Test func fuzzTeamFiles() async throws {
        await expectLoads("team files", { _ = try DefinitionLoader.teams(from: $0, file: "teams.yaml") },
                          seeds: [try example("teams.yaml"), try example("b2b/teams.yaml")], seed: 2, count: 1500)
    }

    @Test func fuzzChannelFiles() async throws {
        await expectLoads("channel files", { _ = try DefinitionLoader.channels(from: $0, file: "channels.yaml") },
                          seeds: [try example("channels.yaml"), try example("crm-channels.yaml")], seed: 3, count: 1500)
    }

    @Test func fuzzSourcesFiles() async throws {
        let workflows: Set<String> = ["inbound-lead", "demo-lead", "retention-save"]
        await expectLoads("sources files", { _ = try DefinitionLoader.sources(from: $0, file: "sources.yaml", workflows: workflows) },
                          seeds: [try example("sources.yaml")], seed: 5, count: 600)
    }

    @Test func fuzzScheduleFiles() async throws {
        let known = try exampleKnownNames()
        await expectLoads("schedule files", { _ = try DefinitionLoader.schedules(from: $0, file: "schedules.yaml", known: known) },
                          seeds: [try example("schedules.yaml")], seed: 6, count: 600)
    }

    @Test func fuzzSimulationEventFiles() async throws {
        let seeds = ["- { at: +2h, event: first_touch }\n- { at: 2026-03-02T10:00:00Z, event: purchased }\n",
                     "- at: +1d\n  event: replied\n- at: +30m\n  event: first_touch\n"]
        await expectLoads("simulation event files", { _ = try DefinitionLoader.simulationEvents(from: $0, file: "events.yaml") },
                          seeds: seeds, seed: 7, count: 600)
    }

    /// Inputs the fuzzer found whose messages echoed a tab, a line separator (U+2028) or a newline
    /// of the input, breaking the one-line rule: such characters are shown escaped (`\t`, `\u{2028}`).
    @Test func messagesShowControlCharactersAndLineSeparatorsEscaped() throws {
        let known = try exampleKnownNames()
        let cases: [(String, () throws -> Void)] = [
            ("a tab in a step kind", {
                _ = try DefinitionLoader.workflow(from: "name: w\nstart: a\nsteps:\n  a:\n    \"bra\tnch\": {}\n", file: "wf.yaml", known: known)
            }),
            ("a line separator in a team's hours", {
                _ = try DefinitionLoader.teams(from: "calendars:\n  - name: c\n    timezone: UTC\n    hours: { mon: \"09:00-17:0\u{2028}0\" }\n"
                                               + "teams: []\n", file: "teams.yaml")
            }),
            ("a tab in a mail host", {
                _ = try DefinitionLoader.channels(from: "channels:\n  - name: m\n    type: email\n    host: \"smtp.exa\tmple.com\"\n"
                                                  + "    from: baton@example.com\n", file: "channels.yaml")
            }),
            ("a tab in a source's kind", {
                _ = try DefinitionLoader.sources(from: "sources:\n  - { name: h, kind: \"hu\tbspot\", secret_env: S, events: [] }\n",
                                                 file: "sources.yaml")
            }),
            ("a newline in what was found instead of a list", {
                _ = try DefinitionLoader.simulationEvents(from: "\"first\\nsecond\"\n", file: "events.yaml")
            }),
            ("a carriage return in a file name", {
                _ = try DefinitionLoader.teams(from: "teams: 1\n", file: "te\rams.yaml")
            }),
        ]
        for (what, load) in cases {
            do {
                try load()
                Issue.record("\(what): accepted")
            } catch let errors as DefinitionErrors {
                #expect(!errors.issues.isEmpty, "\(what)")
                for issue in errors.issues {
                    #expect(Fuzzer.isOneClearLine(issue.description), "\(what): \(issue.description.debugDescription)")
                }
            }
        }
    }

    @Test func fuzzContactFiles() async throws {
        let seeds = [(try example("contacts.csv"), true), (try example("contacts.jsonl"), false)]
        var fuzzer = Fuzzer("contact files (CSV, JSONL)", seed: 4, count: 3000)
        while fuzzer.more() {
            let n = fuzzer.next()
            let (seed, csv) = seeds[n % 2]
            let bytes = n % 10 == 9 ? fuzzer.fragments(count: 40) : fuzzer.mutate(seed)
            let text = String(decoding: bytes, as: UTF8.self)
            let parsed = ContactFile.parse(text, csv: csv)
            let lineCount = text.utf8.filter { $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") }.count + 1
            if !parsed.problems.isEmpty { fuzzer.countRefused() }
            for problem in parsed.problems where !Fuzzer.isOneClearLine(problem.message) || !(1...lineCount).contains(problem.line) {
                fuzzer.countFailure()
                Issue.record("input \(n) (seed \(fuzzer.seed)) \(Fuzzer.shown(bytes)): line \(problem.line): \(problem.message.debugDescription)")
            }
            for entry in parsed.entries {
                if let problem = ContactFile.check(contact: entry.contact, attributes: entry.attributes) {
                    fuzzer.countFailure()
                    Issue.record("input \(n) (seed \(fuzzer.seed)) \(Fuzzer.shown(bytes)): entry on line \(entry.line) passed with \(problem)")
                }
                if !(1...lineCount).contains(entry.line) {
                    fuzzer.countFailure()
                    Issue.record("input \(n) (seed \(fuzzer.seed)) \(Fuzzer.shown(bytes)): entry on line \(entry.line) of \(lineCount)")
                }
            }
            if n % 64 == 63 { await Task.yield() }
        }
        fuzzer.report()
    }
}
