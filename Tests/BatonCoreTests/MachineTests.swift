@testable import BatonCore
import Foundation
import Testing

/// sales (manager maria): ana (backup ben), ben (backup ana), cara; leads: maria; retention: raj, rita (5 open);
/// calendar emea: Berlin, 09:00-17:00 Monday to Thursday, 09:00-16:00 Friday.
private func salesDirectory() -> Directory {
    directory(
        team("sales", manager: "maria", [member("ana", backup: "ben"), member("ben", backup: "ana"), member("cara")]),
        team("leads", [member("maria")]),
        team("retention", [member("rita", capacity: 200, open: 5), member("raj", capacity: 200)]),
        calendars: [weekdayCalendar("emea", friday: "09:00-16:00")])
}

private func owned(by owner: String, backup: String? = nil, previous: String? = nil, team: String = "sales",
                   _ attributes: [String: String] = [:]) -> ContactSnapshot {
    ContactSnapshot(id: "C-1", attributes: attributes, owner: owner, backupOwner: backup, team: team, previousOwner: previous)
}

private func assignStep(_ assign: Assign, next: String = "done") -> Step { step("route", .assign(assign, next: next)) }

private let firstTouch = WaitForSLA(event: "first_touch", within: TimeSpan(seconds: 4 * 3600))

/// `wait` (first_touch within 4h) -> `met` or `breached`, both ends.
private func waitWorkflow(_ wait: WaitForSLA = firstTouch) -> WorkflowDefinition {
    workflow(step("wait", .waitForSLA(wait, onMet: "met", onBreach: "breached")),
             step("met", .end(End(outcome: "met"))), step("breached", .end(End(outcome: "breached"))))
}

private func escalation(_ escalate: Escalate) -> WorkflowDefinition {
    workflow(step("esc", .escalate(escalate, next: "done")), endStep)
}

@Suite struct AssignStepTests {
    @Test func roundRobinAssignmentSetsOwnerTeamAndBackup() {
        let out = advance(instance(at: "route"), workflow(assignStep(Assign(team: "sales")), endStep), salesDirectory())
        #expect(out.advance.contact == ContactSnapshot(id: "C-1", owner: "ana", backupOwner: "ben", team: "sales"))
        #expect(out.advance.queued == false)
    }

    @Test func assignmentIsRecordedInOwnershipHistoryAsRoundRobin() {
        let out = advance(instance(at: "route"), workflow(assignStep(Assign(team: "sales")), endStep), salesDirectory())
        #expect(out.advance.ownerChanges == [OwnerChange(contact: "C-1", from: nil, to: "ana", team: "sales", reason: "round_robin")])
    }

    @Test func assignmentTakesTheReservedRotationPosition() {
        let out = advance(instance(at: "route"), workflow(assignStep(Assign(team: "sales")), endStep), salesDirectory(),
                          rotation: Rotation(starts: ["sales": 4]))
        #expect(out.advance.contact?.owner == "ben")
        #expect(out.rotation.used == ["sales": 1])
    }

    @Test func assignmentCountsTheNewOwnersOpenWork() {
        let out = advance(instance(at: "route"), workflow(assignStep(Assign(team: "sales")), endStep), salesDirectory())
        #expect(out.directory.members["ana"]?.openCount == 1)
    }

    @Test func namedRuleIsRecordedAsRuleName() {
        let rule = Rule(name: "enterprise", when: when(("tier", .equals("enterprise"))), member: "maria")
        let out = advance(instance(at: "route", contact: ContactSnapshot(id: "C-1", attributes: ["tier": "enterprise"])),
                          workflow(assignStep(Assign(team: "sales", strategy: .rules, rules: [rule])), endStep), salesDirectory())
        #expect(out.advance.ownerChanges.map(\.reason) == ["rule:enterprise"])
        #expect(out.advance.contact?.owner == "maria")
        #expect(out.advance.contact?.team == "leads")
    }

    @Test func unnamedRuleIsRecordedByItsIndex() {
        let rules = [Rule(when: when(("country", .equals("FR"))), member: "cara"),
                     Rule(when: when(("country", .oneOf(["DE", "AT"]))), team: "retention")]
        let out = advance(instance(at: "route", contact: ContactSnapshot(id: "C-1", attributes: ["country": "AT"])),
                          workflow(assignStep(Assign(team: "sales", strategy: .rules, rules: rules)), endStep), salesDirectory())
        #expect(out.advance.ownerChanges.map(\.reason) == ["rule:rules[1]"])
        #expect(out.advance.contact?.team == "retention")
    }

