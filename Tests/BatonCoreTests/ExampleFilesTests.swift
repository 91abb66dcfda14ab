import BatonCore
import Foundation
import Testing

/// The files in `examples/` load cleanly, and against each other's names.
@Suite struct ExampleFilesTests {
    @Test func teamsFileLoads() throws {
        let file = try DefinitionLoader.teams(from: example("teams.yaml"), file: "examples/teams.yaml")
        #expect(file.calendars.map(\.name) == ["emea"])
        #expect(file.calendars.first?.hours[1] == [MinuteRange(start: 540, end: 1020)])
        #expect(file.calendars.first?.hours[5] == [MinuteRange(start: 540, end: 960)])
        #expect(file.calendars.first?.hours[6] == nil)
        #expect(file.teams.map(\.name) == ["sales-emea", "sales-dach", "sales-leads", "retention"])
        #expect(file.lifecycle == Lifecycle.defaultStages)
        #expect((file.teams.first?.members.count ?? 0) >= 3)
    }

    @Test func channelsFileLoads() throws {
        let file = try DefinitionLoader.channels(from: example("channels.yaml"), file: "examples/channels.yaml")
        #expect(file.channels == [
            Channel(name: "sales-webhook", type: .webhook, url: "https://crm.example.com/hooks/baton",
                    secretEnv: "BATON_SALES_WEBHOOK_SECRET", timeout: TimeSpan(seconds: 5), maxAttempts: 8),
            Channel(name: "sales-slack", type: .slack, urlEnv: "BATON_SLACK_WEBHOOK_URL"),
            {
                var email = Channel(name: "sales-email", type: .email, timeout: TimeSpan(seconds: 30))
                email.email = EmailSettings(host: "smtp.example.com", from: "Baton <baton@example.com>", usernameEnv: "BATON_SMTP_USER",
                                            passwordEnv: "BATON_SMTP_PASSWORD", subject: "Lead {{contact.id}}: {{step}}")
                return email
            }(),
        ])
    }

    @Test func schedulesFileLoadsAgainstTheExampleChannels() throws {
        let channels = try DefinitionLoader.channels(from: example("channels.yaml"), file: "examples/channels.yaml")
        let file = try DefinitionLoader.schedules(
            from: example("schedules.yaml"), file: "examples/schedules.yaml",
            known: KnownNames(channels: Set(channels.channels.map(\.name))))
        #expect(file.schedules == [Schedule(
            name: "weekly-exceptions", cron: "0 8 * * mon", timezone: "Europe/Berlin", action: .exceptionReport,
            channel: "sales-slack", staleDays: 14, volumeMultiple: 3, queuedLongerThan: TimeSpan(seconds: 3600))])
    }

    @Test(arguments: ["inbound-lead.yaml", "demo-lead.yaml", "retention-save.yaml"])
    func workflowLoadsAgainstTheExampleNames(name: String) throws {
        #expect(workflowIssues(try example(name), file: "examples/\(name)", known: try exampleKnownNames()) == [])
    }

    @Test func inboundLeadUsesEveryStepKind() throws {
        let wf = try DefinitionLoader.workflow(from: example("inbound-lead.yaml"), file: "inbound-lead.yaml")
        #expect(Set(wf.steps.map(\.action.kind)) == ["assign", "notify", "branch", "wait_for_sla", "escalate", "handoff", "goto", "end"])
    }

    @Test func contactFilesHaveAContactAndAttributesPerLine() throws {
        let lines = try example("contacts.jsonl").split(separator: "\n")
        #expect(lines.count >= 10)
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["contact"] is String)
            #expect(object?["attributes"] is [String: Any])
        }
        let rows = try example("contacts.csv").split(separator: "\n")
        #expect(rows.first?.split(separator: ",").first == "contact")
        #expect(rows.count >= 11)
    }
}
