import BatonCore
import Foundation
import Testing

/// The exact `FILE:LINE:COLUMN: path: message` lines the workflow validator prints, one behaviour per test.
@Suite struct DefinitionGoldenTests {
    /// The issue lines for a workflow text.
    private func issues(_ text: String, known: KnownNames = KnownNames()) -> [String] {
        workflowIssues(text, file: "wf.yaml", known: known)
    }

    private let known = KnownNames(teams: ["sales-emea", "sales-dach", "retention"], calendars: ["emea"],
                                   channels: ["sales-slack", "sales-webhook"], members: ["ana", "ben", "maria"])

    // MARK: Unknown and missing fields

    @Test func unknownTopLevelKeySuggestsTheClosestField() {
        #expect(issues("""
            name: wf
            descripton: hi
            start: done
            steps:
              done:
                end: {}
            """) == [#"wf.yaml:2:1: descripton: unknown key "descripton" (did you mean "description"?)"#])
    }

    @Test func unknownStepKeySuggestsTheClosestStepKey() {
        #expect(issues("""
            name: wf
            start: a
            steps:
              a:
                goto: b
                nxt: b
              b:
                end: {}
            """) == [#"wf.yaml:6:5: steps.a.nxt: unknown key "nxt" (did you mean "next"?)"#])
    }

    @Test func missingName() {
        #expect(issues("""
            start: done
            steps:
              done:
                end: {}
            """) == [#"wf.yaml:1:1: name: missing required field "name""#])
    }

    @Test func missingStart() {
        #expect(issues("""
            name: wf
            steps:
              done:
                end: {}
            """) == [#"wf.yaml:1:1: start: missing required field "start" (the id of the first step)"#])
    }

    @Test func missingNext() {
        #expect(issues("""
            name: wf
            start: a
            steps:
              a:
                notify: { to: [owner], message: hi }
              b:
                end: {}
            """) == [#"wf.yaml:5:5: steps.a.next: missing required field "next" (the step to go on to)"#])
    }

    @Test func missingOnMet() {
        #expect(issues("""
            name: wf
            start: a
            steps:
              a:
                wait_for_sla: { event: x, within: 1h }
                on_breach: b
              b:
                end: {}
            """) == [#"wf.yaml:5:5: steps.a.on_met: missing required field "on_met" (the step after the event arrives in time)"#])
    }

    @Test func missingOnBreach() {
        #expect(issues("""
            name: wf
            start: a
            steps:
              a:
                wait_for_sla: { event: x, within: 1h }
                on_met: b
              b:
                end: {}
            """) == [#"wf.yaml:5:5: steps.a.on_breach: missing required field "on_breach" (the step after the deadline passes)"#])
    }

    @Test func waitWithoutWithinGetsTheDeadlineHint() {
        #expect(issues("""
            name: wf
            start: a
            steps:
              a:
                wait_for_sla: { event: x }
                on_met: b
                on_breach: b
              b:
                end: {}
            """) == [#"wf.yaml:5:19: steps.a.wait_for_sla.within: missing required field "within" (a wait needs a deadline, e.g. within: 4h)"#])
    }

    // MARK: The step graph

    @Test func unknownNextSuggestsTheClosestStep() {
        #expect(issues("""
            name: wf
            start: a
            steps:
              a:
                goto: b
              b:
                notify: { to: [owner], message: hi }
                next: finsh
              finish:
                end: {}
            """) == [#"wf.yaml:8:11: steps.b.next: unknown step "finsh" (did you mean "finish"?)"#])
    }

    @Test func unknownOnMetSuggestsTheClosestStep() {
        #expect(issues("""
            name: wf
            start: a
            steps:
              a:
                wait_for_sla: { event: x, within: 1h }
                on_met: finsh
                on_breach: finish
              finish:
                end: {}
            """) == [#"wf.yaml:6:13: steps.a.on_met: unknown step "finsh" (did you mean "finish"?)"#])
    }

    @Test func unknownBranchTargetsSuggestTheClosestStep() {
        #expect(issues("""
            name: wf
            start: a
            steps:
              a:
                branch:
                  cases:
                    - when: { tier: gold }
                      next: gld
                  otherwise: gold2
              gold:
                end: {}
            """) == [
            #"wf.yaml:8:17: steps.a.branch.cases[0].next: unknown step "gld" (did you mean "gold"?)"#,
            #"wf.yaml:9:18: steps.a.branch.otherwise: unknown step "gold2" (did you mean "gold"?)"#,
        ])
    }

    @Test func unknownStartWithNoCloseStepHasNoSuggestion() {
        #expect(issues("""
            name: wf
            start: zz
            steps:
              a:
                end:
            """) == [#"wf.yaml:2:8: start: unknown step "zz""#])
    }

    @Test func unreachableStep() {
        #expect(issues("""
            name: wf
            start: a
            steps:
              a:
                goto: c
              b:
                end: {}
              c:
                end: {}
            """) == [#"wf.yaml:6:3: steps.b: unreachable step: no transition leads here from "a" (remove it or go to it)"#])
    }

    @Test func cycleWithNoWaitThroughSeveralSteps() {
        #expect(issues("""
            name: wf
            start: a
            steps:
              a:
                notify: { to: [owner], message: hi }
                next: b
              b:
                goto: c
              c:
                branch:
                  cases:
                    - when: { tier: gold }
                      next: a
                  otherwise: d
              d:
                end: {}
            """) == [#"wf.yaml:4:3: steps.a: a loop with no wait in it: a -> b -> c -> a would run forever (put a wait_for_sla in the loop)"#])
    }

    @Test func stepThatGoesToItself() {
        #expect(issues("""
            name: wf
            start: a
            steps:
              a:
                goto: a
            """) == [#"wf.yaml:4:3: steps.a: a loop with no wait in it: a -> a would run forever (put a wait_for_sla in the loop)"#])
    }

    @Test func cycleThroughAWaitIsAllowed() {
        #expect(issues("""
            name: wf
            start: a
            steps:
              a:
                wait_for_sla: { event: x, within: 1h }
                on_met: done
                on_breach: nag
              nag:
                notify: { to: [owner], message: hurry }
                next: a
              done:
                end: {}
            """) == [])
    }

    @Test func duplicateStepID() {
        #expect(issues("""
            name: wf
            start: a
            steps:
              a:
                goto: b
              b:
                end: {}
              a:
                end: {}
            """) == [#"wf.yaml:8:3: steps.a: duplicate step id "a" (first at line 4)"#])
    }

    @Test func emptyWorkflow() {
        #expect(issues("""
            name: wf
            start: a
            steps: {}
            """) == ["wf.yaml:3:8: steps: the workflow has no steps (an empty workflow cannot run); add at least one step"])
    }

    @Test func stepWithTwoKinds() {
        #expect(issues("""
            name: wf
            start: a
            steps:
              a:
                goto: b
                end: {}
              b:
                end: {}
            """) == ["wf.yaml:6:5: steps.a: a step has exactly one kind, this one has goto and end (split it into two steps)"])
    }

    @Test func stepWithNoKind() {
        #expect(issues("""
            name: wf
            start: a
            steps:
              a:
                next: b
              b:
                end: {}
            """) == ["wf.yaml:5:5: steps.a: the step has no kind; give one of: assign, notify, wait_for_sla, escalate, handoff, branch, goto, end"])
    }

    @Test func stepWithNothingInIt() {
        #expect(issues("""
            name: wf
            start: a
            steps:
              a:
            """) == ["wf.yaml:4:5: steps.a: expected a step (a mapping with one step kind, e.g. assign:, and where to go next), found nothing"])
    }

    // MARK: Values

    @Test func durationWithoutAUnit() {
        #expect(issues("""
            name: wf
            start: a
            steps:
              a:
                wait_for_sla: { event: x, within: 10 }
                on_met: b
                on_breach: b
              b:
                end: {}
            """) == [#"wf.yaml:5:39: steps.a.wait_for_sla.within: bad duration "10" (write a number and a unit: 90s, 15m, 4h, 3d)"#])
    }

    @Test func zeroDuration() {
        #expect(issues("""
            name: wf
            start: a
            steps:
              a:
                wait_for_sla: { event: x, within: 0h }
                on_met: b
                on_breach: b
              b:
                end: {}
            """) == [#"wf.yaml:5:39: steps.a.wait_for_sla.within: bad duration "0h" (write a number and a unit: 90s, 15m, 4h, 3d)"#])
    }

    @Test func businessHoursWithoutACalendar() {
        #expect(issues("""
            name: wf
            start: a
            steps:
              a:
                wait_for_sla: { event: x, within: 1h, clock: business_hours }
                on_met: b
                on_breach: b
              b:
                end: {}
            """) == [#"wf.yaml:5:19: steps.a.wait_for_sla.calendar: missing required field "calendar" (clock business_hours counts the hours of a calendar: name one)"#])
    }

    @Test func badEnumValuesNameTheAllowedOnes() {
        #expect(issues("""
            name: wf
            start: a
            steps:
              a:
                assign: { team: t, strategy: roundrobin, fallback: nobody }
                next: b
              b:
                escalate: { reassign_to: mangaer, priority: hgh, notify: [ownr] }
                next: c
              c:
                end: {}
            """) == [
            #"wf.yaml:5:34: steps.a.assign.strategy: unknown value "roundrobin" (did you mean "round_robin"?); one of: round_robin, weighted, least_loaded, rules, sticky, account"#,
            #"wf.yaml:5:56: steps.a.assign.fallback: unknown value "nobody"; one of: queue, backup, fail"#,
            #"wf.yaml:8:30: steps.b.escalate.reassign_to: unknown value "mangaer" (did you mean "manager"?); one of: backup, manager, team:NAME, next_in_rotation"#,
            #"wf.yaml:8:49: steps.b.escalate.priority: unknown value "hgh" (did you mean "high"?); one of: low, normal, high, urgent"#,
            #"wf.yaml:8:63: steps.b.escalate.notify[0]: unknown recipient "ownr" (did you mean "owner"?); one of: owner, backup, manager, previous_owner, new_owner, contact, team:NAME, member:ID"#,
        ])
    }

    @Test func unknownTemplateVariablesSuggestTheClosestOne() {
        #expect(issues("""
            name: wf
            start: a
            steps:
              a:
                notify: { to: [owner], message: "Hi {{owner.nme}} about {{contact.id}} by {{dedline}}" }
                next: b
              b:
                end: {}
            """) == [
            #"wf.yaml:5:37: steps.a.notify.message: unknown template variable "{{owner.nme}}" (did you mean "{{owner.name}}"?)"#,
            #"wf.yaml:5:37: steps.a.notify.message: unknown template variable "{{dedline}}" (did you mean "{{deadline}}"?)"#,
        ])
    }

    @Test func anyContactAttributeIsATemplateVariable() {
        #expect(issues("""
            name: wf
            start: a
            steps:
              a:
                notify: { to: [owner], message: "{{contact.company}} in {{ contact.country }} for {{recipient.name}}" }
                next: b
              b:
                end: {}
            """) == [])
    }

    // MARK: Names known in the database

    private let unknownNames = """
        name: wf
        start: a
        steps:
          a:
            assign: { team: sales-emae }
            next: b
          b:
            notify: { to: [owner, "member:bne"], channel: sales-slak, message: hi }
            next: c
          c:
            wait_for_sla: { event: x, within: 1h, clock: business_hours, calendar: emae }
            on_met: d
            on_breach: d
          d:
            end: {}
        """

    @Test func unknownTeamCalendarChannelAndMemberWhenTheyAreKnown() {
        #expect(issues(unknownNames, known: known) == [
            #"wf.yaml:5:21: steps.a.assign.team: unknown team "sales-emae" (did you mean "sales-emea"?)"#,
            #"wf.yaml:8:27: steps.b.notify.to[1]: unknown member "bne" (did you mean "ben"?)"#,
            #"wf.yaml:8:51: steps.b.notify.channel: unknown channel "sales-slak" (did you mean "sales-slack"?)"#,
            #"wf.yaml:11:76: steps.c.wait_for_sla.calendar: unknown calendar "emae" (did you mean "emea"?)"#,
        ])
    }

    @Test func namesAreNotCheckedWhenTheSetsAreNil() {
        #expect(issues(unknownNames) == [])
    }

    @Test func unknownNameFarFromEveryKnownOneListsThem() {
        #expect(issues("""
            name: wf
            start: a
            steps:
              a:
                escalate: { reassign_to: "team:support", notify: [owner], channel: pager }
                next: b
              b:
                end: {}
            """, known: known) == [
            #"wf.yaml:5:30: steps.a.escalate.reassign_to: unknown team "support" (known teams: retention, sales-dach, sales-emea)"#,
            #"wf.yaml:5:72: steps.a.escalate.channel: unknown channel "pager" (known channels: sales-slack, sales-webhook)"#,
        ])
    }

    @Test func logChannelAlwaysExists() {
        #expect(issues("""
            name: wf
            start: a
            steps:
              a:
                notify: { to: [owner], channel: log, message: hi }
                next: b
              b:
                end: {}
            """, known: KnownNames(teams: [], calendars: [], channels: [], members: [])) == [])
    }

    // MARK: Whole files

    @Test func notYAMLIsExactlyOneLine() {
        #expect(issues("name: [unclosed") == [
            "wf.yaml:1:16: (file): not valid YAML: did not find expected ',' or ']' (while parsing a flow sequence at line 1, column 7)",
        ])
    }

    @Test func notYAMLInsideAStepIsExactlyOneLine() {
        #expect(issues("""
            name: wf
            start: a
            steps:
              a: { goto: b

            """) == [
            "wf.yaml:5:1: (file): not valid YAML: did not find expected ',' or '}' (while parsing a flow mapping at line 4, column 6)",
        ])
    }

    @Test func jsonIsAccepted() throws {
        let text = #"{"name": "wf", "start": "a", "steps": {"a": {"notify": {"to": ["owner"], "message": "hi"}, "next": "b"}, "b": {"end": {}}}}"#
        let wf = try DefinitionLoader.workflow(from: text, file: "wf.json")
        #expect(wf == WorkflowDefinition(name: "wf", start: "a", steps: [
            Step(id: "a", action: .notify(Notify(to: [.owner], message: "hi"), next: "b")), Step(id: "b", action: .end(End())),
        ]))
    }

    @Test func jsonIndentedWithTabsIsCheckedWithPositions() {
        #expect(issues("{\n\t\"name\": \"wf\",\n\t\"start\": \"a\",\n\t\"steps\": {\"a\": {\"goto\": \"c\"}, \"b\": {\"end\": {}}}\n}\n")
                == [
                    #"wf.yaml:4:26: steps.a.goto: unknown step "c""#,
                    // Issue 11: every mistake in one run; nothing leads to b (c is not a typo of it).
                    #"wf.yaml:4:32: steps.b: unreachable step: no transition leads here from "a" (remove it or go to it)"#,
                ])
    }

    @Test func severalIssuesInOneFileAreAllReportedSortedByLine() {
        #expect(issues("""
            name: wf
            start: a
            steps:
              c:
                end: { outcome: x }
              a:
                assign: { team: t, strategy: weigted }
                next: b
              b:
                wait_for_sla: { event: x, within: 4 hours }
                on_met: c
                on_breach: cc
            """) == [
            #"wf.yaml:7:34: steps.a.assign.strategy: unknown value "weigted" (did you mean "weighted"?); one of: round_robin, weighted, least_loaded, rules, sticky, account"#,
            #"wf.yaml:10:39: steps.b.wait_for_sla.within: bad duration "4 hours" (write a number and a unit: 90s, 15m, 4h, 3d)"#,
            #"wf.yaml:12:16: steps.b.on_breach: unknown step "cc" (did you mean "c"?)"#,
        ])
    }

    @Test func issuesNameTheFileAsGiven() {
        #expect(workflowIssues("name: wf\nstart: a\nsteps:\n  a:\n    goto: b\n", file: "flows/lead.yaml")
                == [#"flows/lead.yaml:5:11: steps.a.goto: unknown step "b""#])
    }

    @Test func emptyFile() {
        #expect(issues("") == ["wf.yaml:1:1: (file): the file is empty; a workflow needs name, start and steps"])
    }

    // MARK: The examples

    @Test(arguments: ["inbound-lead.yaml", "demo-lead.yaml"])
    func exampleWorkflowParsesCleanlyAgainstTheExampleNames(name: String) throws {
        let teams = try DefinitionLoader.teams(from: repositoryFile("examples/teams.yaml"), file: "teams.yaml")
        let channels = try DefinitionLoader.channels(from: repositoryFile("examples/channels.yaml"), file: "channels.yaml")
        let known = KnownNames(
            teams: Set(teams.teams.map(\.name)), calendars: Set(teams.calendars.map(\.name)),
            channels: Set(channels.channels.map(\.name) + ["log"]), members: Set(teams.teams.flatMap(\.members).map(\.id)))
        #expect(issues(try repositoryFile("examples/\(name)"), known: known) == [])
    }

    @Test func demoLeadReadsAsWritten() throws {
        let wf = try DefinitionLoader.workflow(from: repositoryFile("examples/demo-lead.yaml"), file: "demo-lead.yaml")
        #expect(wf.name == "demo-lead")
        #expect(wf.start == "route")
        #expect(wf.steps.map(\.id) == ["route", "tell-owner", "first-touch", "escalate-backup", "first-touch-again",
                                       "escalate-lead", "wait-purchase", "to-retention", "done", "lost"])
        #expect(wf.step("first-touch")?.action == .waitForSLA(
            WaitForSLA(event: "first_touch", within: TimeSpan(seconds: 4)), onMet: "wait-purchase", onBreach: "escalate-backup"))
    }
}

/// A file of this repository, found from this source file's path.
func repositoryFile(_ path: String) throws -> String {
    var root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    while !FileManager.default.fileExists(atPath: root.appendingPathComponent("Package.swift").path), root.path != "/" {
        root.deleteLastPathComponent()
    }
    return try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
}