    @Test func nobodyEligibleWithQueueFallbackLeavesTheContactUnownedInTheTeam() {
        let dir = directory(team("sales", [member("ana", active: false), member("ben", active: false)]))
        let out = advance(instance(at: "route", contact: owned(by: "ana")), workflow(assignStep(Assign(team: "sales")), endStep), dir)
        #expect(out.advance.queued)
        #expect(out.advance.contact?.owner == nil)
        #expect(out.advance.contact?.team == "sales")
        #expect(out.advance.contact?.previousOwner == "ana")
        #expect(out.advance.ownerChanges == [OwnerChange(contact: "C-1", from: "ana", to: nil, team: "sales",
                                                         reason: "queued: nobody eligible in sales")])
    }

    @Test func reassigningTheSameOwnerRecordsNoOwnershipChange() {
        let out = advance(instance(at: "route", contact: owned(by: "ana")),
                          workflow(assignStep(Assign(team: "sales", strategy: .sticky)), endStep), salesDirectory())
        #expect(out.advance.ownerChanges.isEmpty)
        #expect(out.advance.contact?.owner == "ana")
    }
}

@Suite struct NotifyStepTests {
    private func notifying(_ notify: Notify, id: String = "tell", next: String = "done") -> Step {
        step(id, .notify(notify, next: next))
    }

