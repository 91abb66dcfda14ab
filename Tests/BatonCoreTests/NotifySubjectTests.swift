import BatonCore
import Testing

/// A notify step's `subject:` (email channels): loaded and checked like its message, refused at
/// file:line:column on a channel that has no subject, rendered with the message's variables.
@Suite struct NotifySubjectTests {
    static func flow(channel: String, subject: String) -> String {
        """
        name: wf
        start: tell
        steps:
          tell:
            notify:
              to: [owner]
              channel: \(channel)
              message: "Lead {{contact.id}} is yours"
              subject: "\(subject)"
            next: done
          done:
            end: {}
        """
    }

    static let known = KnownNames(channels: ["log", "mail", "hooks"], emailChannels: ["mail"])

    @Test func aSubjectOnAnEmailChannelIsKept() throws {
        let definition = try DefinitionLoader.workflow(from: Self.flow(channel: "mail", subject: "New lead {{contact.company}} for {{owner.name}}"),
                                                       file: "wf.yaml", known: Self.known)
        guard case .notify(let notify, _) = definition.step("tell")?.action else {
            Issue.record("not a notify step")
            return
        }
        #expect(notify.subject == "New lead {{contact.company}} for {{owner.name}}")
        #expect(notify.message == "Lead {{contact.id}} is yours")
    }

    @Test func aSubjectOnAnotherChannelIsReportedAtItsLine() {
        #expect(workflowIssues(Self.flow(channel: "hooks", subject: "Hi"), known: Self.known) == [
            "wf.yaml:9:16: steps.tell.notify.subject: only a notify to an email channel has a subject, and channel hooks is not one"
                + " (put the subject's words in the message, or send to an email channel)",
        ])
        #expect(workflowIssues(Self.flow(channel: "log", subject: "Hi")) == [
            "wf.yaml:9:16: steps.tell.notify.subject: only a notify to an email channel has a subject, and channel log is not one"
                + " (put the subject's words in the message, or send to an email channel)",
        ])
        // Without the database's channels (a file checked alone) the type cannot be known: accepted.
        #expect(workflowIssues(Self.flow(channel: "hooks", subject: "Hi")) == [])
    }

    @Test func aSubjectIsCheckedAsATemplate() {
        #expect(workflowIssues(Self.flow(channel: "mail", subject: "{{contact.id}} for {{ownr.name}}"), known: Self.known) == [
            #"wf.yaml:9:16: steps.tell.notify.subject: unknown template variable "{{ownr.name}}" (did you mean "{{owner.name}}"?)"#,
        ])
        #expect(workflowIssues(Self.flow(channel: "mail", subject: "{{#contact.vip}}VIP"), known: Self.known) == [
            "wf.yaml:9:16: steps.tell.notify.subject: not a valid mustache template (check that every {{#section}} is closed by {{/section}})",
        ])
        #expect(workflowIssues(Self.flow(channel: "mail", subject: " "), known: Self.known) == [
            "wf.yaml:9:16: steps.tell.notify.subject: an empty subject; leave subject out to use the channel's own",
        ])
    }
}

extension NotifySubjectTests {
    @Test func simulateShowsTheRenderedSubject() throws {
        let definition = try DefinitionLoader.workflow(from: """
            name: wf
            start: route
            steps:
              route:
                assign: { team: sales-emea, strategy: round_robin }
                next: tell
              tell:
                notify: { to: [owner], channel: mail, message: "Lead {{contact.id}}", subject: "New lead at {{contact.company}}" }
                next: done
              done:
                end: {}
            """, file: "wf.yaml")
        let (trace, text) = try SimulationTests.simulate(
            definition, ContactSnapshot(id: "C-1", attributes: ["company": "Acme"]), at: instant("2026-12-21T10:00:00Z"))
        #expect(trace.steps.flatMap(\.messages).map(\.subject) == ["New lead at Acme"])
        #expect(text.contains("via mail: [subject: New lead at Acme] Lead C-1"), "\(text)")
    }
}
