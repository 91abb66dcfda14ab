import Baton
import BatonCore
import BatonTesting
import Foundation
import Testing

/// A channel whose secret variable is unset is named at `channels apply` and at worker start, and
/// the dead delivery it leads to shows its whole error in `outbox list` and `stuck` (issue 13).
@Suite("Channel variables")
struct ChannelEnvironmentTests {
    static let channels = """
        channels:
          - { name: chat, type: slack, url_env: BATON_TEST_UNSET_SLACK_URL }
          - { name: crm-hook, type: webhook, url: "https://crm.example.com/hooks/baton", secret_env: BATON_TEST_UNSET_HOOK_SECRET }
          - name: mail
            type: email
            host: smtp.example.com
            from: baton@example.com
            username_env: BATON_TEST_SET_SMTP_USER
            password_env: BATON_TEST_UNSET_SMTP_PASSWORD
        """

    static func file(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("baton-chenv-\(UUID().uuidString).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("channels apply warns on standard error, one line per unset variable naming channel and field, and exits 0")
    func applyWarns() async throws {
        let engine = try await Engine.make("chenvapply")
        defer { Task { await engine.close() } }
        let path = try Self.file(Self.channels)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let environment = ["DATABASE_URL": engine.config.urlForChildren, "BATON_TEST_SET_SMTP_USER": "mailer"]
        let both = try await runProgram(try Engine.binary("batonctl"), ["channels", "apply", path], environment: environment)
        #expect(both.status == 0)
        let warnings = both.output.split(separator: "\n").filter { $0.hasPrefix("warning: ") }
        #expect(warnings == [
            "warning: channel chat: url_env BATON_TEST_UNSET_SLACK_URL is not set here; the workers need it, or the channel's deliveries fail",
            "warning: channel crm-hook: secret_env BATON_TEST_UNSET_HOOK_SECRET is not set here; the workers need it, or the channel's deliveries fail",
            "warning: channel mail: password_env BATON_TEST_UNSET_SMTP_PASSWORD is not set here; the workers need it, or the channel's deliveries fail",
        ])
        #expect(both.output.contains("applied 3 channel(s)"))
        #expect(try await engine.scalar("SELECT count(*) FROM channels") == 3)
        // The warnings go to standard error: standard output has only the result.
        let stdout = try await runProgram("/bin/sh", ["-c", "\"$0\" channels apply \"$1\" 2>/dev/null", try Engine.binary("batonctl"), path],
                                          environment: environment)
        #expect(stdout == (0, "applied 3 channel(s)\n"))
    }

    @Test("baton-worker logs one warning per unset channel variable when it starts")
    func workerWarns() async throws {
        let engine = try await Engine.make("chenvworker")
        defer { Task { await engine.close() } }
        _ = try await engine.store.applyChannels(try DefinitionLoader.channels(from: Self.channels, file: "channels.yaml"))
        let result = try await runProgram(try Engine.binary("baton-worker"), ["--until-idle", "--log-format", "json"],
                                          environment: ["DATABASE_URL": engine.config.urlForChildren, "BATON_TEST_SET_SMTP_USER": "mailer"])
        #expect(result.status == 0, "\(result.output)")
        let warnings = result.output.split(separator: "\n").filter { $0.contains("variable is not set") }
        #expect(warnings.count == 3, "\(result.output)")
        for variable in ["BATON_TEST_UNSET_SLACK_URL", "BATON_TEST_UNSET_HOOK_SECRET", "BATON_TEST_UNSET_SMTP_PASSWORD"] {
            #expect(warnings.contains { $0.contains(variable) }, "\(variable) not named: \(warnings)")
        }
        #expect(!result.output.contains("BATON_TEST_SET_SMTP_USER"))
    }

    @Test("outbox list and stuck wrap a long error instead of cutting it: the variable's name stays readable")
    func longErrorsWrap() async throws {
        let variable = "BATON_A_RATHER_LONG_VARIABLE_NAME_FOR_THE_SALES_SLACK_WEBHOOK_URL"
        let engine = try await Engine.make("chenvwrap")
        defer { Task { await engine.close() } }
        _ = try await engine.store.applyChannels(try DefinitionLoader.channels(from: """
            channels:
              - { name: chat, type: slack, url_env: \(variable), max_attempts: 1 }
            """, file: "channels.yaml"))
        let known = try await engine.store.knownNames()
        let flow = """
            name: tell
            start: route
            steps:
              route:
                assign: { team: sales, strategy: round_robin }
                next: say
              say:
                notify: { to: [owner], channel: chat, message: "yours" }
                next: done
              done:
                end: {}
            """
        _ = try await engine.store.applyWorkflow(try DefinitionLoader.workflow(from: flow, file: "tell.yaml", known: known),
                                                 source: flow, file: nil)
        _ = try await engine.start("tell", "C-1")
        try await engine.drain()
        try await OutboxRelay(store: engine.store, configuration: OutboxRelayConfiguration(
            id: "relay", pollInterval: .milliseconds(50), untilIdle: true), environment: [:]).run()
        let error: String = try await engine.scalar("SELECT last_error FROM outbox")
        #expect(error.count > 100 && error.contains(variable))

        func collapsed(_ text: String) -> String {
            text.split(whereSeparator: { $0 == " " || $0 == "\n" }).joined(separator: " ")
        }
        let environment = ["DATABASE_URL": engine.config.urlForChildren]
        let list = try await runProgram(try Engine.binary("batonctl"), ["outbox", "list"], environment: environment)
        #expect(list.status == 0)
        #expect(collapsed(list.output).contains(collapsed(error)), "\(list.output)")
        try await Task.sleep(for: .seconds(2))  // stuck counts what is older than --older-than (at least 1s)
        let stuck = try await runProgram(try Engine.binary("batonctl"), ["stuck", "--older-than", "1s"], environment: environment)
        #expect(stuck.status == 0)
        let detail = try #require(try await engine.store.stuck(olderThan: 0).first?.detail)
        #expect(detail.contains(variable))
        #expect(collapsed(stuck.output).contains(collapsed(detail)), "\(stuck.output)")
        // Wrapped, not one endless line.
        #expect(list.output.split(separator: "\n").allSatisfy { $0.count <= 160 }, "\(list.output)")
    }
}