    @Test func messageIsRenderedForTheRecipient() {
        let notify = Notify(to: [.owner], message: "Hi {{recipient.name}}: {{contact.id}} ({{contact.country}}) in {{workflow}}/{{step}}, owner {{owner.email}}")
        let out = advance(instance(at: "tell", contact: owned(by: "ana", ["country": "DE"])),
                          workflow(notifying(notify), endStep), salesDirectory())
        #expect(out.advance.notifications == [OutboundMessage(
            key: "i7-t1-r0", step: "tell", channel: "log", recipient: "ana", email: "ana@example.com",
            message: "Hi Ana: C-1 (DE) in wf/tell, owner ana@example.com", suppressed: false)])
    }

    /// A notify step's `subject:` is rendered per recipient with the message's variables, as plain
    /// text; without one the message carries no subject (the channel's own applies).
    @Test func subjectIsRenderedWithTheMessagesVariables() {
        let notify = Notify(to: [.owner], channel: "mail", message: "Hi {{recipient.name}}",
                            subject: "{{contact.company}} ({{contact.id}}) for {{recipient.name}} in {{workflow}}")
        let contact = owned(by: "ana", ["company": "Müller & <Söhne>"])
        let out = advance(instance(at: "tell", contact: contact), workflow(notifying(notify), endStep), salesDirectory())
        #expect(out.advance.notifications.map(\.subject) == ["Müller & <Söhne> (C-1) for Ana in wf"])
        #expect(out.advance.notifications.map(\.message) == ["Hi Ana"])
        let plain = advance(instance(at: "tell", contact: contact),
                            workflow(notifying(Notify(to: [.owner], channel: "mail", message: "Hi")), endStep), salesDirectory())
        #expect(plain.advance.notifications.map(\.subject) == [nil])
    }

    /// `contact.id` is the contact's id: an attribute named `id` (or `id.x`, which would make it a section)
    /// cannot change it, while other attributes, `name` included, still fill `contact.<attribute>`.
    @Test func anAttributeNamedIdCannotOverrideTheContactsId() {
        let notify = Notify(to: [.owner], message: "{{contact.id}}/{{contact.name}}/{{contact.tier}}")
        let contact = owned(by: "ana", ["id": "EVIL", "id.x": "y", "name": "Dirk", "tier": "gold"])
        let out = advance(instance(at: "tell", contact: contact), workflow(notifying(notify), endStep), salesDirectory())
        #expect(out.advance.notifications.map(\.message) == ["C-1/Dirk/gold"])
    }

    @Test func eachRecipientKindResolvesToItsMember() {
        let notify = Notify(to: [.owner, .backup, .manager, .previousOwner, .team("retention"), .member("cara")], message: "x")
        let out = advance(instance(at: "tell", contact: owned(by: "ana", previous: "ben")),
                          workflow(notifying(notify), endStep), salesDirectory())
        // previous_owner is ben again: each member is told once, in the order first named.
        #expect(out.advance.notifications.map(\.recipient) == ["ana", "ben", "maria", "raj", "rita", "cara"])
    }

    @Test func aMemberNamedTwiceIsToldOnce() {
        let notify = Notify(to: [.owner, .member("ana"), .team("sales")], message: "x")
        let out = advance(instance(at: "tell", contact: owned(by: "ana")), workflow(notifying(notify), endStep), salesDirectory())
        #expect(out.advance.notifications.map(\.recipient) == ["ana", "ben", "cara"])
    }

    @Test func backupRecipientPrefersTheContactsBackupOwner() {
        let out = advance(instance(at: "tell", contact: owned(by: "ana", backup: "cara")),
                          workflow(notifying(Notify(to: [.backup], message: "x")), endStep), salesDirectory())
        #expect(out.advance.notifications.map(\.recipient) == ["cara"])
    }

    @Test func teamRecipientSkipsInactiveMembers() {
        var dir = salesDirectory()
        dir.members["ben"]?.active = false
        let out = advance(instance(at: "tell"), workflow(notifying(Notify(to: [.team("sales")], message: "x")), endStep), dir)
        #expect(out.advance.notifications.map(\.recipient) == ["ana", "cara"])
    }

    @Test func keysAreUniqueAcrossRecipientsAndSteps() {
        let wf = workflow(notifying(Notify(to: [.team("sales")], message: "1"), id: "one", next: "two"),
                          notifying(Notify(to: [.team("sales"), .contact], message: "2"), id: "two"), endStep)
        let out = advance(instance(at: "one", contact: owned(by: "ana"), seq: 4), wf, salesDirectory())
        let keys = out.advance.notifications.map(\.key)
        #expect(keys == ["i7-t5-r0", "i7-t5-r1", "i7-t5-r2", "i7-t6-r0", "i7-t6-r1", "i7-t6-r2", "i7-t6-contact"])
        #expect(Set(keys).count == keys.count)
    }

    @Test func contactWithoutEmailConsentGetsASuppressedMessage() {
        let contact = ContactSnapshot(id: "C-1", attributes: ["consent.email": "false", "email": "c1@example.org"])
        let out = advance(instance(at: "tell", contact: contact),
                          workflow(notifying(Notify(to: [.contact], message: "Hello {{contact.id}}")), endStep), salesDirectory())
        #expect(out.advance.notifications == [OutboundMessage(
            key: "i7-t1-contact", step: "tell", channel: "log", recipient: "contact", email: "c1@example.org",
            message: "Hello C-1", suppressed: true)])
        #expect(out.advance.events.first?.detail == "notified 0 via log; 1 suppressed: the contact has not consented")
    }

    @Test func contactWhoConsentedGetsTheMessage() {
        let contact = ContactSnapshot(id: "C-1", attributes: ["consent.email": "true"])
        let out = advance(instance(at: "tell", contact: contact),
                          workflow(notifying(Notify(to: [.contact], message: "Hello")), endStep), salesDirectory())
        #expect(out.advance.notifications.map(\.suppressed) == [false])
        #expect(out.advance.events.first?.detail == "notified 1 via log")
    }

    @Test func notifyNamesItsChannel() {
        let out = advance(instance(at: "tell", contact: owned(by: "ana")),
                          workflow(notifying(Notify(to: [.owner], channel: "sales-slack", message: "x")), endStep), salesDirectory())
        #expect(out.advance.notifications.map(\.channel) == ["sales-slack"])
    }
}

@Suite struct ControlStepTests {
    private func branching(_ cases: [Branch.Case], otherwise: String = "other") -> WorkflowDefinition {
        workflow(step("check", .branch(Branch(cases: cases, otherwise: otherwise))),
                 step("gold", .end(End(outcome: "gold"))), step("silver", .end(End(outcome: "silver"))),
                 step("other", .end(End(outcome: "other"))))
    }

    @Test func branchTakesTheFirstMatchingCase() {
        let wf = branching([.init(when: when(("tier", .equals("gold"))), next: "gold"),
                            .init(when: when(("tier", .prefix("g"))), next: "silver")])
        let out = advance(instance(at: "check", contact: ContactSnapshot(id: "C-1", attributes: ["tier": "gold"])), wf, salesDirectory())
        #expect(out.advance.outcome == "gold")
        #expect(out.advance.events.first?.detail == "branch: case 1 -> gold")
    }

