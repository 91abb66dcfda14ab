@testable import BatonCore
import Foundation
import Testing

// Records of several kinds, account inheritance and working hours in routing: pure tests.

private func route(
    _ dir: Directory, strategy: Strategy = .roundRobin, otherwise: Strategy? = nil, fallback: Fallback = .queue,
    contact: ContactSnapshot = ContactSnapshot(id: "C-1"), now: Date = t0, workingHours: WorkingHours? = nil
) -> Router.Decision {
    var dir = dir
    var rotation = Rotation(starts: ["sales": 0])
    return Router.route(team: "sales", strategy: strategy, otherwise: otherwise, fallback: fallback, contact: contact,
                        directory: &dir, rotation: &rotation, now: now, workingHours: workingHours)
}

/// ana, ben and cara in sales; maria (the account owner) in accounts.
private func accounts(maria: MemberInfo = member("maria")) -> Directory {
    directory(team("sales", [member("ana"), member("ben"), member("cara")]), team("accounts", [maria]))
}

private func acmeContact(companyOwner: String?) -> ContactSnapshot {
    ContactSnapshot(id: "C-1", attributes: ["company": "acme"], companyOwner: companyOwner)
}

@Suite struct RecordRefTests {
    @Test func kindPrefixesNameRecordsAndPlainIdsAreContacts() {
        #expect(RecordRef(parsing: "deal:D-7") == RecordRef(kind: .deal, id: "D-7"))
        #expect(RecordRef(parsing: "deal:D-7")?.storageKey == "deal:D-7")
        #expect(RecordRef(parsing: "contact:C-1")?.storageKey == "C-1")
        #expect(RecordRef(parsing: "C-1") == RecordRef(kind: .contact, id: "C-1"))
        #expect(RecordRef(storageKey: "company:acme") == RecordRef(kind: .company, id: "acme"))
        #expect(RecordRef(storageKey: "C-1").description == "contact:C-1")
        #expect(RecordRef(parsing: "deal:") == nil)
    }

    @Test func theRecordOptionNeedsAKnownKind() {
        #expect(throws: RecordRefError.self) { try RecordRef.parseOption("C-1") }
        #expect(throws: RecordRefError.self) { try RecordRef.parseOption("lead:L-1") }
        #expect((try? RecordRef.parseOption("conversation:T-9"))?.kind == .conversation)
    }

    @Test func aContactIdMayNotStartWithAKindPrefix() {
        #expect(RecordRef.contactIDProblem("deal:D-7")?.contains("use --record deal:D-7") == true)
        #expect(RecordRef.contactIDProblem("HS:123") == nil)
    }

    @Test func aRecordNamesItsCompanyEitherWayAndACompanyHasNone() {
        #expect(ContactSnapshot(id: "deal:D-7", attributes: ["company": "company:acme"]).company == RecordRef(kind: .company, id: "acme"))
        #expect(ContactSnapshot(id: "C-1", attributes: ["company": "acme"]).company?.storageKey == "company:acme")
        #expect(ContactSnapshot(id: "company:acme", attributes: ["company": "other"]).company == nil)
    }
}

@Suite struct AccountStrategyTests {
    @Test func theCompanyOwnerGetsTheRecord() {
        let decision = route(accounts(), strategy: .account, contact: acmeContact(companyOwner: "maria"))
        #expect(decision == .member("maria", team: "accounts", reason: "account: owner of company:acme"))
    }

    @Test func aCompanyWithoutOwnerFallsBackToTheStepsOtherRouting() {
        let decision = route(accounts(), strategy: .account, otherwise: .roundRobin, contact: acmeContact(companyOwner: nil))
        #expect(decision == .member("ana", team: "sales", reason: "account: company:acme has no owner; round_robin"))
    }

    @Test func anUnavailableCompanyOwnerFallsBackAndTheReasonSaysWho() {
        let away = member("maria", away: t0.addingTimeInterval(86_400))
        let decision = route(accounts(maria: away), strategy: .account, otherwise: .leastLoaded,
                             contact: acmeContact(companyOwner: "maria"))
        #expect(decision == .member("ana", team: "sales", reason: "account: maria, owner of company:acme, is unavailable; least_loaded"))
    }

    @Test func aRecordWithoutCompanyIsRoutedByTheTeam() {
        let decision = route(accounts(), strategy: .account, contact: ContactSnapshot(id: "C-9"))
        #expect(decision == .member("ana", team: "sales", reason: "account: no company; round_robin"))
    }

    @Test func theFallbackOfTheStepAppliesWhenNobodyIsEligibleEither() {
        let dir = directory(team("sales", [member("ana", active: false)]), team("accounts", [member("maria")]))
        let decision = route(dir, strategy: .account, contact: acmeContact(companyOwner: nil))
        #expect(decision == .queue(team: "sales", reason: "account: company:acme has no owner; queued: nobody eligible in sales"))
    }

