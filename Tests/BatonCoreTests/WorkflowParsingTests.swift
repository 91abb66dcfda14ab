import BatonCore
import Foundation
import Testing

/// Workflow files that are right: what they parse into.
@Suite struct WorkflowParsingTests {
    /// The workflow of DESIGN.md "File formats", verbatim.
    static let designExample = """
        name: inbound-lead
        description: Route a new lead, hold its owner to a first-touch SLA, escalate, then hand off to retention.
        start: route
        steps:
          route:
            assign:
              team: sales-emea
              strategy: rules                      # round_robin | weighted | least_loaded | rules | sticky
              rules:
                - when: { country: { in: [DE, AT, CH] } }
                  team: sales-dach
                - when: { tier: enterprise }
                  member: maria
              otherwise: round_robin               # strategy when no rule matches
              fallback: queue                      # queue | backup | fail, when nobody is eligible
            next: tell-owner
          tell-owner:
            notify: { to: [owner], channel: log, message: "Lead {{contact.id}} is yours; first touch due {{deadline}}." }
            next: check-tier
          check-tier:
            branch:
              cases:
                - when: { tier: { in: [enterprise, strategic] } }
                  next: first-touch-fast
              otherwise: first-touch
          first-touch-fast:
            wait_for_sla: { event: first_touch, within: 1h, clock: business_hours, calendar: emea }
            on_met: wait-purchase
            on_breach: escalate-lead
          first-touch:
            wait_for_sla: { event: first_touch, within: 4h, clock: business_hours, calendar: emea }
            on_met: wait-purchase
            on_breach: escalate-backup
          escalate-backup:
            escalate: { reassign_to: backup, notify: [manager, previous_owner], priority: high }   # backup | manager | team:<name> | next_in_rotation
            next: first-touch-again
          first-touch-again:
            wait_for_sla: { event: first_touch, within: 2h, clock: business_hours, calendar: emea }
            on_met: wait-purchase
            on_breach: escalate-lead
          escalate-lead:
            escalate: { reassign_to: "team:sales-leads", notify: [manager] }
            next: wait-purchase
          wait-purchase:
            wait_for_sla: { event: purchased, within: 30d }      # clock defaults to wall
            on_met: to-retention
            on_breach: done
          to-retention:
            handoff: { team: retention, strategy: least_loaded, reason: purchased, notify: [new_owner, previous_owner] }
            next: done
          done:
            end: {}
        """

