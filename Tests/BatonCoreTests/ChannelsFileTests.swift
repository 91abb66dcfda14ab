import BatonCore
import Testing

/// Channel files: what a right one parses into, and the exact lines for mistakes.
@Suite struct ChannelsFileTests {
    @Test func parsesChannelsWithDefaults() throws {
        let file = try DefinitionLoader.channels(from: """
            channels:
              - { name: hook, type: webhook, url: "http://localhost:9000/hook", secret_env: HOOK_SECRET, timeout: 1m30s, max_attempts: 3 }
              - { name: chat, type: slack, url_env: SLACK_URL }
              - { name: audit, type: log }
            """, file: "channels.yaml")
        #expect(file.channels == [
            Channel(name: "hook", type: .webhook, url: "http://localhost:9000/hook", secretEnv: "HOOK_SECRET",
                    timeout: TimeSpan(seconds: 90), maxAttempts: 3),
            Channel(name: "chat", type: .slack, urlEnv: "SLACK_URL", timeout: TimeSpan(seconds: 5), maxAttempts: 8),
            Channel(name: "audit", type: .log),
        ])
    }

    /// A delivery in flight holds its outbox row for its channel's timeout (plus a margin): at most 10 minutes.
    @Test func aTimeoutLongerThanTenMinutesIsRefused() {
        #expect(channelsIssues("""
            channels:
              - { name: slow, type: webhook, url: "http://localhost/x", timeout: 11m }
              - { name: ok, type: webhook, url: "http://localhost/y", timeout: 10m }
            """) == [#"channels.yaml:2:70: channels[0].timeout: a timeout of at most 10m (a delivery in flight holds its outbox row that long)"#])
    }

    @Test func channelMistakes() {
        #expect(channelsIssues("""
            channels:
              - name: log
                type: log
              - name: hook
                type: webhok
              - name: hook
                type: webhook
                url: crm.example.com/hook
                secret_env: s3cr3t-value
                timeout: soon
                max_attempts: 0
              - name: chat
                type: slack
              - name: chat2
                type: slack
                url: https://hooks.example.com/x
                url_env: SLACK_URL
                retries: 3
              - type: webhook
                url_env: lower_case
            """) == [
            #"channels.yaml:2:11: channels[0].name: "log" is built in and always exists; choose another name"#,
            #"channels.yaml:5:11: channels[1].type: unknown value "webhok" (did you mean "webhook"?); one of: webhook, slack, log, hubspot, salesforce, email"#,
            #"channels.yaml:6:11: channels[2].name: duplicate channel "hook" (first at line 4)"#,
            #"channels.yaml:8:10: channels[2].url: "crm.example.com/hook" is not an http(s) URL (write https://host/path)"#,
            #"channels.yaml:9:17: channels[2].secret_env: "s3cr3t-value" is not an environment variable name (write e.g. BATON_WEBHOOK_SECRET: the name of the variable that holds the value, never the value itself)"#,
            #"channels.yaml:10:14: channels[2].timeout: bad duration "soon" (write a number and a unit: 90s, 15m, 4h, 3d)"#,
            #"channels.yaml:11:19: channels[2].max_attempts: expected a whole number greater than 0, found "0""#,
            #"channels.yaml:12:5: channels[3]: a slack channel needs "url" or "url_env" (the environment variable holding the URL)"#,
            #"channels.yaml:17:5: channels[4].url_env: give "url" or "url_env", not both"#,
            #"channels.yaml:18:5: channels[4].retries: unknown key "retries""#,
            #"channels.yaml:19:5: channels[5].name: missing required field "name""#,
            #"channels.yaml:20:14: channels[5].url_env: "lower_case" is not an environment variable name (write e.g. BATON_WEBHOOK_SECRET: the name of the variable that holds the value, never the value itself)"#,
        ])
    }

    @Test func shapeMistakes() {
        #expect(channelsIssues("chanels: []\n") == [
            #"channels.yaml:1:1: chanels: unknown key "chanels" (did you mean "channels"?)"#,
            #"channels.yaml:1:1: channels: missing required field "channels" (a list of channels)"#,
        ])
        #expect(channelsIssues("channels:\n  - just-a-name\n") == [
            #"channels.yaml:2:5: channels[0]: expected a channel (a mapping with name and type), found "just-a-name""#,
        ])
        #expect(channelsIssues("channels: []\n") == [])
    }
}
