@testable import BatonCore
import Foundation
import Testing

/// `reply`: agent_replied within 1h, paused by waiting_on_customer, resumed by customer_replied.
private let reply = WaitForSLA(event: "agent_replied", within: TimeSpan(seconds: 3600), pauseOn: ["waiting_on_customer"],
                               resumeOn: ["customer_replied"])

private func replyWorkflow(_ wait: WaitForSLA = reply) -> WorkflowDefinition {
    workflow(step("reply", .waitForSLA(wait, onMet: "met", onBreach: "breached")),
             step("met", .end(End(outcome: "met"))), step("breached", .end(End(outcome: "breached"))))
}

private let office = directory(team("support", [member("ana")]), calendars: [weekdayCalendar("office")])

private func signal(_ id: Int, _ name: String, _ at: Date) -> PendingSignal { PendingSignal(id: id, name: name, receivedAt: at) }

/// A `reply` wait that began at t0 (deadline t0 + 1h), claimed again with these signals.
private func waiting(signals: [PendingSignal] = [], deadline: Date = t0.addingTimeInterval(3600), pausedAt: Date? = nil,
                     pausedSeconds: TimeInterval = 0) -> InstanceSnapshot {
    var snapshot = instance(at: "reply", state: .waiting, seq: 1, waitStartedAt: t0, deadline: deadline, signals: signals)
    snapshot.pausedAt = pausedAt
    snapshot.pausedBy = pausedAt == nil ? nil : "waiting_on_customer"
    snapshot.pausedSeconds = pausedSeconds
    return snapshot
}

