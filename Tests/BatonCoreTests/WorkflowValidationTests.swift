import BatonCore
import Testing

/// Workflow files with mistakes: the exact lines reported, one per mistake, all at once, sorted by position.
@Suite struct WorkflowValidationTests {
    @Test func unknownKeySuggestsTheClosestKnownOne() {
        #expect(workflowIssues("""
            name: wf
            start: route
            steps:
              route:
                assign:
                  team: sales-emea
                  strategey: rules
                next: done
              done:
                end: {}
            """) == [#"wf.yaml:7:7: steps.route.assign.strategey: unknown key "strategey" (did you mean "strategy"?)"#])
    }

    @Test func unknownKeyFarFromEveryKnownOneHasNoSuggestion() {
        #expect(workflowIssues("""
            name: wf
            owner: me
            start: done
            steps:
              done:
                end: {}
            """) == [#"wf.yaml:2:1: owner: unknown key "owner""#])
        #expect(workflowIssues("""
            name: wf
            colour: blue
            start: done
            steps:
              done:
                end: {}
            """) == [#"wf.yaml:2:1: colour: unknown key "colour""#])
    }

    @Test func missingTopLevelFields() {
        #expect(workflowIssues("description: nothing else\n") == [
            #"wf.yaml:1:1: name: missing required field "name""#,
            #"wf.yaml:1:1: start: missing required field "start" (the id of the first step)"#,
            #"wf.yaml:1:1: steps: missing required field "steps" (a mapping of step ids to steps)"#,
        ])
    }

    @Test func missingTransitions() {
        #expect(workflowIssues("""
            name: wf
            start: route
            steps:
              route:
                assign: { team: sales-emea }
              wait:
                wait_for_sla: { event: first_touch, within: 4h }
              done:
                end: {}
            """) == [
            #"wf.yaml:5:5: steps.route.next: missing required field "next" (the step to go on to)"#,
            #"wf.yaml:7:5: steps.wait.on_met: missing required field "on_met" (the step after the event arrives in time)"#,
            #"wf.yaml:7:5: steps.wait.on_breach: missing required field "on_breach" (the step after the deadline passes)"#,
        ])
    }

    @Test func missingFieldsOfStepKinds() {
        #expect(workflowIssues("""
            name: wf
            start: a
            steps:
              a:
                assign: { strategy: weighted }
                next: b
              b:
                wait_for_sla: { within: 1h }
                on_met: c
                on_breach: c
              c:
                handoff: { reason: purchased }
                next: d
              d:
                notify: { channel: log }
                next: e
              e:
                end: {}
            """) == [
            #"wf.yaml:5:13: steps.a.assign.team: missing required field "team" (the team whose members can own the contact)"#,
            #"wf.yaml:8:19: steps.b.wait_for_sla.event: missing required field "event" (the signal to wait for, e.g. first_touch)"#,
            #"wf.yaml:12:14: steps.c.handoff.team: missing required field "team" (the team that takes the contact over)"#,
            #"wf.yaml:15:13: steps.d.notify.to: missing required field "to""#,
            #"wf.yaml:15:13: steps.d.notify.message: missing required field "message""#,
        ])
    }

    @Test func waitWithoutDeadline() {
        #expect(workflowIssues("""
            name: wf
            start: wait
            steps:
              wait:
                wait_for_sla: { event: first_touch }
                on_met: done
                on_breach: done
              done:
                end: {}
            """) == [
            #"wf.yaml:5:19: steps.wait.wait_for_sla.within: missing required field "within" (a wait needs a deadline, e.g. within: 4h)"#,
        ])
    }

    @Test func stepWithNoKindOrTwoKindsOrAnUnknownKind() {
        #expect(workflowIssues("""
            name: wf
            start: a
            steps:
              a:
                next: b
              b:
                notify: { to: owner, message: hi }
                goto: c
                next: c
              c:
                asign: { team: sales-emea }
                next: d
              d:
                end: {}
            """) == [
            "wf.yaml:5:5: steps.a: the step has no kind; give one of: assign, notify, wait_for_sla, escalate, handoff, branch, goto, end",
            #"wf.yaml:8:5: steps.b: a step has exactly one kind, this one has notify and goto (split it into two steps)"#,
            #"wf.yaml:11:5: steps.c.asign: unknown step kind "asign" (did you mean "assign"?)"#,
        ])
    }

    @Test func transitionsThatDoNotBelongToTheKind() {
        #expect(workflowIssues("""
            name: wf
            start: a
            steps:
              a:
                wait_for_sla: { event: x, within: 1h }
                on_met: b
                on_breach: b
                next: b
              b:
                assign: { team: t }
                on_met: c
                next: c
              c:
                end: {}
                next: a
            """) == [
            #"wf.yaml:8:5: steps.a.next: "next" does not belong in a wait_for_sla step (it goes on to on_met or on_breach)"#,
            #"wf.yaml:11:5: steps.b.on_met: "on_met" does not belong in an assign step (only wait_for_sla has on_met and on_breach; use next)"#,
            #"wf.yaml:15:5: steps.c.next: "next" does not belong in an end step (an end step finishes the instance)"#,
        ])
    }

    @Test func unknownStepIDsInEveryKindOfTransition() {
        #expect(workflowIssues("""
            name: wf
            start: rout
            steps:
              route:
                assign: { team: sales-emea }
                next: tel-owner
              tell-owner:
                notify: { to: owner, message: hi }
                next: check
              check:
                branch:
                  cases:
                    - when: { tier: enterprise }
                      next: fast
                  otherwise: slow
              slow:
                wait_for_sla: { event: first_touch, within: 4h }
                on_met: dne
                on_breach: escalate
              escalate:
                goto: nowhere
              done:
                end: {}
            """) == [
            #"wf.yaml:2:8: start: unknown step "rout" (did you mean "route"?)"#,
            #"wf.yaml:6:11: steps.route.next: unknown step "tel-owner" (did you mean "tell-owner"?)"#,
            #"wf.yaml:14:17: steps.check.branch.cases[0].next: unknown step "fast""#,
            #"wf.yaml:18:13: steps.slow.on_met: unknown step "dne" (did you mean "done"?)"#,
            #"wf.yaml:21:11: steps.escalate.goto: unknown step "nowhere""#,
        ])
    }

    @Test func unreachableSteps() {
        #expect(workflowIssues("""
            name: wf
            start: a
            steps:
              a:
                goto: c
              b:
                goto: c
              c:
                end: {}
              d:
                end: {}
            """) == [
            #"wf.yaml:6:3: steps.b: unreachable step: no transition leads here from "a" (remove it or go to it)"#,
            #"wf.yaml:10:3: steps.d: unreachable step: no transition leads here from "a" (remove it or go to it)"#,
        ])
    }

    /// Issue 11: an unknown `next` no longer hides an unreachable step elsewhere in the file.
    @Test func anUnknownNextAndAnUnreachableStepAreBothReportedInOneRun() {
        #expect(workflowIssues("""
            name: wf
            start: a
            steps:
              a:
                notify: { to: owner, message: hi }
                next: nowhere
              lonely:
                end: {}
            """) == [
            #"wf.yaml:6:11: steps.a.next: unknown step "nowhere""#,
            #"wf.yaml:7:3: steps.lonely: unreachable step: no transition leads here from "a" (remove it or go to it)"#,
        ])
    }

    /// A typo counts as a transition to the step it most likely meant, which is therefore not unreachable.
    @Test func aTypoLeadsToTheStepItMeantForReachability() {
        #expect(workflowIssues("""
            name: wf
            start: strat
            steps:
              start:
                goto: finsh
              finish:
                end: {}
              lonely:
                end: {}
            """) == [
            #"wf.yaml:2:8: start: unknown step "strat" (did you mean "start"?)"#,
            #"wf.yaml:5:11: steps.start.goto: unknown step "finsh" (did you mean "finish"?)"#,
            #"wf.yaml:8:3: steps.lonely: unreachable step: no transition leads here from "strat" (remove it or go to it)"#,
        ])
    }

    /// A reachable step without its transition may lead anywhere: nothing is called unreachable.
    /// An unreachable one does not stop the check.
    @Test func aStepMissingItsTransitionSuspendsTheCheckOnlyWhenReachable() {
        #expect(workflowIssues("""
            name: wf
            start: a
            steps:
              a:
                notify: { to: owner, message: hi }
              b:
                end: {}
            """) == [#"wf.yaml:5:5: steps.a.next: missing required field "next" (the step to go on to)"#])
        #expect(workflowIssues("""
            name: wf
            start: a
            steps:
              a:
                end: {}
              b:
                notify: { to: owner, message: hi }
            """) == [
            #"wf.yaml:6:3: steps.b: unreachable step: no transition leads here from "a" (remove it or go to it)"#,
            #"wf.yaml:7:5: steps.b.next: missing required field "next" (the step to go on to)"#,
        ])
    }

    @Test func loopWithoutAWait() {
        #expect(workflowIssues("""
            name: wf
            start: a
            steps:
              a:
                notify: { to: owner, message: ping }
                next: b
              b:
                branch:
                  cases:
                    - when: { tier: done }
                      next: c
                  otherwise: a
              c:
                goto: c
            """) == [
            "wf.yaml:4:3: steps.a: a loop with no wait in it: a -> b -> a would run forever (put a wait_for_sla in the loop)",
            "wf.yaml:13:3: steps.c: a loop with no wait in it: c -> c would run forever (put a wait_for_sla in the loop)",
        ])
    }

    @Test func loopThroughAWaitIsFine() {
        #expect(workflowIssues("""
            name: wf
            start: remind
            steps:
              remind:
                notify: { to: owner, message: "Call {{contact.name}}" }
                next: wait
              wait:
                wait_for_sla: { event: called, within: 1d }
                on_met: done
                on_breach: remind
              done:
                end: {}
            """) == [])
    }

    @Test func badDuration() {
        #expect(workflowIssues("""
            name: wf
            start: wait
            steps:
              wait:
                wait_for_sla: { event: first_touch, within: 4hours }
                on_met: done
                on_breach: done
              done:
                end: {}
            """) == [
            #"wf.yaml:5:49: steps.wait.wait_for_sla.within: bad duration "4hours" (write a number and a unit: 90s, 15m, 4h, 3d)"#,
        ])
    }

    @Test func businessHoursNeedACalendarAndClocksAreKnown() {
        #expect(workflowIssues("""
            name: wf
            start: a
            steps:
              a:
                wait_for_sla: { event: first_touch, within: 4h, clock: business_hours }
                on_met: b
                on_breach: b
              b:
                wait_for_sla: { event: first_touch, within: 4h, clock: buisness_hours, calendar: emea }
                on_met: c
                on_breach: c
              c:
                end: {}
            """) == [
            #"wf.yaml:5:19: steps.a.wait_for_sla.calendar: missing required field "calendar" (clock business_hours counts the hours of a calendar: name one)"#,
            #"wf.yaml:9:60: steps.b.wait_for_sla.clock: unknown value "buisness_hours" (did you mean "business_hours"?); one of: wall, business_hours"#,
        ])
    }

    static let crossReferences = """
        name: wf
        start: a
        steps:
          a:
            assign:
              team: sales-emae
              strategy: rules
              rules:
                - when: { country: DE }
                  team: sales-dach
                - when: { tier: enterprise }
                  member: mria
            next: b
          b:
            notify: { to: [owner, "team:support"], channel: sales-slak, message: hi }
            next: c
          c:
            wait_for_sla: { event: x, within: 4h, clock: business_hours, calendar: apac }
            on_met: d
            on_breach: d
          d:
            escalate: { reassign_to: "team:sales-leads", channel: log }
            next: e
          e:
            end: {}
        """

    @Test func unknownTeamsCalendarsChannelsAndMembers() {
        let known = KnownNames(teams: ["sales-emea", "sales-dach", "sales-leads"], calendars: ["emea"],
                               channels: ["sales-slack"], members: ["maria", "ana"])
        #expect(workflowIssues(Self.crossReferences, known: known) == [
            #"wf.yaml:6:13: steps.a.assign.team: unknown team "sales-emae" (did you mean "sales-emea"?)"#,
            #"wf.yaml:12:19: steps.a.assign.rules[1].member: unknown member "mria" (did you mean "maria"?)"#,
            #"wf.yaml:15:27: steps.b.notify.to[1]: unknown team "support" (known teams: sales-dach, sales-emea, sales-leads)"#,
            #"wf.yaml:15:53: steps.b.notify.channel: unknown channel "sales-slak" (did you mean "sales-slack"?)"#,
            #"wf.yaml:18:76: steps.c.wait_for_sla.calendar: unknown calendar "apac" (known calendars: emea)"#,
        ])
    }

    @Test func namesAreNotCheckedWhenNotKnown() {
        #expect(workflowIssues(Self.crossReferences) == [])
        #expect(workflowIssues(Self.crossReferences, known: KnownNames(teams: [], calendars: nil, channels: nil, members: nil)) == [
            #"wf.yaml:6:13: steps.a.assign.team: unknown team "sales-emae" (none exist yet: apply the team file first)"#,
            #"wf.yaml:10:17: steps.a.assign.rules[0].team: unknown team "sales-dach" (none exist yet: apply the team file first)"#,
            #"wf.yaml:15:27: steps.b.notify.to[1]: unknown team "support" (none exist yet: apply the team file first)"#,
            #"wf.yaml:22:30: steps.d.escalate.reassign_to: unknown team "sales-leads" (none exist yet: apply the team file first)"#,
        ])
    }

    @Test func duplicateStepIDs() {
        #expect(workflowIssues("""
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

    @Test func duplicateKeysAnywhereAreReportedWithEverythingElse() {
        #expect(workflowIssues("""
            name: wf
            name: wf2
            start: a
            steps:
              a:
                assign: { team: t, team: u, strategy: weighted }
                next: b
              b:
                end: { outcome: x, outcom: y }
            """) == [
            #"wf.yaml:2:1: name: duplicate key "name" (first at line 1)"#,
            #"wf.yaml:6:24: steps.a.assign.team: duplicate key "team" (first at line 6)"#,
            #"wf.yaml:9:24: steps.b.end.outcom: unknown key "outcom" (did you mean "outcome"?)"#,
        ])
    }

    @Test func emptyWorkflow() {
        let expected = ["wf.yaml:3:8: steps: the workflow has no steps (an empty workflow cannot run); add at least one step"]
        #expect(workflowIssues("name: wf\nstart: a\nsteps: {}\n") == expected)
        #expect(workflowIssues("name: wf\nstart: a\nsteps:\n") == ["wf.yaml:3:7: steps: the workflow has no steps (an empty workflow cannot run); add at least one step"])
    }

    @Test func badEnumValuesListTheAllowedOnes() {
        #expect(workflowIssues("""
            name: wf
            start: a
            steps:
              a:
                assign: { team: t, strategy: round-robin, fallback: nobody }
                next: b
              b:
                escalate: { reassign_to: boss, priority: critical, notify: [owner, mgr] }
                next: c
              c:
                handoff: { team: retention, strategy: rules }
                next: d
              d:
                end: {}
            """) == [
            #"wf.yaml:5:34: steps.a.assign.strategy: unknown value "round-robin" (did you mean "round_robin"?); one of: round_robin, weighted, least_loaded, rules, sticky, account"#,
            #"wf.yaml:5:57: steps.a.assign.fallback: unknown value "nobody"; one of: queue, backup, fail"#,
            #"wf.yaml:8:30: steps.b.escalate.reassign_to: unknown value "boss"; one of: backup, manager, team:NAME, next_in_rotation"#,
            #"wf.yaml:8:46: steps.b.escalate.priority: unknown value "critical"; one of: low, normal, high, urgent"#,
            #"wf.yaml:8:72: steps.b.escalate.notify[1]: unknown recipient "mgr"; one of: owner, backup, manager, previous_owner, new_owner, contact, team:NAME, member:ID"#,
            #"wf.yaml:11:43: steps.c.handoff.strategy: a handoff has no rules; use one of: round_robin, weighted, least_loaded, sticky, account (or an assign step with rules)"#,
        ])
    }

    @Test func rulesNeedWhenAndExactlyOneOfTeamOrMember() {
        #expect(workflowIssues("""
            name: wf
            start: a
            steps:
              a:
                assign:
                  team: sales-emea
                  strategy: rules
                  rules:
                    - team: sales-dach
                    - when: { tier: enterprise }
                    - when: { tier: smb }
                      team: sales-emea
                      member: ana
                next: b
              b:
                assign: { team: sales-emea, strategy: rules }
                next: c
              c:
                assign: { team: sales-emea, rules: [] }
                next: d
              d:
                end: {}
            """) == [
            #"wf.yaml:9:11: steps.a.assign.rules[0].when: missing required field "when" (the condition the rule tests)"#,
            #"wf.yaml:10:11: steps.a.assign.rules[1]: a rule picks a team or a member: give "team" or "member""#,
            #"wf.yaml:13:19: steps.a.assign.rules[2].member: a rule picks a team or a member, not both: remove "team" or "member""#,
            #"wf.yaml:16:13: steps.b.assign.rules: missing required field "rules" (strategy rules needs a list of rules, first match wins)"#,
            #"wf.yaml:19:33: steps.c.assign.rules: rules are only used with strategy: rules (this step's strategy is round_robin)"#,
        ])
    }

    @Test func conditionOperators() {
        #expect(workflowIssues("""
            name: wf
            start: a
            steps:
              a:
                branch:
                  cases:
                    - when: { country: { inn: [DE] } }
                      next: b
                    - when: { score: { gte: high }, email: { exists: maybe }, country: { in: DE } }
                      next: b
                    - when: {}
                      next: b
                    - when: { tier: [a, b] }
                      next: b
                  otherwise: b
              b:
                end: {}
            """) == [
            #"wf.yaml:7:30: steps.a.branch.cases[0].when.country.inn: unknown operator "inn" (did you mean "in"?); one of: in, not_in, prefix, gte, lte, exists"#,
            #"wf.yaml:9:33: steps.a.branch.cases[1].when.score.gte: expected a number, found "high""#,
            #"wf.yaml:9:58: steps.a.branch.cases[1].when.email.exists: expected true or false, found "maybe""#,
            #"wf.yaml:9:82: steps.a.branch.cases[1].when.country.in: expected a list, e.g. [DE, AT], found "DE""#,
            "wf.yaml:11:17: steps.a.branch.cases[2].when: a condition needs at least one attribute, e.g. { tier: enterprise }",
            "wf.yaml:13:25: steps.a.branch.cases[3].when.tier: expected a value or a mapping of operators (in, not_in, prefix, gte, lte, exists), found a list",
        ])
    }

    @Test func maxAttemptsIsPositive() {
        #expect(workflowIssues("""
            name: wf
            start: a
            steps:
              a:
                end: {}
                max_attempts: 0
            """) == [#"wf.yaml:6:19: steps.a.max_attempts: expected a whole number greater than 0, found "0""#])
    }

    @Test func templateVariables() {
        #expect(workflowIssues("""
            name: wf
            start: a
            steps:
              a:
                notify: { to: owner, message: "Hi {{ownr.name}}, {{contact.company}} is due {{deadline}} {{#team}}{{/team}} {{foo}}" }
                next: b
              b:
                escalate: { message: "{{previous_owner.mail}} {{ unclosed" }
                next: c
              c:
                end: {}
            """) == [
            #"wf.yaml:5:35: steps.a.notify.message: unknown template variable "{{ownr.name}}" (did you mean "{{owner.name}}"?)"#,
            #"wf.yaml:5:35: steps.a.notify.message: unknown template variable "{{foo}}"; use one of: contact.id, contact.name, owner.id, owner.name, owner.email, previous_owner.id, previous_owner.name, previous_owner.email, new_owner.id, new_owner.name, new_owner.email, recipient.id, recipient.name, team, workflow, step, instance, deadline, event, reason, or contact.<attribute>"#,
            #"wf.yaml:8:26: steps.b.escalate.message: unknown template variable "{{previous_owner.mail}}" (did you mean "{{previous_owner.email}}"?)"#,
            #"wf.yaml:8:26: steps.b.escalate.message: a "{{" is never closed with "}}""#,
        ])
    }

    @Test func everyIssueInAFileIsReportedSorted() {
        #expect(workflowIssues("""
            name: wf
            start: route
            steps:
              route:
                assign: { team: sales-emea, strategy: weigthed }
                next: tell
              tell:
                notify: { to: owner, message: "{{ownr.name}}" }
                next: wiat
              wait:
                wait_for_sla: { event: first_touch, within: 4hours, clock: business_hours }
                on_met: done
                on_breach: done
              done:
                end: {}
            """) == [
            #"wf.yaml:5:43: steps.route.assign.strategy: unknown value "weigthed" (did you mean "weighted"?); one of: round_robin, weighted, least_loaded, rules, sticky, account"#,
            #"wf.yaml:8:35: steps.tell.notify.message: unknown template variable "{{ownr.name}}" (did you mean "{{owner.name}}"?)"#,
            #"wf.yaml:9:11: steps.tell.next: unknown step "wiat" (did you mean "wait"?)"#,
            #"wf.yaml:11:19: steps.wait.wait_for_sla.calendar: missing required field "calendar" (clock business_hours counts the hours of a calendar: name one)"#,
            #"wf.yaml:11:49: steps.wait.wait_for_sla.within: bad duration "4hours" (write a number and a unit: 90s, 15m, 4h, 3d)"#,
        ])
    }

    @Test(arguments: [
        ("name: [unclosed\nstart: x\n",
         "wf.yaml:2:6: (file): not valid YAML: did not find expected ',' or ']' (while parsing a flow sequence at line 1, column 7)"),
        ("name: wf\n  start: x\n", "wf.yaml:2:8: (file): not valid YAML: mapping values are not allowed in this context"),
        ("{\"name\": \"wf\", \"start\": }}", "wf.yaml:1:26: (file): not valid YAML: did not find expected <document start>"),
        ("\u{1}\u{2}\u{3}binary", "wf.yaml:1:1: (file): not valid YAML: control characters are not allowed"),
        ("just some words", #"wf.yaml:1:1: (file): expected a workflow (a mapping with name, start and steps), found "just some words""#),
        ("", "wf.yaml:1:1: (file): the file is empty; a workflow needs name, start and steps"),
    ])
    func notAWorkflowAtAllIsOneLine(text: String, line: String) {
        #expect(workflowIssues(text) == [line])
    }

    @Test func errorsDescribeThemselvesOneLineEach() {
        do {
            _ = try DefinitionLoader.workflow(from: "name: wf\nstart: a\nsteps:\n  a:\n    goto: b\n", file: "x.yaml")
            Issue.record("expected errors")
        } catch let error as DefinitionErrors {
            #expect(error.description == #"x.yaml:5:11: steps.a.goto: unknown step "b""#)
            #expect(error.issues.first == DefinitionIssue(file: "x.yaml", line: 5, column: 11, path: "steps.a.goto", message: #"unknown step "b""#))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}

@Suite struct TemplateEngineTests {
    @Test func anUnclosedSectionIsRejectedWhenApplied() {
        let text = """
            name: wf
            start: a
            steps:
              a:
                notify: { to: owner, message: "{{#team}}open section" }
                next: b
              b:
                end: {}
            """
        #expect(throws: DefinitionErrors.self) { try DefinitionLoader.workflow(from: text, file: "wf.yaml") }
    }

    @Test func rendersPlainTextWithNestedNamesAndSections() {
        let text = Template.render(
            "{{contact.id}} for {{owner.name}} <{{owner.email}}>{{#reason}} ({{reason}}){{/reason}}{{^deadline}}, no deadline{{/deadline}}",
            ["contact.id": "C-1", "owner.name": "Ana O'Brien", "owner.email": "ana@example.com", "reason": "purchased"])
        #expect(text == "C-1 for Ana O'Brien <ana@example.com> (purchased), no deadline")
    }

    @Test func aNameThatOthersContinueIsASectionAndUnknownNamesRenderEmpty() {
        let values = ["contact.consent": "yes", "contact.consent.email": "false", "contact.id": "C-9", "team": "",
                      "contact.name": "Zoë", "a.b.c": "deep"]
        #expect(Template.render("{{#contact.consent}}email={{email}}{{/contact.consent}}", values) == "email=false")
        #expect(Template.render("{{contact.consent.email}}|{{contact.missing}}|{{nobody.name}}|{{a.b.c}}", values)
                == "false|||deep")
        #expect(Template.render("{{#contact}}{{name}} {{id}}{{/contact}}{{^deadline}} (no deadline){{/deadline}}", values)
                == "Zoë C-9 (no deadline)")
    }
}
