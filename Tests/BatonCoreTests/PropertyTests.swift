@testable import BatonCore
import Foundation
import PropertyBased
import Testing

/// Property-based tests of the pure core (issue 11, "bad input"): random workflow definitions run
/// by the real Machine on the simulator's virtual clock against random event sequences, and
/// round robin over random availability changes. Each property holds for every generated case;
/// a failure prints the seed that reproduces it.
@Suite("Properties of the Machine and the Router")
struct PropertyTests {
    static let events = ["first_touch", "replied", "purchased"]

    /// The team file every generated workflow routes in: four reps with backups and a retention team.
    static let directory: Directory = {
        try! DefinitionLoader.teams(from: """
            teams:
              - name: sales
                kind: sales
                manager: boss
                members:
                  - { id: a, name: A, backup: b }
                  - { id: b, name: B, backup: c }
                  - { id: c, name: C, backup: d }
                  - { id: d, name: D, backup: a }
              - name: bosses
                kind: sales
                members:
                  - { id: boss, name: Boss }
              - name: keep
                kind: retention
                members:
                  - { id: k1, name: K1 }
                  - { id: k2, name: K2 }
            """, file: "teams.yaml").directory()
    }()

    /// One generated step: a kind and the numbers that shape it.
    struct StepSeed: Sendable, CustomStringConvertible {
        var kind: Int      // 0 assign, 1 notify, 2 wait, 3 escalate, 4 handoff
        var event: Int     // which event a wait waits for
        var within: Int    // seconds a wait allows
        var jump: Int      // how far ahead a wait's on_met jumps (0: the next step)
        var description: String { "\(["assign", "notify", "wait", "escalate", "handoff"][kind])(\(event),\(within),\(jump))" }
    }

    /// A workflow file from step seeds: an assign step, then steps s1…sN in order, each going to the
    /// next (a wait's on_met may jump ahead), then an end step. Always acyclic, so every run ends.
    static func workflow(_ generated: [StepSeed]) -> String {
        let seeds = [StepSeed(kind: 0, event: 0, within: 1, jump: 0)] + generated
        var lines = ["name: generated", "start: s0", "steps:"]
        let last = seeds.count
        for (i, seed) in seeds.enumerated() {
            let next = "s\(i + 1)"
            lines.append("  s\(i):")
            switch seed.kind {
            case 0: lines.append("    assign: { team: sales, strategy: \(i % 2 == 0 ? "round_robin" : "least_loaded") }")
            case 1: lines.append("    notify: { to: [owner], message: \"hi {{contact.id}}\" }")
            case 2:
                lines.append("    wait_for_sla: { event: \(events[seed.event]), within: \(seed.within)s }")
                lines.append("    on_met: s\(min(last, i + 1 + seed.jump))")
                lines.append("    on_breach: \(next)")
                continue
            case 3: lines.append("    escalate: { reassign_to: backup, notify: [manager] }")
            default: lines.append("    handoff: { team: keep, strategy: least_loaded, reason: moved }")
            }
            lines.append("    next: \(next)")
        }
        lines.append("  s\(last):")
        lines.append("    end: { outcome: done }")
        return lines.joined(separator: "\n") + "\n"
    }

    static let stepSeed = zip(Gen.int(in: 0...4), Gen.int(in: 0...2), Gen.int(in: 1...600), Gen.int(in: 0...2))
        .map { StepSeed(kind: $0, event: $1, within: $2, jump: $3) }
    static let signal = zip(Gen.int(in: 0...2), Gen.int(in: 0...1800)).map { (event: events[$0], at: $1) }