@Suite struct SLAPauseMachineTests {
    @Test func aPauseStopsTheClockAndTheDeadlineWakesNothing() {
        let at = t0.addingTimeInterval(1200)
        let out = advance(waiting(signals: [signal(5, "waiting_on_customer", at)]), replyWorkflow(), office,
                          now: at.addingTimeInterval(2))
        let a = out.advance
        #expect(a.state == .waiting)
        #expect(a.paused)
        #expect(a.runAt == Advance.neverDue)
        #expect(a.deadline == t0.addingTimeInterval(3600))
        #expect(a.usedSignals == [5])
        #expect(a.pauseEvents == ["waiting_on_customer", "customer_replied"])
        #expect(a.pauses == [SLAPause(step: "reply", waitStartedAt: t0, startedAt: at, pauseEvent: "waiting_on_customer",
                                      deadlineBefore: t0.addingTimeInterval(3600))])
        #expect(a.events.map(\.detail) == ["sla_paused: waiting_on_customer (signal 5); the clock stops with 40m left"])
        #expect(a.events.map(\.toState) == [.waiting])
    }

    @Test func aPausedWaitDoesNotBreachAfterItsDeadline() {
        // Claimed long after the old deadline (a lease that ran out, an unrelated wake): still paused.
        let out = advance(waiting(pausedAt: t0.addingTimeInterval(1200)), replyWorkflow(), office, now: t0.addingTimeInterval(86400))
        #expect(out.advance.state == .waiting)
        #expect(out.advance.paused)
        #expect(out.advance.runAt == Advance.neverDue)
        #expect(out.advance.events.isEmpty)
        #expect(out.advance.pauses.isEmpty)
    }

    @Test func resumeMovesTheDeadlineByThePausedTimeAndArmsIt() {
        let paused = t0.addingTimeInterval(1200), resumed = t0.addingTimeInterval(3 * 3600)
        let out = advance(waiting(signals: [signal(6, "customer_replied", resumed)], pausedAt: paused), replyWorkflow(), office,
                          now: resumed)
        let a = out.advance
        let moved = t0.addingTimeInterval(3600 + (3 * 3600 - 1200))
        #expect(a.state == .waiting)
        #expect(!a.paused)
        #expect(a.deadline == moved)
        #expect(a.runAt == moved)
        #expect(a.pauses == [SLAPause(step: "reply", waitStartedAt: t0, startedAt: paused, endedAt: resumed,
                                      pauseEvent: "waiting_on_customer", resumeEvent: "customer_replied", seconds: 3 * 3600 - 1200,
                                      deadlineBefore: t0.addingTimeInterval(3600), deadlineAfter: moved, existing: true)])
        #expect(a.events.map(\.detail) == ["sla_resumed: customer_replied (signal 6) after 2h40m paused; deadline moves to \(iso(moved))"])
    }

    @Test func aWaitResumedAfterItsNewDeadlineBreaches() {
        // Paused with 40m left, resumed at +3h; the worker only gets to it an hour after the new deadline.
        let out = advance(waiting(signals: [signal(6, "customer_replied", t0.addingTimeInterval(3 * 3600))],
                                  pausedAt: t0.addingTimeInterval(1200)),
                          replyWorkflow(), office, now: t0.addingTimeInterval(3 * 3600 + 40 * 60 + 3600))
        #expect(out.advance.outcome == "breached")
        #expect(out.advance.events.map(\.detail).contains { $0.hasPrefix("sla_breached: no agent_replied by ") })
    }

    @Test func severalPausesInOneClaimAddUp() {
        let signals = [signal(1, "waiting_on_customer", t0.addingTimeInterval(600)),
                       signal(2, "customer_replied", t0.addingTimeInterval(1200)),
                       signal(3, "waiting_on_customer", t0.addingTimeInterval(1800)),
                       signal(4, "customer_replied", t0.addingTimeInterval(4800))]
        let out = advance(waiting(signals: signals), replyWorkflow(), office, now: t0.addingTimeInterval(4800))
        let a = out.advance
        #expect(a.deadline == t0.addingTimeInterval(3600 + 600 + 3000))
        #expect(a.pauses.map(\.seconds) == [600, 3000])
        #expect(a.pauses.map(\.existing) == [false, false])
        #expect(a.usedSignals == [1, 2, 3, 4])
        #expect(a.events.map { String($0.detail.prefix(11)) } == ["sla_paused:", "sla_resumed", "sla_paused:", "sla_resumed"])
    }

    @Test func aPauseWhileAlreadyPausedIsIgnored() {
        let out = advance(waiting(signals: [signal(7, "waiting_on_customer", t0.addingTimeInterval(2400))],
                                  pausedAt: t0.addingTimeInterval(1200)), replyWorkflow(), office, now: t0.addingTimeInterval(2400))
        #expect(out.advance.paused)
        #expect(out.advance.usedSignals == [7])
        #expect(out.advance.pauses.isEmpty)
        #expect(out.advance.events.isEmpty)
    }

    @Test func aResumeWhileRunningIsIgnored() {
        let out = advance(waiting(signals: [signal(8, "customer_replied", t0.addingTimeInterval(600))]), replyWorkflow(), office,
                          now: t0.addingTimeInterval(600))
        #expect(!out.advance.paused)
        #expect(out.advance.usedSignals == [8])
        #expect(out.advance.deadline == t0.addingTimeInterval(3600))
        #expect(out.advance.runAt == t0.addingTimeInterval(3600))
        #expect(out.advance.events.isEmpty)
    }

    @Test func aPauseThatArrivedBeforeTheWaitBeganPausesItFromItsStart() {
        let early = t0.addingTimeInterval(-900)
        let out = advance(instance(at: "reply", signals: [signal(3, "waiting_on_customer", early)]), replyWorkflow(), office)
        let a = out.advance
        #expect(a.paused)
        #expect(a.waitStartedAt == t0)
        #expect(a.pauses.map(\.startedAt) == [t0])
        #expect(a.events.map(\.detail) == [
            "waiting for agent_replied until \(iso(t0.addingTimeInterval(3600))) (1h wall)",
            "sla_paused: waiting_on_customer (signal 3, received before the wait began); the clock stops with 1h left",
        ])
    }

    @Test func earlyPauseAndResumeCancelOut() {
        let signals = [signal(3, "waiting_on_customer", t0.addingTimeInterval(-900)),
                       signal(4, "customer_replied", t0.addingTimeInterval(-300))]
        let out = advance(instance(at: "reply", signals: signals), replyWorkflow(), office)
        #expect(!out.advance.paused)
        #expect(out.advance.deadline == t0.addingTimeInterval(3600))
        #expect(out.advance.usedSignals == [3, 4])
    }

    @Test func aPauseAfterTheDeadlineIsTooLateAndLeftForALaterWait() {
        let out = advance(waiting(signals: [signal(9, "waiting_on_customer", t0.addingTimeInterval(3700))]), replyWorkflow(), office,
                          now: t0.addingTimeInterval(3800))
        #expect(out.advance.outcome == "breached")
        #expect(out.advance.usedSignals.isEmpty)
        #expect(out.advance.pauses.isEmpty)
    }

    @Test func theMetEventWhilePausedMeetsTheWaitAndEndsThePause() {
        let paused = t0.addingTimeInterval(1200), met = t0.addingTimeInterval(7200)
        let out = advance(waiting(signals: [signal(10, "agent_replied", met)], pausedAt: paused), replyWorkflow(), office, now: met)
        let a = out.advance
        #expect(a.outcome == "met")
        #expect(a.pauses.count == 1)
        #expect(a.pauses.first?.endedAt == met)
        #expect(a.pauses.first?.resumeEvent == nil)
        #expect(a.pauses.first?.existing == true)
        #expect(a.events.first?.detail.hasPrefix("sla_met: agent_replied (signal 10, 7200s into the wait; paused 1h40m") == true)
    }

    @Test func metAfterTheOriginalDeadlineButInTimeOnThePausedClockIsABreachAvoided() {
        // Paused 2h earlier; met at +1h30m: late for the original deadline (+1h), in time for the moved one (+3h).
        let out = advance(waiting(signals: [signal(11, "agent_replied", t0.addingTimeInterval(5400))],
                                  deadline: t0.addingTimeInterval(3 * 3600), pausedSeconds: 7200),
                          replyWorkflow(), office, now: t0.addingTimeInterval(5400))
        #expect(out.advance.outcome == "met")
        #expect(out.advance.events.first?.detail.contains(Machine.breachAvoided) == true)
    }

    @Test func metBeforeTheOriginalDeadlineIsNotABreachAvoided() {
        let out = advance(waiting(signals: [signal(12, "agent_replied", t0.addingTimeInterval(1800))],
                                  deadline: t0.addingTimeInterval(3 * 3600), pausedSeconds: 7200),
                          replyWorkflow(), office, now: t0.addingTimeInterval(1800))
        #expect(out.advance.outcome == "met")
        #expect(out.advance.events.first?.detail.contains(Machine.breachAvoided) == false)
        #expect(out.advance.events.first?.detail.contains("paused 2h") == true)
    }

    @Test func businessHoursPauseFromFridayToMondayMovesTheDeadlineByTwoHours() {
        // Wait began Friday 13:00 for 4 business hours: deadline Friday 17:00. Paused 16:00, resumed Monday 10:00.
        let wait = WaitForSLA(event: "agent_replied", within: TimeSpan(seconds: 4 * 3600), clock: .businessHours,
                              calendar: "office", pauseOn: ["waiting_on_customer"], resumeOn: ["customer_replied"])
        let began = instant("2026-03-06T13:00:00+01:00")
        var snapshot = instance(at: "reply", state: .waiting, seq: 2, waitStartedAt: began,
                                deadline: instant("2026-03-06T17:00:00+01:00"),
                                signals: [signal(1, "customer_replied", instant("2026-03-09T10:00:00+01:00"))])
        snapshot.pausedAt = instant("2026-03-06T16:00:00+01:00")
        snapshot.pausedBy = "waiting_on_customer"
        let out = advance(snapshot, replyWorkflow(wait), office, now: instant("2026-03-09T10:00:01+01:00"))
        #expect(out.advance.deadline == instant("2026-03-09T11:00:00+01:00"))
        #expect(out.advance.pauses.first?.seconds == 7200)
        #expect(out.advance.events.first?.detail
                == "sla_resumed: customer_replied (signal 1) after 2h of business hours paused; deadline moves to 2026-03-09T10:00:00Z")
    }

    @Test func aWaitWithoutPauseEventsLeavesThoseSignalsForOthers() {
        let plain = WaitForSLA(event: "agent_replied", within: TimeSpan(seconds: 3600))
        let out = advance(waiting(signals: [signal(1, "waiting_on_customer", t0.addingTimeInterval(60))]), replyWorkflow(plain), office,
                          now: t0.addingTimeInterval(120))
        #expect(out.advance.usedSignals.isEmpty)
        #expect(!out.advance.paused)
        #expect(out.advance.pauseEvents == nil)
        #expect(out.advance.runAt == t0.addingTimeInterval(3600))
    }

    @Test func leavingTheWaitForgetsItsPause() {
        // A paused wait met, then the next step is another wait: it begins with its clock running.
        let wf = workflow(step("reply", .waitForSLA(reply, onMet: "again", onBreach: "done")),
                          step("again", .waitForSLA(WaitForSLA(event: "closed", within: TimeSpan(seconds: 60)), onMet: "done",
                                                    onBreach: "done")), endStep)
        let out = advance(waiting(signals: [signal(2, "agent_replied", t0.addingTimeInterval(1500))],
                                  pausedAt: t0.addingTimeInterval(1200)), wf, office, now: t0.addingTimeInterval(1500))
        #expect(out.advance.step == "again")
        #expect(!out.advance.paused)
        #expect(out.advance.runAt == t0.addingTimeInterval(1500 + 60))
        #expect(out.advance.pauseEvents == nil)
    }
}

@Suite struct SLAPauseWithoutResumeTests {
    @Test func aPausedWaitWhoseStepHasNoResumeOnRunsAgainAtOnce() {
        // Moved to a version whose wait cannot be paused: the clock runs again from now.
        let plain = WaitForSLA(event: "agent_replied", within: TimeSpan(seconds: 3600))
        let wf = workflow(step("reply", .waitForSLA(plain, onMet: "done", onBreach: "done")), endStep)
        var snapshot = instance(at: "reply", state: .waiting, seq: 1, waitStartedAt: t0, deadline: t0.addingTimeInterval(3600))
        snapshot.pausedAt = t0.addingTimeInterval(600)
        snapshot.pausedBy = "waiting_on_customer"
        let out = advance(snapshot, wf, office, now: t0.addingTimeInterval(1200))
        #expect(!out.advance.paused)
        #expect(out.advance.deadline == t0.addingTimeInterval(4200))
        #expect(out.advance.runAt == t0.addingTimeInterval(4200))
        #expect(out.advance.pauses.first?.existing == true)
        #expect(out.advance.events.first?.detail.hasPrefix("sla_resumed: this wait has no resume_on after 10m paused") == true)
    }
}