    @Test func theMachineRecordsTheAccountReasonInHistory() {
        let wf = workflow(step("route", .assign(Assign(team: "sales", strategy: .account), next: "done")), endStep)
        let out = advance(instance(at: "route", contact: acmeContact(companyOwner: "maria")), wf, accounts())
        #expect(out.advance.ownerChanges.map(\.reason) == ["account: owner of company:acme"])
        #expect(out.advance.contact?.owner == "maria")
    }
}

@Suite struct WorkingHoursRoutingTests {
    /// Berlin office hours for ana and ben's team; cara works New York hours (her own calendar).
    /// t0 is Monday 10:00 UTC: 11:00 in Berlin, 05:00 in New York.
    private func office() -> Directory {
        var cara = member("cara")
        cara.calendar = "new-york"
        return directory(team("sales", calendar: "berlin", [member("ana"), member("ben"), cara]),
                         calendars: [weekdayCalendar("berlin"), weekdayCalendar("new-york", zone: "America/New_York")])
    }

    @Test func membersOutsideTheirHoursAreSkippedAndTheReasonSaysSo() {
        var dir = office()
        var rotation = Rotation(starts: ["sales": 0])
        var picked: [String] = []
        for _ in 0..<4 {
            if case .member(let id, _, let reason) = Router.route(
                team: "sales", strategy: .roundRobin, fallback: .queue, contact: ContactSnapshot(id: "C-1"),
                directory: &dir, rotation: &rotation, now: t0, workingHours: .skip)
            {
                picked.append(id)
                #expect(reason == "round_robin (working_hours: skipped 1 off duty)")
            }
        }
        #expect(picked == ["ana", "ben", "ana", "ben"])
        #expect(dir.members["cara"]?.active == true)  // skipped for the decision only
        #expect(dir.members["ana"]?.openCount == 2)
    }

    @Test func aMembersOwnCalendarWinsOverTheTeams() {
        let evening = instant("2026-03-02T18:00:00Z")  // 19:00 Berlin, 13:00 New York
        #expect(route(office(), now: evening, workingHours: .skip)
                == .member("cara", team: "sales", reason: "round_robin (working_hours: skipped 2 off duty)"))
    }

    @Test func withoutWorkingHoursTheClosedCalendarIsIgnored() {
        let night = instant("2026-03-03T03:00:00Z")
        #expect(route(office(), now: night) == .member("ana", team: "sales", reason: "round_robin"))
    }

    @Test func nobodyWorkingTakesTheFallback() {
        let night = instant("2026-03-03T03:00:00Z")  // 04:00 Berlin, 22:00 New York
        #expect(route(office(), now: night, workingHours: .skip)
                == .queue(team: "sales", reason: "working_hours: nobody in sales is working; queued: nobody eligible in sales"))
        if case .fail(let error) = route(office(), fallback: .fail, now: night, workingHours: .skip) {
            #expect(error == "working_hours: nobody in sales is working; nobody eligible in team sales")
        } else {
            Issue.record("expected a failure")
        }
    }

    @Test func waitWaitsUntilTheFirstMembersDayBegins() {
        let night = instant("2026-03-03T03:00:00Z")
        let opens = instant("2026-03-03T08:00:00Z")  // 09:00 Berlin
        #expect(route(office(), now: night, workingHours: .wait)
                == .later(until: opens, team: "sales", reason: "working_hours: nobody in sales is working; waiting until 2026-03-03T08:00:00Z"))
    }

    @Test func theMachineRunsTheAssignAgainWhenTheDayBegins() {
        let night = instant("2026-03-03T03:00:00Z")
        let wf = workflow(step("route", .assign(Assign(team: "sales", workingHours: .wait), next: "done")), endStep)
        let waiting = advance(instance(at: "route"), wf, office(), now: night).advance
        #expect(waiting.state == .ready)
        #expect(waiting.step == "route")
        #expect(waiting.runAt == instant("2026-03-03T08:00:00Z"))
        #expect(waiting.ownerChanges.isEmpty)
        #expect(waiting.events.last?.detail.contains("working_hours: nobody in sales is working") == true)
        let morning = advance(instance(at: "route"), wf, office(), now: instant("2026-03-03T08:00:00Z")).advance
        #expect(morning.state == .completed)
        #expect(morning.ownerChanges.first?.to == "ana")
    }

    @Test func openingTimesFollowTheCalendar() {
        let berlin = weekdayCalendar("berlin", holidays: ["2026-03-06"])
        #expect(BusinessClock.isOpen(at: t0, in: berlin))
        #expect(!BusinessClock.isOpen(at: instant("2026-03-02T16:00:00Z"), in: berlin))  // 17:00 Berlin: closed
        // Thursday evening before a Friday holiday: next opening is Monday 09:00 Berlin.
        #expect(BusinessClock.nextOpening(atOrAfter: instant("2026-03-05T17:00:00Z"), in: berlin) == instant("2026-03-09T08:00:00Z"))
    }
}

