@testable import BatonCore
import Foundation
import Testing

/// `instances migrate` plans before it moves anything, and refuses what it cannot move safely.
@Suite struct MigrationPlannerTests {
    static let wait = Action.waitForSLA(WaitForSLA(event: "first_touch", within: TimeSpan(seconds: 4 * 3600)), onMet: "done", onBreach: "done")

    static let v1 = WorkflowDefinition(name: "wf", start: "route", steps: [
        step("route", .assign(Assign(team: "sales"), next: "first-touch")),
        step("first-touch", wait),
        step("nudge", .notify(Notify(to: [.owner], message: "hi"), next: "done")),
        endStep,
    ])

    static func v2(_ steps: Step...) -> WorkflowDefinition { WorkflowDefinition(name: "wf", start: "route", steps: steps) }

    static func plan(
        to target: WorkflowDefinition, map: [String: String] = [:], standing: [StandingInstances], from source: StepOutline = StepOutline(v1)
    ) throws -> MigrationPlan {
        try MigrationPlanner.plan(workflow: "wf", fromVersion: 1, source: source, toVersion: 2, target: target, map: map,
                                  standing: standing)
    }

    static func refusal(_ body: () throws -> MigrationPlan) -> [String] {
        do {
            _ = try body()
            return []
        } catch let refusal as MigrationRefusal {
            return refusal.problems
        } catch {
            return ["unexpected \(error)"]
        }
    }