    @Test func branchTakesALaterCaseWhenEarlierOnesDoNotMatch() {
        let wf = branching([.init(when: when(("tier", .equals("gold"))), next: "gold"),
                            .init(when: when(("tier", .prefix("s"))), next: "silver")])
        let out = advance(instance(at: "check", contact: ContactSnapshot(id: "C-1", attributes: ["tier": "silver"])), wf, salesDirectory())
        #expect(out.advance.outcome == "silver")
    }

    @Test func branchTakesOtherwiseWhenNoCaseMatches() {
        let wf = branching([.init(when: when(("tier", .equals("gold"))), next: "gold")])
        let out = advance(instance(at: "check"), wf, salesDirectory())
        #expect(out.advance.outcome == "other")
        #expect(out.advance.events.first?.detail == "branch: otherwise -> other")
    }

    @Test func gotoGoesOn() {
        let out = advance(instance(at: "jump"), workflow(step("jump", .goto("done")), endStep), salesDirectory())
        #expect(out.advance.events.map(\.detail) == ["goto done", "completed"])
        #expect(out.advance.step == "done")
    }

    @Test func endCompletesWithItsOutcome() {
        let out = advance(instance(at: "done"), workflow(step("done", .end(End(outcome: "converted")))), salesDirectory())
        #expect(out.advance.state == .completed)
        #expect(out.advance.outcome == "converted")
        #expect(out.advance.lastError == nil)
        #expect(out.advance.events.map(\.detail) == ["completed: converted"])
        #expect(out.advance.events.map(\.toState) == [.completed])
    }

    @Test func endWithoutOutcomeCompletes() {
        let out = advance(instance(at: "done"), workflow(endStep), salesDirectory())
        #expect(out.advance.state == .completed)
        #expect(out.advance.outcome == nil)
    }
}

@Suite struct WaitForSLAStepTests {
    @Test func enteringAWaitArmsTheDeadlineOnTheWallClock() {
        let out = advance(instance(at: "wait"), waitWorkflow(), salesDirectory())
        let a = out.advance
        #expect(a.state == .waiting)
        #expect(a.step == "wait")
        #expect(a.deadline == t0.addingTimeInterval(4 * 3600))
        #expect(a.runAt == a.deadline)
        #expect(a.waitEvent == "first_touch")
        #expect(a.waitStartedAt == t0)
        #expect(a.events.map(\.detail) == ["waiting for first_touch until 2026-03-02T14:00:00Z (4h wall)"])
    }

    @Test func aSignalThatArrivedBeforeTheWaitBeganMeetsItAtOnce() {
        let early = PendingSignal(id: 42, name: "first_touch", receivedAt: t0.addingTimeInterval(-600))
        let out = advance(instance(at: "wait", signals: [early]), waitWorkflow(), salesDirectory())
        #expect(out.advance.outcome == "met")
        #expect(out.advance.usedSignals == [42])
        #expect(out.advance.events.first?.detail == "sla_met: first_touch (signal 42, 0s into the wait)")
    }

    @Test func aSignalOfAnotherEventDoesNotMeetTheWait() {
        let other = PendingSignal(id: 5, name: "purchased", receivedAt: t0.addingTimeInterval(-600))
        let out = advance(instance(at: "wait", signals: [other]), waitWorkflow(), salesDirectory())
        #expect(out.advance.state == .waiting)
        #expect(out.advance.usedSignals == [])
    }

    @Test func theOldestMatchingSignalIsConsumedFirst() {
        let signals = [PendingSignal(id: 9, name: "first_touch", receivedAt: t0), PendingSignal(id: 3, name: "first_touch", receivedAt: t0)]
        let out = advance(instance(at: "wait", signals: signals), waitWorkflow(), salesDirectory())
        #expect(out.advance.usedSignals == [3])
    }

