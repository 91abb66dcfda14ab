@testable import BatonCore
import Foundation
import Testing

private func wait(_ body: String) -> String {
    """
    name: wf
    start: reply
    steps:
      reply:
        wait_for_sla: \(body)
        on_met: done
        on_breach: done
      done:
        end: {}
    """
}

/// `pause_on` / `resume_on` in workflow files, and simulating them.
@Suite struct SLAPauseFileTests {
    @Test func pauseAndResumeEventsAreRead() throws {
        let wf = try DefinitionLoader.workflow(
            from: wait("{ event: agent_replied, within: 1h, pause_on: [waiting_on_customer, on_hold], resume_on: customer_replied }"),
            file: "wf.yaml")
        #expect(wf.step("reply")?.action == .waitForSLA(
            WaitForSLA(event: "agent_replied", within: TimeSpan(seconds: 3600), pauseOn: ["waiting_on_customer", "on_hold"],
                       resumeOn: ["customer_replied"]), onMet: "done", onBreach: "done"))
    }

    @Test func aWaitWithoutPausesEncodesAsBefore() throws {
        let data = try JSONEncoder().encode(WaitForSLA(event: "x", within: TimeSpan(seconds: 60)))
        #expect(String(decoding: data, as: UTF8.self).contains("pause") == false)
        let decoded = try JSONDecoder().decode(WaitForSLA.self, from: Data(#"{"event":"x","within":"1m","clock":"wall"}"#.utf8))
        #expect(decoded.pauseOn == nil)
        #expect(decoded.pauseEvents.isEmpty)
    }

    @Test func anEventBothInPauseOnAndResumeOnIsAnError() {
        #expect(workflowIssues(wait("{ event: agent_replied, within: 1h, pause_on: [hold], resume_on: [hold, back] }")) == [
            #"wf.yaml:5:85: steps.reply.wait_for_sla.resume_on[0]: event "hold" is also in pause_on; an event can stop the clock, start it again or meet the wait, only one of them"#,
        ])
    }

    @Test func theWaitsOwnEventInPauseOnIsAnError() {
        #expect(workflowIssues(wait("{ event: agent_replied, within: 1h, pause_on: [agent_replied], resume_on: [back] }")) == [
            #"wf.yaml:5:66: steps.reply.wait_for_sla.pause_on[0]: event "agent_replied" is the event this wait is met by; an event can stop the clock, start it again or meet the wait, only one of them"#,
        ])
    }

    @Test func pauseOnWithoutResumeOnIsAnError() {
        #expect(workflowIssues(wait("{ event: agent_replied, within: 1h, pause_on: [hold] }")) == [
            #"wf.yaml:5:19: steps.reply.wait_for_sla.resume_on: missing required field "resume_on" (pause_on stops the clock; name the events that start it again, e.g. resume_on: [customer_replied])"#,
        ])
    }

    @Test func resumeOnWithoutPauseOnIsAnError() {
        #expect(workflowIssues(wait("{ event: agent_replied, within: 1h, resume_on: [back] }")) == [
            #"wf.yaml:5:55: steps.reply.wait_for_sla.resume_on: resume_on without pause_on: nothing ever stops the clock (add pause_on: [EVENT])"#,
        ])
    }

    @Test func anEventTwiceInOneListIsAnError() {
        #expect(workflowIssues(wait("{ event: a, within: 1h, pause_on: [hold, hold], resume_on: [back] }")).count == 1)
    }

    @Test func simulateHonoursPausesFromTheEventsFile() throws {
        let wf = try DefinitionLoader.workflow(
            from: wait("{ event: agent_replied, within: 1h, pause_on: [waiting_on_customer], resume_on: [customer_replied] }"),
            file: "wf.yaml")
        let events = try DefinitionLoader.simulationEvents(from: """
            - { at: +30m, event: waiting_on_customer }
            - { at: +5h, event: customer_replied }
            - { at: +5h20m, event: agent_replied }
            """, file: "events.yaml")
        var directory = Directory()
        var rotation = Rotation()
        let trace = Simulator(definition: wf).run(contact: ContactSnapshot(id: "C-1"), start: t0, events: events,
                                                  directory: &directory, rotation: &rotation)
        #expect(trace.steps.map(\.outcome) == ["waiting", "paused", "resumed", "sla_met", "completed"])
        #expect(trace.result.breaches.isEmpty)
        #expect(trace.result.met == ["reply"])
        #expect(trace.steps[2].at == t0.addingTimeInterval(5 * 3600))
        let text = SimulationReport.text(trace, directory: directory)
        #expect(text.contains("paused: waiting_on_customer stops the clock, 30m left"))
        #expect(text.contains("resumed: customer_replied after 4h30m paused; deadline moves to 2026-03-02T15:30:00Z"))
    }

    @Test func simulateWithoutAResumeStopsPausedAndNeverBreaches() throws {
        let wf = try DefinitionLoader.workflow(
            from: wait("{ event: agent_replied, within: 1h, pause_on: [waiting_on_customer], resume_on: [customer_replied] }"),
            file: "wf.yaml")
        var directory = Directory()
        var rotation = Rotation()
        let trace = Simulator(definition: wf).run(
            contact: ContactSnapshot(id: "C-1"), start: t0, events: [SimulationEvent(time: .after(TimeSpan(seconds: 600)),
                                                                                      event: "waiting_on_customer")],
            directory: &directory, rotation: &rotation)
        #expect(trace.result.state == "waiting")
        #expect(trace.result.breaches.isEmpty)
        #expect(trace.result.note?.contains("paused") == true)
    }
}