@Suite struct RecordDefinitionTests {
    @Test func aWorkflowNamesItsSubjectAndAssignStepsTheirWorkingHours() throws {
        let text = """
            name: deals
            subject: deal
            start: route
            steps:
              route:
                assign: { team: sales, strategy: account, otherwise: least_loaded, working_hours: wait }
                next: done
              done:
                end: {}
            """
        let wf = try DefinitionLoader.workflow(from: text, file: "deals.yaml")
        #expect(wf.subjectKind == .deal)
        guard case .assign(let assign, _) = wf.steps[0].action else { Issue.record("not an assign"); return }
        #expect(assign.strategy == .account)
        #expect(assign.workingHours == .wait)
    }

    @Test func aContactWorkflowStoresAsBefore() throws {
        let text = "name: w\nsubject: contact\nstart: done\nsteps:\n  done:\n    end: {}\n"
        let wf = try DefinitionLoader.workflow(from: text, file: "w.yaml")
        #expect(wf.subject == nil)
        let json = String(decoding: try JSONEncoder().encode(wf), as: UTF8.self)
        #expect(!json.contains("subject"))
    }

    @Test func badSubjectsAndWorkingHoursAreNamedWithTheirLine() {
        let text = """
            name: w
            subject: lead
            start: route
            steps:
              route:
                assign: { team: sales, working_hours: sometimes }
                next: done
              done:
                end: {}
            """
        do {
            _ = try DefinitionLoader.workflow(from: text, file: "w.yaml")
            Issue.record("expected errors")
        } catch let errors as DefinitionErrors {
            let lines = errors.issues.map(\.description)
            #expect(lines.contains { $0.hasPrefix("w.yaml:2:") && $0.contains("unknown value \"lead\"") && $0.contains("contact, company, deal, conversation") })
            #expect(lines.contains { $0.hasPrefix("w.yaml:6:") && $0.contains("working_hours") && $0.contains("sometimes") })
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}

@Suite struct LifecycleTests {
    private func handoffFlow(stage: String?, lifecycle: [String]? = nil) -> WorkflowDefinition {
        var wf = workflow(step("hand", .handoff(Handoff(team: "retention", reason: "purchased", stage: stage), next: "done")), endStep)
        wf.lifecycle = lifecycle
        return wf
    }

    @Test func aHandoffMovesTheRecordToItsStage() {
        let dir = directory(team("retention", [member("rita")]))
        let out = advance(instance(at: "hand", contact: ContactSnapshot(id: "C-1", lifecycle: "sql")), handoffFlow(stage: "customer"), dir)
        #expect(out.advance.contact?.lifecycle == "customer")
        #expect(out.advance.events.first?.detail == "handoff:purchased: assigned rita in retention (round_robin); stage sql -> customer; notified 0")
        let unstaged = advance(instance(at: "hand", contact: ContactSnapshot(id: "C-1", lifecycle: "sql")), handoffFlow(stage: nil), dir)
        #expect(unstaged.advance.contact?.lifecycle == "sql")
    }

    @Test func stagesComeFromTheWorkflowElseTheDefaults() throws {
        let file = { (lifecycle: String, stage: String) in """
            name: w
            \(lifecycle)start: hand
            steps:
              hand:
                handoff: { team: retention, stage: \(stage) }
                next: done
              done:
                end: {}
            """ }
        #expect(try DefinitionLoader.workflow(from: file("", "at_risk"), file: "w.yaml").lifecycle == nil)
        let custom = try DefinitionLoader.workflow(from: file("lifecycle: [trial, paying]\n", "paying"), file: "w.yaml")
        #expect(custom.lifecycle == ["trial", "paying"])
        do {
            _ = try DefinitionLoader.workflow(from: file("", "custmer"), file: "w.yaml")
            Issue.record("expected an error")
        } catch let errors as DefinitionErrors {
            #expect(errors.issues.map(\.description) == [
                #"w.yaml:5:40: steps.hand.handoff.stage: unknown lifecycle stage "custmer" (did you mean "customer"?); one of: lead, mql, sql, customer, at_risk, churned (the team file's lifecycle: names them; a workflow's lifecycle: lists its own)"#,
            ])
        }
    }
}