    @Test func resumingWithASignalGoesToOnMet() {
        let started = t0.addingTimeInterval(-1800)
        let signal = PendingSignal(id: 8, name: "first_touch", receivedAt: t0.addingTimeInterval(-60))
        let out = advance(instance(at: "wait", state: .waiting, waitStartedAt: started, deadline: t0.addingTimeInterval(3600),
                                   signals: [signal]), waitWorkflow(), salesDirectory())
        #expect(out.advance.outcome == "met")
        #expect(out.advance.usedSignals == [8])
        #expect(out.advance.events.first?.detail == "sla_met: first_touch (signal 8, 1740s into the wait)")
        #expect(out.advance.events.first?.fromState == .waiting)
    }

    @Test func resumingAfterTheDeadlineWithoutASignalBreaches() {
        let deadline = t0.addingTimeInterval(-1)
        let out = advance(instance(at: "wait", state: .waiting, waitStartedAt: t0.addingTimeInterval(-7200), deadline: deadline),
                          waitWorkflow(), salesDirectory())
        #expect(out.advance.outcome == "breached")
        #expect(out.advance.events.first?.detail == "sla_breached: no first_touch by 2026-03-02T09:59:59Z")
        #expect(out.advance.usedSignals == [])
    }

    @Test func resumingExactlyAtTheDeadlineBreaches() {
        let out = advance(instance(at: "wait", state: .waiting, waitStartedAt: t0.addingTimeInterval(-7200), deadline: t0),
                          waitWorkflow(), salesDirectory())
        #expect(out.advance.outcome == "breached")
    }

    @Test func resumingBeforeTheDeadlineWithoutASignalKeepsWaitingAndRecordsNothing() {
        let started = t0.addingTimeInterval(-600)
        let deadline = t0.addingTimeInterval(3000)
        let out = advance(instance(at: "wait", state: .waiting, seq: 6, waitStartedAt: started, deadline: deadline),
                          waitWorkflow(), salesDirectory())
        let a = out.advance
        #expect(a.state == .waiting)
        #expect(a.deadline == deadline)
        #expect(a.runAt == deadline)
        #expect(a.waitStartedAt == started)
        #expect(a.waitEvent == "first_touch")
        #expect(a.events.isEmpty)
        #expect(a.seq == 6)
    }

    @Test func businessHoursWaitCountsTheCalendarsHours() {
        let wait = WaitForSLA(event: "first_touch", within: TimeSpan(seconds: 3600), clock: .businessHours, calendar: "emea")
        let now = instant("2026-03-06T15:30:00+01:00")  // Friday; emea closes 16:00 on Fridays
        let out = advance(instance(at: "wait"), waitWorkflow(wait), salesDirectory(), now: now)
        #expect(out.advance.deadline == instant("2026-03-09T09:30:00+01:00"))
        #expect(out.advance.events.first?.detail == "waiting for first_touch until 2026-03-09T08:30:00Z (1h business_hours)")
    }

    @Test func aWaitReachedAgainInTheSameClaimArmsAFreshDeadline() {
        // breached -> goto wait: the old deadline must not make the new wait breach at once.
        let wf = workflow(step("wait", .waitForSLA(firstTouch, onMet: "done", onBreach: "again")), step("again", .goto("wait")), endStep)
        let out = advance(instance(at: "wait", state: .waiting, waitStartedAt: t0.addingTimeInterval(-9 * 3600),
                                   deadline: t0.addingTimeInterval(-5 * 3600)), wf, salesDirectory())
        #expect(out.advance.state == .waiting)
        #expect(out.advance.deadline == t0.addingTimeInterval(4 * 3600))
        #expect(out.advance.waitStartedAt == t0)
    }
}

@Suite struct EscalateStepTests {
    @Test func reassignToBackupTakesTheContactsBackupOwner() {
        let out = advance(instance(at: "esc", contact: owned(by: "ana", backup: "cara")),
                          escalation(Escalate(reassignTo: .backup)), salesDirectory())
        #expect(out.advance.contact?.owner == "cara")
        #expect(out.advance.contact?.previousOwner == "ana")
        #expect(out.advance.ownerChanges == [OwnerChange(contact: "C-1", from: "ana", to: "cara", team: "sales", reason: "sla_breach")])
    }

    @Test func reassignToBackupFallsBackToTheOwnersMemberBackup() {
        let out = advance(instance(at: "esc", contact: owned(by: "ana")), escalation(Escalate(reassignTo: .backup)), salesDirectory())
        #expect(out.advance.contact?.owner == "ben")
    }

