@testable import BatonCore
import Foundation

// Small builders for the pure-core tests: dates, members, teams, directories, instances, workflows.

/// A fixed instant: Monday 2026-03-02 10:00 UTC.
let t0 = instant("2026-03-02T10:00:00Z")

/// An RFC 3339 instant, e.g. `2026-03-02T10:00:00Z` or `2026-03-06T15:30:00+01:00`.
func instant(_ text: String) -> Date {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    guard let date = formatter.date(from: text) else { fatalError("bad instant \(text)") }
    return date
}

/// A member of `team` (eligible unless told otherwise).
func member(_ id: String, team: String = "sales", capacity: Int? = nil, weight: Int = 1, active: Bool = true,
            away until: Date? = nil, backup: String? = nil, open: Int = 0) -> MemberInfo {
    MemberInfo(id: id, name: id.capitalized, email: "\(id)@example.com", team: team, capacity: capacity, weight: weight,
               active: active, outOfOfficeUntil: until, backup: backup, openCount: open)
}

/// A team and its members (each member's `team` is set to this team).
struct TeamFixture {
    var info: TeamInfo
    var members: [MemberInfo]
}

func team(_ name: String, manager: String? = nil, calendar: String? = nil, _ members: [MemberInfo]) -> TeamFixture {
    let members = members.map { m -> MemberInfo in
        var m = m
        m.team = name
        return m
    }
    return TeamFixture(info: TeamInfo(name: name, calendar: calendar, manager: manager, members: members.map(\.id)),
                       members: members)
}

/// A directory of teams (member ids must be unique across them) and calendars.
func directory(_ teams: TeamFixture..., calendars: [BusinessCalendar] = []) -> Directory {
    Directory(teams: teams.map(\.info), members: teams.flatMap(\.members), calendars: calendars)
}

/// Working hours `09:00-17:00` (or as given) Monday to Friday in `zone`.
func weekdayCalendar(_ name: String = "office", zone: String = "Europe/Berlin", hours: String = "09:00-17:00",
                     friday: String? = nil, holidays: [String] = []) -> BusinessCalendar {
    let range = MinuteRange(parsing: hours)!
    var days: [Int: [MinuteRange]] = [1: [range], 2: [range], 3: [range], 4: [range], 5: [range]]
    if let friday { days[5] = [MinuteRange(parsing: friday)!] }
    return BusinessCalendar(name: name, timezone: zone, hours: days, holidays: holidays)
}

/// An instance of workflow `wf` at `step`, claimed in `state`.
func instance(at step: String, contact: ContactSnapshot = ContactSnapshot(id: "C-1"), state: InstanceState = .ready,
              seq: Int = 0, attempt: Int = 0, priority: Int = 0, waitStartedAt: Date? = nil, deadline: Date? = nil,
              signals: [PendingSignal] = [], id: Int = 7) -> InstanceSnapshot {
    InstanceSnapshot(id: id, workflow: "wf", version: 1, contact: contact, state: state, step: step, seq: seq,
                     attempt: attempt, fence: 3, priority: priority, waitStartedAt: waitStartedAt, deadline: deadline,
                     createdAt: t0.addingTimeInterval(-3600), pendingSignals: signals)
}

/// A workflow named `wf` starting at its first step.
func workflow(_ steps: Step...) -> WorkflowDefinition {
    WorkflowDefinition(name: "wf", start: steps.first?.id ?? "", steps: steps)
}

/// A step whose id and action are given.
func step(_ id: String, _ action: Action, maxAttempts: Int? = nil) -> Step {
    Step(id: id, action: action, maxAttempts: maxAttempts)
}

/// The result of one `Machine.advance`, with the directory and rotation after it.
struct Outcome {
    var advance: Advance
    var directory: Directory
    var rotation: Rotation
}

func advance(_ instance: InstanceSnapshot, _ definition: WorkflowDefinition, _ directory: Directory,
             rotation: Rotation = Rotation(), now: Date = t0, jitter: Double = 0.5, machine: Machine = Machine()) -> Outcome {
    var directory = directory
    var rotation = rotation
    let result = machine.advance(instance, definition: definition, directory: &directory, rotation: &rotation, now: now,
                                 jitter: jitter)
    return Outcome(advance: result, directory: directory, rotation: rotation)
}

/// A condition from `attribute: test` pairs.
func when(_ clauses: (String, Condition.Test)...) -> Condition {
    Condition(clauses.map { Condition.Clause(attribute: $0.0, tests: [$0.1]) })
}

/// `done: end`.
let endStep = Step(id: "done", action: .end(End()))