    @Test func sameStepIdsMoveToTheirCounterparts() throws {
        let plan = try Self.plan(to: Self.v1, standing: [
            StandingInstances(step: "first-touch", count: 12, sample: [4, 5, 9, 10, 11]),
            StandingInstances(step: "route", count: 1, sample: [30]),
        ])
        #expect(plan.moves.map { "\($0.from)->\($0.to) \($0.kind) \($0.count)" } == [
            "route->route assign 1", "first-touch->first-touch wait_for_sla 12",
        ])
        #expect(plan.total == 13)
        #expect(plan.mapping == ["route": "route", "first-touch": "first-touch", "nudge": "nudge", "done": "done"])
    }

    @Test func aRemovedStepWithInstancesIsRefusedNamingTheStepAndTheInstances() {
        let target = Self.v2(step("route", .assign(Assign(team: "sales"), next: "done")), endStep)
        #expect(Self.refusal { try Self.plan(to: target, standing: [
            StandingInstances(step: "first-touch", count: 12, sample: [4, 5, 9, 10, 11]),
            StandingInstances(step: "nudge", count: 2, sample: [7, 8]),
        ]) } == [
            "step first-touch (wait_for_sla) is not in wf v2: 12 instance(s) stand there (4, 5, 9, 10, 11, …); map it with --map first-touch=STEP",
            "step nudge (notify) is not in wf v2: 2 instance(s) stand there (7, 8); map it with --map nudge=STEP",
        ])
    }

    @Test func aRemovedStepWithoutInstancesIsNoProblem() throws {
        let target = Self.v2(step("route", .assign(Assign(team: "sales"), next: "first-touch")), step("first-touch", Self.wait), endStep)
        let plan = try Self.plan(to: target, standing: [StandingInstances(step: "first-touch", count: 3, sample: [1, 2, 3])])
        #expect(plan.mapping["nudge"] == nil)
        #expect(plan.total == 3)
    }

    @Test func aWaitOnlyMovesToAWait() {
        let target = Self.v2(step("first-touch", .notify(Notify(to: [.owner], message: "x"), next: "done")), endStep)
        #expect(Self.refusal { try Self.plan(to: target, standing: [StandingInstances(step: "first-touch", count: 1, sample: [4])]) } == [
            "step first-touch (wait_for_sla) would move to first-touch (notify) in wf v2: a wait can only move to a wait; 1 instance(s) stand there (4); choose another with --map first-touch=STEP",
        ])
    }

    @Test func otherStepsOnlyMoveToTheSameKind() {
        let target = Self.v2(step("route", .goto("done")), endStep)
        #expect(Self.refusal { try Self.plan(to: target, standing: [StandingInstances(step: "route", count: 1, sample: [4])]) } == [
            "step route (assign) would move to route (goto) in wf v2: a step can only move to a step of the same kind; 1 instance(s) stand there (4); choose another with --map route=STEP",
        ])
    }

    @Test func aMapMovesARenamedWait() throws {
        let target = Self.v2(step("touch-window", Self.wait), endStep)
        let plan = try Self.plan(to: target, map: ["first-touch": "touch-window"],
                                 standing: [StandingInstances(step: "first-touch", count: 2, sample: [1, 2])])
        #expect(plan.moves.map(\.to) == ["touch-window"])
        #expect(plan.mapping == ["first-touch": "touch-window", "done": "done"])
        #expect(plan.waitEvent(at: "touch-window") == "first_touch")
    }

    @Test func aMapNamingUnknownStepsIsRefused() {
        #expect(Self.refusal { try Self.plan(to: Self.v1, map: ["first-tuch": "first-touch", "route": "routing"], standing: []) } == [
            "--map first-tuch=first-touch: wf v1 has no step first-tuch (steps: route, first-touch, nudge, done)",
            "--map route=routing: wf v2 has no step routing (steps: route, first-touch, nudge, done)",
        ])
    }

    @Test func theSameVersionIsRefused() {
        #expect(Self.refusal {
            try MigrationPlanner.plan(workflow: "wf", fromVersion: 2, source: StepOutline(Self.v1), toVersion: 2, target: Self.v1,
                                      map: [:], standing: [])
        } == ["--from-version and --to-version are both 2: nothing to migrate"])
    }

    @Test func anInstanceOnAStepItsOwnVersionLacksNeedsAMap() throws {
        #expect(Self.refusal { try Self.plan(to: Self.v1, standing: [StandingInstances(step: "ghost", count: 1, sample: [9])]) } == [
            "step ghost is not in wf v2: 1 instance(s) stand there (9); map it with --map ghost=STEP",
        ])
        let plan = try Self.plan(to: Self.v1, map: ["ghost": "route"], standing: [StandingInstances(step: "ghost", count: 1, sample: [9])])
        #expect(plan.moves.map(\.to) == ["route"])
    }

    /// A version this build cannot decode (a step kind it does not know) still has an outline.
    @Test func anOrphanedVersionIsOutlinedFromItsJSON() throws {
        let spec = #"{"name":"wf","start":"a","steps":[{"id":"a","action":{"teleport":{"_0":{}}}},{"id":"w","action":{"waitForSLA":{"_0":{"event":"x","within":"1h","clock":"wall"},"onMet":"a","onBreach":"a"}}}]}"#
        let outline = try #require(StepOutline(specJSON: Data(spec.utf8)))
        #expect(outline.ids == ["a", "w"])
        #expect(outline.kinds == ["a": "teleport", "w": "wait_for_sla"])
        let target = Self.v2(step("w", Self.wait), endStep)
        let plan = try Self.plan(to: target, standing: [StandingInstances(step: "w", count: 1, sample: [1])], from: outline)
        #expect(plan.mapping == ["w": "w"])
    }

    @Test func deadlinesAreKeptUnlessRecomputedOnTheNewWaitsCalendar() throws {
        let office = weekdayCalendar("office")
        let target = Self.v2(step("first-touch", .waitForSLA(
            WaitForSLA(event: "first_touch", within: TimeSpan(seconds: 2 * 3600), clock: .businessHours, calendar: "office"),
            onMet: "done", onBreach: "done")), endStep)
        let plan = try Self.plan(to: target, standing: [StandingInstances(step: "first-touch", count: 1, sample: [1])])
        let started = instant("2026-03-06T15:00:00Z")  // Friday 16:00 in Berlin
        let kept = instant("2026-03-09T11:00:00Z")
        #expect(plan.deadline(at: "first-touch", waitStartedAt: started, kept: kept, recompute: false, calendars: ["office": office]) == kept)
        // 1 working hour on Friday (16:00-17:00), 1 on Monday from 09:00 Berlin = 09:00 UTC.
        #expect(plan.deadline(at: "first-touch", waitStartedAt: started, kept: kept, recompute: true, calendars: ["office": office])
                == instant("2026-03-09T09:00:00Z"))
    }
}