    @Test func reassignToBackupWithNoEligibleBackupNeverReturnsToTheOwner() {
        var dir = salesDirectory()
        dir.members["ben"]?.active = false
        for start in 0..<6 {
            let out = advance(instance(at: "esc", contact: owned(by: "ana")), escalation(Escalate(reassignTo: .backup)), dir,
                              rotation: Rotation(starts: ["sales": start]))
            #expect(out.advance.contact?.owner == "cara", "rotation position \(start)")
        }
    }

    @Test func reassignToManagerTakesTheTeamsManager() {
        let out = advance(instance(at: "esc", contact: owned(by: "ana")), escalation(Escalate(reassignTo: .manager)), salesDirectory())
        #expect(out.advance.contact?.owner == "maria")
        #expect(out.advance.contact?.team == "leads")
    }

    @Test func reassignToManagerOfATeamWithoutOneFails() {
        let out = advance(instance(at: "esc", contact: owned(by: "raj", team: "retention")),
                          escalation(Escalate(reassignTo: .manager)), salesDirectory())
        #expect(out.advance.state == .ready)
        #expect(out.advance.lastError == "team retention has no active manager to escalate to")
    }

    @Test func reassignToTeamRoutesInThatTeam() {
        let out = advance(instance(at: "esc", contact: owned(by: "ana")),
                          escalation(Escalate(reassignTo: .team("retention"))), salesDirectory())
        #expect(out.advance.contact?.owner == "raj")
        #expect(out.advance.contact?.team == "retention")
    }

    @Test func reassignToNextInRotationNeverReturnsToTheOwner() {
        for start in 0..<6 {
            let out = advance(instance(at: "esc", contact: owned(by: "ana")), escalation(Escalate(reassignTo: .nextInRotation)),
                              salesDirectory(), rotation: Rotation(starts: ["sales": start]))
            #expect(out.advance.contact?.owner != "ana", "rotation position \(start)")
            #expect(out.advance.contact?.team == "sales")
        }
    }

    @Test func reassignToNextInRotationFollowsTheRotationAmongTheOthers() {
        let owners = (0..<4).map { start in
            advance(instance(at: "esc", contact: owned(by: "ana")), escalation(Escalate(reassignTo: .nextInRotation)),
                    salesDirectory(), rotation: Rotation(starts: ["sales": start])).advance.contact?.owner
        }
        #expect(owners == ["ben", "cara", "ben", "cara"])
    }

    @Test func priorityIsRaised() {
        let out = advance(instance(at: "esc", contact: owned(by: "ana")), escalation(Escalate(priority: .high)), salesDirectory())
        #expect(out.advance.priority == Priority.high.rank)
    }

    @Test func priorityIsNeverLowered() {
        let out = advance(instance(at: "esc", contact: owned(by: "ana"), priority: 2), escalation(Escalate(priority: .low)),
                          salesDirectory())
        #expect(out.advance.priority == 2)
    }

    @Test func escalationTellsTheRecipientsWithTheDefaultMessage() {
        let out = advance(instance(at: "esc", contact: owned(by: "ana")),
                          escalation(Escalate(reassignTo: .backup, notify: [.manager, .previousOwner])), salesDirectory())
        #expect(out.advance.notifications.map(\.recipient) == ["maria", "ana"])
        #expect(out.advance.notifications.map(\.message) == Array(repeating: "Escalation for contact C-1 in wf at esc: owner is now Ben.", count: 2))
        #expect(out.advance.events.first?.detail == "escalated: assigned ben in sales (backup); notified 2")
    }

    @Test func escalationWithoutReassignKeepsTheOwner() {
        let out = advance(instance(at: "esc", contact: owned(by: "ana")), escalation(Escalate(notify: [.owner], priority: .urgent)),
                          salesDirectory())
        #expect(out.advance.contact == nil)
        #expect(out.advance.ownerChanges.isEmpty)
        #expect(out.advance.priority == 2)
        #expect(out.advance.notifications.map(\.recipient) == ["ana"])
    }
}

@Suite struct HandoffStepTests {
    private func handoffWorkflow(_ handoff: Handoff) -> WorkflowDefinition {
        workflow(step("hand", .handoff(handoff, next: "done")), endStep)
    }

