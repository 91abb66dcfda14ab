@testable import BatonCore
import Testing

/// Channel files keep secrets out of files and off the wire (issue 11, security): a Slack webhook URL
/// only through url_env; a signed webhook only over https, except to this machine.
@Suite struct ChannelSecretsFileTests {
    @Test func aSlackURLWrittenInTheFileIsRefused() {
        #expect(channelsIssues("""
            channels:
              - { name: chat, type: slack, url: "https://hooks.slack.com/services/T0/B0/XyZ" }
            """) == [
            #"channels.yaml:2:37: channels[0].url: a Slack webhook URL is a secret: put it in an environment variable and name that with url_env (e.g. url_env: BATON_SLACK_WEBHOOK_URL)"#,
        ])
        #expect(channelsIssues("channels:\n  - { name: chat, type: slack, url_env: SLACK_URL }\n").isEmpty)
    }

    @Test func aSignedWebhookNeedsHTTPSExceptToThisMachine() {
        #expect(channelsIssues("""
            channels:
              - { name: crm, type: webhook, url: "http://crm.example.com/hook", secret_env: CRM_SECRET }
            """) == [
            #"channels.yaml:2:38: channels[0].url: a signed webhook must use https:// (http:// only to localhost, 127.0.0.1 or [::1])"#,
        ])
        for url in ["https://crm.example.com/hook", "http://127.0.0.1:8080/hook", "http://localhost/x", "http://[::1]:9/x"] {
            #expect(channelsIssues("channels:\n  - { name: crm, type: webhook, url: \"\(url)\", secret_env: CRM_SECRET }\n").isEmpty, "\(url)")
        }
        // Unsigned, plain http stays allowed (nothing to replay).
        #expect(channelsIssues("channels:\n  - { name: crm, type: webhook, url: \"http://crm.example.com/hook\" }\n").isEmpty)
    }

    @Test func loopbackHosts() {
        #expect(DefinitionLoader.isLoopback("http://127.0.0.1:8080/x"))
        #expect(DefinitionLoader.isLoopback("http://user@localhost/x"))
        #expect(DefinitionLoader.isLoopback("http://[::1]:80"))
        #expect(!DefinitionLoader.isLoopback("http://localhost.evil.example/x"))
        #expect(!DefinitionLoader.isLoopback("http://10.0.0.1/x"))
        #expect(!DefinitionLoader.isLoopback("http://127.0.0.1.evil.example/x"))
    }
}