    @Test func designExampleParsesIntoTheModel() throws {
        let wf = try DefinitionLoader.workflow(from: Self.designExample, file: "inbound-lead.yaml")
        #expect(wf.name == "inbound-lead")
        #expect(wf.description == "Route a new lead, hold its owner to a first-touch SLA, escalate, then hand off to retention.")
        #expect(wf.start == "route")
        #expect(wf.steps.map(\.id) == [
            "route", "tell-owner", "check-tier", "first-touch-fast", "first-touch", "escalate-backup", "first-touch-again",
            "escalate-lead", "wait-purchase", "to-retention", "done",
        ])
        #expect(wf.step("route")?.action == .assign(
            Assign(team: "sales-emea", strategy: .rules, rules: [
                Rule(when: Condition([.init(attribute: "country", tests: [.oneOf(["DE", "AT", "CH"])])]), team: "sales-dach"),
                Rule(when: Condition([.init(attribute: "tier", tests: [.equals("enterprise")])]), member: "maria"),
            ], otherwise: .roundRobin, fallback: .queue),
            next: "tell-owner"))
        #expect(wf.step("tell-owner")?.action == .notify(
            Notify(to: [.owner], channel: "log", message: "Lead {{contact.id}} is yours; first touch due {{deadline}}."),
            next: "check-tier"))
        #expect(wf.step("check-tier")?.action == .branch(Branch(
            cases: [.init(when: Condition([.init(attribute: "tier", tests: [.oneOf(["enterprise", "strategic"])])]),
                          next: "first-touch-fast")],
            otherwise: "first-touch")))
        #expect(wf.step("first-touch")?.action == .waitForSLA(
            WaitForSLA(event: "first_touch", within: TimeSpan(seconds: 4 * 3600), clock: .businessHours, calendar: "emea"),
            onMet: "wait-purchase", onBreach: "escalate-backup"))
        #expect(wf.step("escalate-backup")?.action == .escalate(
            Escalate(reassignTo: .backup, notify: [.manager, .previousOwner], priority: .high), next: "first-touch-again"))
        #expect(wf.step("escalate-lead")?.action == .escalate(
            Escalate(reassignTo: .team("sales-leads"), notify: [.manager]), next: "wait-purchase"))
        #expect(wf.step("wait-purchase")?.action == .waitForSLA(
            WaitForSLA(event: "purchased", within: TimeSpan(seconds: 30 * 86400)), onMet: "to-retention", onBreach: "done"))
        #expect(wf.step("to-retention")?.action == .handoff(
            Handoff(team: "retention", strategy: .leastLoaded, reason: "purchased", notify: [.newOwner, .previousOwner]),
            next: "done"))
        #expect(wf.step("done")?.action == .end(End()))
    }

    @Test func designExampleChecksAgainstKnownNames() throws {
        let known = KnownNames(teams: ["sales-emea", "sales-dach", "sales-leads", "retention"], calendars: ["emea"],
                               channels: [], members: ["maria"])
        #expect(workflowIssues(Self.designExample, known: known) == [])
    }

    @Test func defaultsFillWhatIsLeftOut() throws {
        let wf = try DefinitionLoader.workflow(from: """
            name: defaults
            start: a
            steps:
              a:
                assign: { team: sales }
                next: b
              b:
                notify: { to: owner, message: hello }
                next: c
              c:
                handoff: { team: retention }
                max_attempts: 3
                next: d
              d:
                wait_for_sla: { event: x, within: 90s }
                on_met: e
                on_breach: e
              e:
                end:
            """, file: "wf.yaml")
        #expect(wf.step("a")?.action == .assign(Assign(team: "sales", strategy: .roundRobin, fallback: .queue), next: "b"))
        #expect(wf.step("b")?.action == .notify(Notify(to: [.owner], channel: "log", message: "hello"), next: "c"))
        #expect(wf.step("c")?.action == .handoff(Handoff(team: "retention", strategy: .roundRobin, reason: "handoff"), next: "d"))
        #expect(wf.step("c")?.maxAttempts == 3)
        #expect(wf.step("a")?.maxAttempts == nil)
        #expect(wf.step("d")?.action == .waitForSLA(WaitForSLA(event: "x", within: TimeSpan(seconds: 90), clock: .wall),
                                                     onMet: "e", onBreach: "e"))
        #expect(wf.step("e")?.action == .end(End()))
    }

    @Test func gotoEndOutcomeAndEveryConditionOperator() throws {
        let wf = try DefinitionLoader.workflow(from: """
            name: ops
            start: split
            steps:
              split:
                branch:
                  cases:
                    - when: { country: { not_in: [US, CA] }, score: { gte: 50, lte: 100 }, email: { exists: true } }
                      next: won
                    - when: { domain: { prefix: "acme." }, tier: enterprise }
                      next: again
                  otherwise: lost
              again:
                goto: won
              won:
                end: { outcome: converted }
              lost:
                end: { outcome: lost }
            """, file: "wf.yaml")
        #expect(wf.step("split")?.action == .branch(Branch(cases: [
            .init(when: Condition([
                .init(attribute: "country", tests: [.noneOf(["US", "CA"])]),
                .init(attribute: "score", tests: [.atLeast(50), .atMost(100)]),
                .init(attribute: "email", tests: [.exists(true)]),
            ]), next: "won"),
            .init(when: Condition([
                .init(attribute: "domain", tests: [.prefix("acme.")]),
                .init(attribute: "tier", tests: [.equals("enterprise")]),
            ]), next: "again"),
        ], otherwise: "lost")))
        #expect(wf.step("again")?.action == .goto("won"))
        #expect(wf.step("won")?.action == .end(End(outcome: "converted")))
    }

    @Test func recipientsTemplatesAndEscalationTargets() throws {
        let wf = try DefinitionLoader.workflow(from: """
            name: people
            start: tell
            steps:
              tell:
                notify:
                  to: [owner, backup, manager, previous_owner, new_owner, contact, "team:sales", "member:ana"]
                  channel: sales-slack
                  message: "{{#owner.name}}Hi {{ owner.name }}{{/owner.name}}{{^deadline}}no deadline{{/deadline}} {{! a note }}{{{contact.company}}} {{recipient.name}}"
                next: up
              up:
                escalate: { reassign_to: next_in_rotation, priority: urgent, channel: sales-webhook, message: "{{step}} of {{workflow}} for {{instance}}" }
                next: up2
              up2:
                escalate: { reassign_to: manager }
                next: done
              done:
                end: {}
            """, file: "wf.yaml")
        #expect(wf.step("tell")?.action == .notify(Notify(
            to: [.owner, .backup, .manager, .previousOwner, .newOwner, .contact, .team("sales"), .member("ana")],
            channel: "sales-slack",
            message: "{{#owner.name}}Hi {{ owner.name }}{{/owner.name}}{{^deadline}}no deadline{{/deadline}} {{! a note }}{{{contact.company}}} {{recipient.name}}"),
            next: "up"))
        #expect(wf.step("up")?.action == .escalate(Escalate(
            reassignTo: .nextInRotation, priority: .urgent, channel: "sales-webhook", message: "{{step}} of {{workflow}} for {{instance}}"),
            next: "up2"))
        #expect(wf.step("up2")?.action == .escalate(Escalate(reassignTo: .manager), next: "done"))
    }

    @Test func jsonParsesLikeYAML() throws {
        let json = """
            {
            \t"name": "inbound-lead",
            \t"start": "route",
            \t"steps": {
            \t\t"route": {"assign": {"team": "sales-emea", "strategy": "weighted", "fallback": "backup"}, "next": "wait"},
            \t\t"wait": {"wait_for_sla": {"event": "first_touch", "within": "4h"}, "on_met": "done", "on_breach": "done", "max_attempts": 2},
            \t\t"done": {"end": {"outcome": "ok"}}
            \t}
            }
            """
        let yaml = """
            name: inbound-lead
            start: route
            steps:
              route: { assign: { team: sales-emea, strategy: weighted, fallback: backup }, next: wait }
              wait: { wait_for_sla: { event: first_touch, within: 4h }, on_met: done, on_breach: done, max_attempts: 2 }
              done: { end: { outcome: ok } }
            """
        let fromJSON = try DefinitionLoader.workflow(from: json, file: "wf.json")
        #expect(fromJSON == (try DefinitionLoader.workflow(from: yaml, file: "wf.yaml")))
        #expect(fromJSON.step("route")?.action == .assign(Assign(team: "sales-emea", strategy: .weighted, fallback: .backup),
                                                          next: "wait"))
    }

    @Test func windowsLineEndingsAndAnchorsParse() throws {
        let wf = try DefinitionLoader.workflow(
            from: [
                "name: wf", "start: a", "steps:",
                "  a:", "    wait_for_sla: &touch { event: first_touch, within: 4h }", "    on_met: b", "    on_breach: b",
                "  b:", "    wait_for_sla: *touch", "    on_met: c", "    on_breach: c",
                "  c:", "    end: { outcome: x }",
            ].joined(separator: "\r\n"), file: "wf.yaml")
        #expect(wf.steps.map(\.id) == ["a", "b", "c"])
        #expect(wf.step("b")?.action == .waitForSLA(WaitForSLA(event: "first_touch", within: TimeSpan(seconds: 14400)),
                                                     onMet: "c", onBreach: "c"))
        #expect(wf.step("c")?.action == .end(End(outcome: "x")))
    }

    @Test func jsonMistakesHavePositionsToo() {
        #expect(workflowIssues("""
            {"name": "wf", "start": "a",
             "steps": {"a": {"end": {}, "nxt": "a"}}}
            """, file: "wf.json") == [
            #"wf.json:2:29: steps.a.nxt: unknown key "nxt" (did you mean "next"?)"#,
        ])
    }

    @Test func definitionRoundTripsThroughItsJSONSpec() throws {
        let wf = try DefinitionLoader.workflow(from: Self.designExample, file: "inbound-lead.yaml")
        let data = try JSONEncoder().encode(wf)
        #expect(try JSONDecoder().decode(WorkflowDefinition.self, from: data) == wf)
    }
}