    @Test func handoffRoutesThroughTheTargetTeam() {
        let out = advance(instance(at: "hand", contact: owned(by: "ana")),
                          handoffWorkflow(Handoff(team: "retention", strategy: .leastLoaded, reason: "purchased")), salesDirectory())
        #expect(out.advance.contact?.owner == "raj")
        #expect(out.advance.contact?.team == "retention")
        #expect(out.advance.contact?.previousOwner == "ana")
    }

    @Test func handoffIsRecordedWithItsReason() {
        let out = advance(instance(at: "hand", contact: owned(by: "ana")),
                          handoffWorkflow(Handoff(team: "retention", strategy: .leastLoaded, reason: "purchased")), salesDirectory())
        #expect(out.advance.ownerChanges == [OwnerChange(contact: "C-1", from: "ana", to: "raj", team: "retention", reason: "handoff:purchased")])
    }

    @Test func handoffTellsTheNewAndPreviousOwner() {
        let out = advance(instance(at: "hand", contact: owned(by: "ana")),
                          handoffWorkflow(Handoff(team: "retention", strategy: .leastLoaded, reason: "purchased",
                                                  notify: [.newOwner, .previousOwner])), salesDirectory())
        #expect(out.advance.notifications.map(\.recipient) == ["raj", "ana"])
        #expect(out.advance.notifications.first?.message == "Contact C-1 handed off to retention (purchased): new owner Raj.")
        #expect(out.advance.events.first?.detail == "handoff:purchased: assigned raj in retention (least_loaded); notified 2")
    }
}

@Suite struct FailureTests {
    private let failing = workflow(
        step("route", .assign(Assign(team: "sales", fallback: .fail), next: "done")), endStep)

    private func nobodyEligible() -> Directory {
        directory(team("sales", [member("ana", active: false)]))
    }

    @Test func firstFailureRetriesLaterWithBackoff() {
        let out = advance(instance(at: "route"), failing, nobodyEligible())
        let a = out.advance
        #expect(a.state == .ready)
        #expect(a.step == "route")
        #expect(a.attempt == 1)
        #expect(a.runAt == t0.addingTimeInterval(1))
        #expect(a.lastError == "nobody eligible in team sales")
        #expect(a.events.map(\.toState) == [.ready])
        #expect(a.events.first?.error == "nobody eligible in team sales")
        #expect(a.events.first?.detail == "retry 1 of 4 in 1s")
    }

    @Test func backoffDoublesPerAttempt() {
        let delays = (0..<4).map { attempt in
            advance(instance(at: "route", attempt: attempt), failing, nobodyEligible()).advance.runAt.timeIntervalSince(t0)
        }
        #expect(delays == [1, 2, 4, 8])
    }

    @Test func backoffIsCappedAndJittered() {
        let machine = Machine(defaultMaxAttempts: 50, baseBackoff: 1, maxBackoff: 300)
        let low = advance(instance(at: "route", attempt: 20), failing, nobodyEligible(), jitter: 0, machine: machine)
        let high = advance(instance(at: "route", attempt: 20), failing, nobodyEligible(), jitter: 0.999, machine: machine)
        #expect(low.advance.runAt == t0.addingTimeInterval(150))
        #expect(high.advance.runAt > t0.addingTimeInterval(449) && high.advance.runAt < t0.addingTimeInterval(450))
    }

    @Test func lastAttemptFailsTheInstance() {
        let out = advance(instance(at: "route", attempt: 4), failing, nobodyEligible())
        #expect(out.advance.state == .failed)
        #expect(out.advance.attempt == 5)
        #expect(out.advance.lastError == "nobody eligible in team sales")
        #expect(out.advance.events.first?.detail == "failed after 5 attempt(s)")
        #expect(out.advance.runAt == t0)
    }

    @Test func stepMaxAttemptsOverridesTheDefault() {
        let wf = workflow(step("route", .assign(Assign(team: "sales", fallback: .fail), next: "done"), maxAttempts: 2), endStep)
        #expect(advance(instance(at: "route"), wf, nobodyEligible()).advance.state == .ready)
        #expect(advance(instance(at: "route", attempt: 1), wf, nobodyEligible()).advance.state == .failed)
    }

    @Test func aStepMissingFromTheDefinitionFailsAtOnce() {
        let out = advance(instance(at: "gone"), workflow(endStep), salesDirectory())
        #expect(out.advance.state == .failed)
        #expect(out.advance.lastError == "step gone is not in wf v1")
        #expect(out.advance.events.map(\.step) == ["gone"])
    }