    @Test("random workflows and events: one owner at a time, time never runs back, a final state is final, no wait skips its deadline or a signal")
    func machineInvariants() async throws {
        await propertyCheck(count: 300, input: Self.stepSeed.array(of: 1...12), Self.signal.array(of: 0...10)) { seeds, signals in
            let text = Self.workflow(seeds)
            let definition = try DefinitionLoader.workflow(from: text, file: "generated.yaml")
            let start = Date(timeIntervalSince1970: 1_780_000_000)
            var directory = Self.directory
            var rotation = Rotation()
            let trace = Simulator(definition: definition).run(
                contact: ContactSnapshot(id: "C-1"), start: start,
                events: signals.map { SimulationEvent(time: .after(TimeSpan(seconds: $0.at)), event: $0.event) },
                directory: &directory, rotation: &rotation)

            // The run ends: acyclic workflows complete.
            #expect(trace.result.state == "completed", "\(text)\n\(trace.result)")
            var owner: String?
            var previous = start
            var consumed: Set<Int> = []   // indexes into the sorted signals
            let sorted = trace.events
            var waitingSince: [String: (start: Date, deadline: Date, event: String)] = [:]
            for (index, step) in trace.steps.enumerated() {
                #expect(step.at >= previous, "time ran back at \(step.step)")
                previous = step.at
                if let change = step.assignment {
                    #expect(change.from == owner, "\(step.step) took the contact from \(change.from ?? "nobody"), but \(owner ?? "nobody") owned it")
                    owner = change.to
                }
                #expect(step.owner == owner, "\(step.step) reports owner \(step.owner ?? "nobody"), history says \(owner ?? "nobody")")
                if step.outcome == "completed" {
                    #expect(index == trace.steps.count - 1, "steps after the final state")
                }
                if step.outcome == "waiting", let wait = step.wait {
                    waitingSince[step.step] = (step.at, wait.deadline, wait.event)
                }
                if step.outcome == "sla_met", let signal = step.signal {
                    if let wait = waitingSince[step.step] { #expect(signal.at <= wait.deadline, "met by a signal after the deadline") }
                    if let i = sorted.indices.first(where: { sorted[$0] == signal && !consumed.contains($0) }) { consumed.insert(i) }
                }
                if step.outcome == "sla_breached", let wait = waitingSince[step.step] {
                    #expect(step.at >= wait.deadline, "\(step.step) breached at \(step.at) before its deadline \(wait.deadline)")
                    // No signal the wait could have used arrived by the deadline.
                    let missed = sorted.indices.filter {
                        !consumed.contains($0) && sorted[$0].event == wait.event && sorted[$0].at <= wait.deadline
                    }
                    #expect(missed.isEmpty, "\(step.step) breached although \(wait.event) arrived at \(missed.map { sorted[$0].at })")
                }
            }
            #expect(trace.result.owner == owner)
        }
    }

    @Test("a finished instance stays finished: advancing it again changes nothing")
    func finalIsFinal() async throws {
        await propertyCheck(count: 100, input: Self.stepSeed.array(of: 1...8)) { seeds in
            let definition = try DefinitionLoader.workflow(from: Self.workflow(seeds), file: "generated.yaml")
            let machine = Machine()
            var directory = Self.directory
            var rotation = Rotation()
            for state in [InstanceState.completed, .failed, .cancelled] {
                let finished = InstanceSnapshot(id: 1, workflow: "generated", version: 1, contact: ContactSnapshot(id: "C-1", owner: "a"),
                                                state: state, step: "s0", seq: 5, attempt: 0, fence: 1, priority: 0,
                                                waitStartedAt: nil, deadline: nil, createdAt: Date(timeIntervalSince1970: 0), pendingSignals: [])
                let advance = machine.advance(finished, definition: definition, directory: &directory, rotation: &rotation,
                                              now: Date(timeIntervalSince1970: 100))
                #expect(advance.ownerChanges.isEmpty && advance.notifications.isEmpty, "a \(state) instance acted")
                #expect(advance.state == state, "a \(state) instance became \(advance.state)")
            }
        }
    }

    @Test("round robin over any sequence of availability changes: only eligible members, and within each stretch of unchanged availability the counts differ by at most one")
    func roundRobinStaysEven() async throws {
        // Each element: toggle a member (0-3), or route (4-9).
        await propertyCheck(count: 300, input: Gen.int(in: 0...9).array(of: 1...200), Gen.int(in: 0...50)) { script, start in
            var directory = Self.directory
            var rotation = Rotation(starts: ["sales": start])
            let members = ["a", "b", "c", "d"]
            var stretch: [String: Int] = [:]
            func checkStretch() {
                let eligible = Router.eligibleMembers(of: "sales", directory, Date(timeIntervalSince1970: 0))
                let counts = eligible.map { stretch[$0, default: 0] }
                if let high = counts.max(), let low = counts.min() { #expect(high - low <= 1, "stretch counts \(stretch) over \(eligible)") }
                stretch = [:]
            }
            for action in script {
                if action < 4 {
                    checkStretch()
                    directory.members[members[action]]?.active.toggle()
                    continue
                }
                let decision = Router.route(team: "sales", strategy: .roundRobin, fallback: .queue, contact: ContactSnapshot(id: "C"),
                                            directory: &directory, rotation: &rotation, now: Date(timeIntervalSince1970: 0))
                switch decision {
                case .member(let id, _, _):
                    #expect(directory.members[id]?.active == true, "routed to \(id), who is unavailable")
                    stretch[id, default: 0] += 1
                case .queue:
                    #expect(members.allSatisfy { directory.members[$0]?.active == false }, "queued while someone was available")
                case .fail(let why):
                    Issue.record("routing failed: \(why)")
                case .later:
                    Issue.record("round robin without working hours never waits")
                }
            }
            checkStretch()
        }
    }
}
