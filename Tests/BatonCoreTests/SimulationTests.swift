@testable import BatonCore
import Foundation
import Testing

/// `batonctl simulate`'s core: the real Machine on a virtual clock over the example files.
@Suite struct SimulationTests {
    /// The example teams as a directory (no database).
    static func exampleDirectory() throws -> Directory {
        try DefinitionLoader.teams(from: example("teams.yaml"), file: "examples/teams.yaml").directory()
    }

    static func inboundLead() throws -> WorkflowDefinition {
        try DefinitionLoader.workflow(from: example("inbound-lead.yaml"), file: "examples/inbound-lead.yaml")
    }

    static func simulate(
        _ definition: WorkflowDefinition, _ contact: ContactSnapshot, at start: Date, events: String = "[]",
        directory: Directory? = nil
    ) throws -> (trace: SimulationTrace, text: String) {
        var directory = try directory ?? exampleDirectory()
        let names = directory
        var rotation = Rotation()
        let trace = Simulator(definition: definition).run(
            contact: contact, start: start, events: try DefinitionLoader.simulationEvents(from: events, file: "events.yaml"),
            directory: &directory, rotation: &rotation)
        return (trace, SimulationReport.text(trace, directory: names))
    }

    /// Christmas Eve 2026 is a Thursday; the 25th (Friday) and 26th are holidays in the emea calendar:
    /// 4 working hours from Thursday 15:00 Berlin end on Monday 11:00. Nobody touches the lead in time,
    /// so it escalates to the owner's backup, then to the leads team, and no purchase follows.
    @Test func businessHoursAcrossAHolidayAndAWeekendThenABreachChainToTheLeadsTeam() throws {
        let (trace, text) = try Self.simulate(
            Self.inboundLead(), ContactSnapshot(id: "C-1", attributes: ["country": "FR", "tier": "smb"]),
            at: instant("2026-12-24T14:00:00Z"), events: "- { at: +4d, event: first_touch }")
        #expect(text == """
            simulate inbound-lead: contact C-1 (country=FR, tier=smb), enrolled 2026-12-24T14:00:00Z
            event: first_touch at 2026-12-28T14:00:00Z (+4d)

            2026-12-24T14:00:00Z  +0s      route              assigned ana (Ana Ruiz) in sales-emea, why: round_robin
            2026-12-24T14:00:00Z  +0s      tell-owner         sends 1 message(s) -> check-tier
                                                              -> ana (Ana Ruiz <ana@example.com>) via log: Lead C-1 is yours; first touch due 2026-12-28T10:00:00Z.
            2026-12-24T14:00:00Z  +0s      check-tier         otherwise -> first-touch
            2026-12-24T14:00:00Z  +0s      first-touch        waits for first_touch, 4h of business hours (emea): deadline 2026-12-28T10:00:00Z = Mon 28 Dec 11:00 Europe/Berlin
            2026-12-28T10:00:00Z  +3d20h   first-touch        breached: no first_touch by 2026-12-28T10:00:00Z -> escalate-backup
            2026-12-28T10:00:00Z  +3d20h   escalate-backup    escalated: assigned ben in sales-emea (backup); notified 2; priority high -> first-touch-again
                                                              -> maria (Maria Chen <maria@example.com>) via sales-slack: C-1 missed its first touch; Ben Okafor takes over from Ana Ruiz.
                                                              -> ana (Ana Ruiz <ana@example.com>) via sales-slack: C-1 missed its first touch; Ben Okafor takes over from Ana Ruiz.
            2026-12-28T10:00:00Z  +3d20h   first-touch-again  waits for first_touch, 2h of business hours (emea): deadline 2026-12-28T12:00:00Z = Mon 28 Dec 13:00 Europe/Berlin
            2026-12-28T12:00:00Z  +3d22h   first-touch-again  breached: no first_touch by 2026-12-28T12:00:00Z -> escalate-lead
            2026-12-28T12:00:00Z  +3d22h   escalate-lead      escalated: assigned maria in sales-leads (round_robin) -> wait-purchase
            2026-12-28T12:00:00Z  +3d22h   wait-purchase      waits for purchased, 30d on the wall clock: deadline 2027-01-27T12:00:00Z
            2027-01-27T12:00:00Z  +33d22h  wait-purchase      breached: no purchased by 2027-01-27T12:00:00Z -> lost
            2027-01-27T12:00:00Z  +33d22h  lost               completed: no_purchase

            result: completed (no_purchase) at step lost, 2027-01-27T12:00:00Z (+33d22h)
            owner: maria (Maria Chen) in sales-leads
            path: route > tell-owner > check-tier > first-touch > escalate-backup > first-touch-again > escalate-lead > wait-purchase > lost
            sla: met none; breached first-touch, first-touch-again, wait-purchase
            """)
        #expect(trace.result.breaches == ["first-touch", "first-touch-again", "wait-purchase"])
        #expect(trace.result.owner == "maria")
        #expect(trace.result.team == "sales-leads")
    }

    /// An enterprise lead in Germany: the dach rule picks sales-dach's rotation, the branch picks the
    /// one-hour SLA, a touch after 30 minutes meets it, a purchase hands it to retention.
    @Test func rulesBranchSLAMetAndHandoff() throws {
        let (trace, text) = try Self.simulate(
            Self.inboundLead(), ContactSnapshot(id: "C-2", attributes: ["country": "DE", "tier": "enterprise"]),
            at: instant("2026-03-02T08:30:00Z"),
            events: "- { at: +30m, event: first_touch }\n- { at: 2026-03-12T09:00:00Z, event: purchased }")
        #expect(text == """
            simulate inbound-lead: contact C-2 (country=DE, tier=enterprise), enrolled 2026-03-02T08:30:00Z
            event: first_touch at 2026-03-02T09:00:00Z (+30m)
            event: purchased at 2026-03-12T09:00:00Z (+10d30m)

            2026-03-02T08:30:00Z  +0s      route             assigned dirk (Dirk Vogel) in sales-dach, why: rule:dach
            2026-03-02T08:30:00Z  +0s      tell-owner        sends 1 message(s) -> check-tier
                                                             -> dirk (Dirk Vogel <dirk@example.com>) via log: Lead C-2 is yours; first touch due 2026-03-02T09:30:00Z.
            2026-03-02T08:30:00Z  +0s      check-tier        case 1 -> first-touch-fast
            2026-03-02T08:30:00Z  +0s      first-touch-fast  waits for first_touch, 1h of business hours (emea): deadline 2026-03-02T09:30:00Z = Mon 2 Mar 10:30 Europe/Berlin
            2026-03-02T09:00:00Z  +30m     first-touch-fast  met: first_touch (arrived +30m) -> touched
            2026-03-02T09:00:00Z  +30m     touched           -> wait-purchase
            2026-03-02T09:00:00Z  +30m     wait-purchase     waits for purchased, 30d on the wall clock: deadline 2026-04-01T09:00:00Z
            2026-03-12T09:00:00Z  +10d30m  wait-purchase     met: purchased (arrived +10d30m) -> to-retention
            2026-03-12T09:00:00Z  +10d30m  to-retention      handoff:purchased: assigned raj in retention (least_loaded); notified 2 -> done
                                                             -> raj (Raj Patel <raj@example.com>) via log: Contact C-2 handed off to retention (purchased): new owner Raj Patel.
                                                             -> dirk (Dirk Vogel <dirk@example.com>) via log: Contact C-2 handed off to retention (purchased): new owner Raj Patel.
            2026-03-12T09:00:00Z  +10d30m  done              completed: customer

            result: completed (customer) at step done, 2026-03-12T09:00:00Z (+10d30m)
            owner: raj (Raj Patel) in retention
            path: route > tell-owner > check-tier > first-touch-fast > touched > wait-purchase > to-retention > done
            sla: met first-touch-fast, wait-purchase; breached none
            """)
        #expect(trace.result.path == ["route", "tell-owner", "check-tier", "first-touch-fast", "touched", "wait-purchase",
                                      "to-retention", "done"])
        #expect(trace.result.met == ["first-touch-fast", "wait-purchase"])
        #expect(trace.result.outcome == "customer")
    }

    /// A signal that arrives before its wait begins counts, as it does live.
    @Test func anEarlySignalMeetsTheWaitAtOnce() throws {
        let (trace, _) = try Self.simulate(
            Self.inboundLead(), ContactSnapshot(id: "C-3", attributes: ["country": "FR"]),
            at: instant("2026-03-02T08:30:00Z"), events: "- { at: +0s, event: first_touch }")
        let met = try #require(trace.steps.first { $0.outcome == "sla_met" })
        #expect(met.step == "first-touch")
        #expect(met.at == instant("2026-03-02T08:30:00Z"))
        #expect(met.signal == SimulatedSignal(at: instant("2026-03-02T08:30:00Z"), event: "first_touch"))
    }

    /// A message to the contact is suppressed when the contact has not consented; the owner's is sent.
    @Test func consentSuppressesTheMessageToTheContact() throws {
        let welcome = try DefinitionLoader.workflow(from: """
            name: welcome
            start: route
            steps:
              route:
                assign: { team: sales-emea, strategy: round_robin }
                next: hello
              hello:
                notify: { to: [contact, owner], channel: log, message: "Hello {{contact.name}}, {{owner.name}} will call you." }
                next: done
              done:
                end: {}
            """, file: "welcome.yaml")
        let (trace, text) = try Self.simulate(
            welcome, ContactSnapshot(id: "C-4", attributes: ["name": "Jo", "email": "jo@example.org", "consent.email": "false"]),
            at: instant("2026-03-02T08:30:00Z"))
        #expect(text == """
            simulate welcome: contact C-4 (consent.email=false, email=jo@example.org, name=Jo), enrolled 2026-03-02T08:30:00Z

            2026-03-02T08:30:00Z  +0s  route  assigned ana (Ana Ruiz) in sales-emea, why: round_robin
            2026-03-02T08:30:00Z  +0s  hello  sends 1 message(s), 1 suppressed -> done
                                              -> ana (Ana Ruiz <ana@example.com>) via log: Hello Jo, Ana Ruiz will call you.
                                              x suppressed (no consent): the contact <jo@example.org> via log: Hello Jo, Ana Ruiz will call you.
            2026-03-02T08:30:00Z  +0s  done   completed

            result: completed at step done, 2026-03-02T08:30:00Z (+0s)
            owner: ana (Ana Ruiz) in sales-emea
            path: route > hello > done
            sla: met none; breached none
            """)
        #expect(trace.steps[1].messages.map(\.suppressed) == [false, true])
    }

    /// Many contacts, one after the other: round robin moves on between them, as it would live.
    @Test func matrixOfTheExampleContacts() throws {
        let definition = try Self.inboundLead()
        var directory = try Self.exampleDirectory()
        var rotation = Rotation()
        let rows = try example("contacts.csv").split(separator: "\n").dropFirst().map { line -> ContactSnapshot in
            let cells = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            return ContactSnapshot(id: cells[0], attributes: ["country": cells[1], "tier": cells[2], "name": cells[3]])
        }
        let events = try DefinitionLoader.simulationEvents(from: "- { at: +1h, event: first_touch }", file: "e.yaml")
        let traces = rows.map {
            Simulator(definition: definition).run(contact: $0, start: instant("2026-03-02T08:30:00Z"), events: events,
                                                  directory: &directory, rotation: &rotation)
        }
        #expect(SimulationReport.matrix(traces) == """
            CONTACT  RESULT                 OWNER  TEAM         BREACHES       PATH
            C-2001   completed:no_purchase  dirk   sales-dach   wait-purchase  route>tell-owner>check-tier>first-touch>touched>wait-purchase>lost
            C-2002   completed:no_purchase  greta  sales-dach   wait-purchase  route>tell-owner>check-tier>first-touch-fast>touched>wait-purchase>lost
            C-2003   completed:no_purchase  ana    sales-emea   wait-purchase  route>tell-owner>check-tier>first-touch>touched>wait-purchase>lost
            C-2004   completed:no_purchase  ben    sales-emea   wait-purchase  route>tell-owner>check-tier>first-touch>touched>wait-purchase>lost
            C-2005   completed:no_purchase  chloe  sales-emea   wait-purchase  route>tell-owner>check-tier>first-touch>touched>wait-purchase>lost
            C-2006   completed:no_purchase  dirk   sales-dach   wait-purchase  route>tell-owner>check-tier>first-touch-fast>touched>wait-purchase>lost
            C-2007   completed:no_purchase  omar   sales-emea   wait-purchase  route>tell-owner>check-tier>first-touch>touched>wait-purchase>lost
            C-2008   completed:no_purchase  ana    sales-emea   wait-purchase  route>tell-owner>check-tier>first-touch>touched>wait-purchase>lost
            C-2009   completed:no_purchase  ben    sales-emea   wait-purchase  route>tell-owner>check-tier>first-touch>touched>wait-purchase>lost
            C-2010   completed:no_purchase  maria  sales-leads  wait-purchase  route>tell-owner>check-tier>first-touch-fast>touched>wait-purchase>lost
            C-2011   completed:no_purchase  greta  sales-dach   wait-purchase  route>tell-owner>check-tier>first-touch>touched>wait-purchase>lost
            C-2012   completed:no_purchase  chloe  sales-emea   wait-purchase  route>tell-owner>check-tier>first-touch>touched>wait-purchase>lost
            """)
    }

    @Test func jsonHasEveryFieldWithNullsAndRFC3339Times() throws {
        let (trace, _) = try Self.simulate(
            Self.inboundLead(), ContactSnapshot(id: "C-5", attributes: ["country": "FR"]), at: instant("2026-03-02T08:30:00Z"))
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let object = try #require(try JSONSerialization.jsonObject(with: encoder.encode(trace)) as? [String: Any])
        #expect(Set(object.keys) == ["workflow", "contact", "attributes", "start", "events", "steps", "result"])
        let first = try #require((object["steps"] as? [[String: Any]])?.first)
        #expect(Set(first.keys) == ["at", "elapsed", "step", "kind", "outcome", "detail", "next", "owner", "team", "priority",
                                    "assignment", "messages", "wait", "signal", "error"])
        #expect(first["at"] as? String == "2026-03-02T08:30:00Z")
        #expect(first["wait"] is NSNull)
        let result = try #require(object["result"] as? [String: Any])
        #expect(Set(result.keys) == ["state", "outcome", "at", "step", "path", "owner", "team", "breaches", "met", "note"])
        #expect(result["note"] is NSNull)
    }

    @Test func aLoopWithoutEndStopsAtTheStepLimit() {
        let definition = workflow(
            step("a", .waitForSLA(WaitForSLA(event: "ping", within: TimeSpan(seconds: 60)), onMet: "a", onBreach: "a")))
        var directory = Directory()
        var rotation = Rotation()
        let trace = Simulator(definition: definition, stepLimit: 10).run(
            contact: ContactSnapshot(id: "C"), start: t0, events: [], directory: &directory, rotation: &rotation)
        #expect(trace.steps.count == 10)
        #expect(trace.result.note == "stopped after 10 steps (a loop?)")
        #expect(trace.result.state == "waiting")
    }

    @Test func eventsFileMistakesNameTheirLine() {
        #expect(throws: DefinitionErrors.self) { try DefinitionLoader.simulationEvents(from: "- { at: soon, event: x }", file: "e.yaml") }
        do {
            _ = try DefinitionLoader.simulationEvents(from: "- { at: +2h, event: first_touch }\n- { at: 2h30, event: x }\n- { at: +1h }\n", file: "e.yaml")
        } catch let error as DefinitionErrors {
            #expect(error.issues.map(\.description) == [
                #"e.yaml:2:9: [1].at: bad time "2h30" (write +90s, +4h, +3d after the start, or an RFC 3339 time such as 2026-12-01T09:00:00Z)"#,
                #"e.yaml:3:3: [2].event: missing required field "event" (the signal's name, e.g. first_touch)"#,
            ])
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func eventTimesAreRelativeOrAbsolute() throws {
        let events = try DefinitionLoader.simulationEvents(
            from: "- { at: +1h30m, event: a }\n- { at: \"2026-03-02T12:00:00+01:00\", event: b }\n- { at: +0s, event: c }", file: "e.yaml")
        #expect(events.map { $0.time.resolve(from: t0) } == [
            t0.addingTimeInterval(5400), instant("2026-03-02T11:00:00Z"), t0,
        ])
    }

    @Test func teamsFileBecomesTheDirectoryRoutingSees() throws {
        let directory = try Self.exampleDirectory()
        #expect(directory.teams["sales-emea"]?.members == ["ana", "ben", "chloe", "omar"])
        #expect(directory.members["omar"]?.outOfOfficeUntil == instant("2026-01-06T00:00:00Z"))
        #expect(directory.members["ana"]?.backup == "ben")
        #expect(directory.calendars["emea"]?.timezone == "Europe/Berlin")
    }
}