    @Test func stepsBeforeAFailureKeepTheirEffects() {
        let wf = workflow(step("tell", .notify(Notify(to: [.member("ana")], message: "x"), next: "route")),
                          step("route", .assign(Assign(team: "sales", fallback: .fail), next: "done")), endStep)
        let out = advance(instance(at: "tell"), wf, nobodyEligible())
        #expect(out.advance.notifications.count == 1)
        #expect(out.advance.step == "route")
        #expect(out.advance.events.map(\.toState) == [.running, .ready])
    }
}

@Suite struct AdvanceBookkeepingTests {
    /// route -> tell -> wait.
    private let journey = workflow(
        step("route", .assign(Assign(team: "sales"), next: "tell")),
        step("tell", .notify(Notify(to: [.owner], message: "yours"), next: "wait")),
        step("wait", .waitForSLA(firstTouch, onMet: "done", onBreach: "done")), endStep)

    @Test func eventSequenceNumbersFollowTheInstances() {
        let out = advance(instance(at: "route", seq: 10), journey, salesDirectory())
        #expect(out.advance.events.map(\.seq) == [11, 12, 13])
        #expect(out.advance.seq == 13)
    }

    @Test func eventStatesRunFromTheClaimedStateToTheFinalOne() {
        let out = advance(instance(at: "route", seq: 10), journey, salesDirectory())
        #expect(out.advance.events.map(\.fromState) == [.ready, .running, .running])
        #expect(out.advance.events.map(\.toState) == [.running, .running, .waiting])
        #expect(out.advance.events.map(\.step) == ["route", "tell", "wait"])
    }

    @Test func eventsCarryTheOwnerAfterTheStep() {
        let out = advance(instance(at: "route"), journey, salesDirectory())
        #expect(out.advance.events.map(\.owner) == ["ana", "ana", "ana"])
    }

    @Test func advanceCarriesTheInstanceAndFence() {
        let out = advance(instance(at: "route"), journey, salesDirectory())
        #expect(out.advance.instance == 7)
        #expect(out.advance.fence == 3)
    }

    @Test func maxStepsHandsTheInstanceBackAsReady() {
        let wf = workflow(step("a", .goto("b")), step("b", .goto("c")), step("c", .goto("d")), step("d", .goto("done")), endStep)
        let out = advance(instance(at: "a"), wf, salesDirectory(), machine: Machine(maxSteps: 3))
        #expect(out.advance.state == .ready)
        #expect(out.advance.step == "d")
        #expect(out.advance.runAt == t0)
        #expect(out.advance.events.map(\.toState) == [.running, .running, .ready])
    }

    @Test func sameInputsGiveTheSameAdvance() {
        let signal = PendingSignal(id: 1, name: "purchased", receivedAt: t0)
        let first = advance(instance(at: "route", signals: [signal]), journey, salesDirectory(), rotation: Rotation(starts: ["sales": 5]))
        let second = advance(instance(at: "route", signals: [signal]), journey, salesDirectory(), rotation: Rotation(starts: ["sales": 5]))
        #expect(first.advance == second.advance)
        #expect(first.directory == second.directory)
        #expect(first.rotation == second.rotation)
    }
}

@Suite struct UpcomingDeadlineTests {
    @Test func aNotifyBeforeTheWaitNamesTheWaitsDeadline() throws {
        let text = """
            name: w
            start: tell
            steps:
              tell:
                notify: { to: [owner], message: "due {{deadline}} for {{event}}" }
                next: wait
              wait:
                wait_for_sla: { event: first_touch, within: 1h }
                on_met: done
                on_breach: done
              done:
                end: {}
            """
        let definition = try DefinitionLoader.workflow(from: text, file: "w.yaml")
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        var directory = Directory(teams: [TeamInfo(name: "t", members: ["a"])], members: [MemberInfo(id: "a", name: "A", team: "t")])
        var rotation = Rotation()
        let instance = InstanceSnapshot(id: 1, workflow: "w", version: 1,
                                        contact: ContactSnapshot(id: "C-1", owner: "a", team: "t"), state: .ready,
                                        step: "tell", createdAt: now)
        let advance = Machine().advance(instance, definition: definition, directory: &directory, rotation: &rotation, now: now)
        #expect(advance.notifications.first?.message == "due 2027-01-15T09:00:00Z for first_touch")
    }
}
