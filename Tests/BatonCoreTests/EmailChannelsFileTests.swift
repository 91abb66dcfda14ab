import BatonCore
import Testing

/// Email channels in the channel file, addresses, and the variables a channel names.
@Suite struct EmailChannelsFileTests {
    @Test func parsesEmailChannelsWithDefaults() throws {
        let file = try DefinitionLoader.channels(from: """
            channels:
              - name: mail
                type: email
                host: smtp.example.com
                from: "Baton Alerts <baton@example.com>"
                username_env: SMTP_USER
                password_env: SMTP_PASSWORD
                subject: "Lead {{contact.id}} ({{workflow}}/{{step}})"
              - { name: local, type: email, host: "[::1]", port: 2525, from: baton@localhost, starttls: off, timeout: 10s, ca_file: /etc/ssl/ca.pem }
            """, file: "channels.yaml")
        let mail = file.channels[0]
        #expect(mail.type == .email && mail.timeout == TimeSpan(seconds: 30) && mail.maxAttempts == 8)
        #expect(mail.email == EmailSettings(host: "smtp.example.com", port: 587, from: "Baton Alerts <baton@example.com>",
                                            starttls: .required, usernameEnv: "SMTP_USER", passwordEnv: "SMTP_PASSWORD",
                                            subject: "Lead {{contact.id}} ({{workflow}}/{{step}})"))
        #expect(mail.environmentVariables.map(\.field) == ["username_env", "password_env"])
        let local = file.channels[1]
        #expect(local.email == EmailSettings(host: "::1", port: 2525, from: "baton@localhost", starttls: .off, caFile: "/etc/ssl/ca.pem"))
        #expect(local.timeout == TimeSpan(seconds: 10) && local.environmentVariables.isEmpty)
    }

    @Test func theServerMayComeFromOneURLInAVariable() throws {
        let file = try DefinitionLoader.channels(from: """
            channels:
              - { name: mail, type: email, smtp_url_env: BATON_SMTP_URL, from: baton@example.com }
            """, file: "channels.yaml")
        let mail = file.channels[0]
        #expect(mail.email == EmailSettings(host: "", port: 587, from: "baton@example.com", smtpURLEnv: "BATON_SMTP_URL"))
        #expect(mail.environmentVariables.map(\.field) == ["smtp_url_env"])
        #expect(channelsIssues("""
            channels:
              - { name: a, type: email, smtp_url_env: "smtp://u:p@mail.example.com", from: x@example.com }
              - { name: b, type: email, smtp_url_env: SMTP_URL, host: mail.example.com, username_env: U, password_env: P, from: x@example.com }
            """) == [
            #"channels.yaml:2:43: channels[0].smtp_url_env: "smtp://u:p@mail.example.com" is not an environment variable name (write e.g. BATON_SMTP_URL: the name of the variable that holds smtp://USER:PASSWORD@HOST:PORT, never the URL itself)"#,
            #"channels.yaml:3:53: channels[1].host: "host" comes from the URL in smtp_url_env: give one or the other"#,
            #"channels.yaml:3:77: channels[1].username_env: "username_env" comes from the URL in smtp_url_env: give one or the other"#,
            #"channels.yaml:3:94: channels[1].password_env: "password_env" comes from the URL in smtp_url_env: give one or the other"#,
        ])
    }

    @Test func emailChannelMistakes() {
        #expect(channelsIssues("""
            channels:
              - { name: a, type: email }
              - { name: b, type: email, host: "smtp://mail.example.com", from: "not an address", port: 465 }
              - { name: c, type: email, host: mail.example.com, from: x@example.com, starttls: off, username_env: SMTP_USER }
              - { name: d, type: email, host: mail.example.com, from: x@example.com, url: "https://x.example.com", password_env: "hunter2", username_env: U }
              - { name: e, type: email, host: mail.example.com, from: x@example.com, subject: "{{owner.email}} {{contact.id}}", starttls: sometimes }
              - { name: f, type: webhook, url: "https://x.example.com", host: mail.example.com }
            """) == [
            #"channels.yaml:2:5: channels[0].host: missing required field "host" (the SMTP server, e.g. smtp.example.com; or smtp_url_env)"#,
            #"channels.yaml:2:5: channels[0].from: missing required field "from" (the sender, e.g. "Baton <baton@example.com>")"#,
            #"channels.yaml:3:35: channels[1].host: "smtp://mail.example.com" is not a host name or IP address (write smtp.example.com, without scheme or port: the port goes in port)"#,
            #"channels.yaml:3:68: channels[1].from: "not an address" is not a sender address (write baton@example.com or "Baton <baton@example.com>")"#,
            #"channels.yaml:3:92: channels[1].port: port 465 is SMTPS (TLS from the first byte), which Baton does not speak: use the submission port 587 with STARTTLS"#,
            #"channels.yaml:4:5: channels[2]: give both username_env and password_env (SMTP AUTH needs both), or neither"#,
            #"channels.yaml:4:84: channels[2].starttls: starttls: off only to localhost, 127.0.0.1 or [::1] (use required, or opportunistic)"#,
            #"channels.yaml:5:74: channels[3].url: an email channel takes no "url" (give smtp_url_env, or host, port, and username_env and password_env for SMTP AUTH; and from)"#,
            #"channels.yaml:5:118: channels[3].password_env: "hunter2" is not an environment variable name (write e.g. BATON_SMTP_PASSWORD: the name of the variable that holds the value, never the value itself)"#,
            #"channels.yaml:6:83: channels[4].subject: unknown subject variable "{{owner.email}}"; a subject may use {{workflow}}, {{step}}, {{instance}}, {{contact.id}}, {{recipient.id}}"#,
            #"channels.yaml:6:127: channels[4].starttls: unknown value "sometimes"; one of: required, opportunistic, off"#,
            #"channels.yaml:7:61: channels[5].host: "host" is for email channels"#,
        ])
    }

    @Test func addresses() {
        for good in ["ana@example.com", "a.b+tag@mail.example.co.uk", "baton@localhost", "jörg@beispiel.de"] {
            #expect(MailAddress.isAddress(good), "\(good)")
        }
        for bad in ["", "ana", "@example.com", "ana@", "ana@example", "a b@example.com", "ana@example.com\r\nBcc: x@y.z",
                    "<ana@example.com>", "ana@example.com,bob@example.com", "ana@@example.com", "ana@.example.com", "\"a\"@example.com"] {
            #expect(!MailAddress.isAddress(bad), "\(bad)")
        }
        #expect(MailAddress.parseMailbox("Baton Alerts <baton@example.com>")! == ("Baton Alerts", "baton@example.com"))
        #expect(MailAddress.parseMailbox("baton@example.com")! == (nil, "baton@example.com"))
        #expect(MailAddress.parseMailbox("Evil\r\nBcc: x <baton@example.com>") == nil)
        #expect(MailAddress.parseMailbox("Baton <not-an-address>") == nil)
    }

    @Test func teamFileEmailsAreAddressesBatonCanSendTo() {
        #expect(teamsIssues("""
            teams:
              - name: t
                members:
                  - { id: a, name: A, email: "a@example.com, b@example.com" }
            """) == [#"teams.yaml:4:34: teams[0].members[0].email: "a@example.com, b@example.com" is not an email address (write name@example.com)"#])
    }

    @Test func unsetVariablesAreNamedPerChannelAndField() throws {
        let file = try DefinitionLoader.channels(from: """
            channels:
              - { name: chat, type: slack, url_env: SLACK_URL }
              - { name: hook, type: webhook, url_env: HOOK_URL, secret_env: HOOK_SECRET }
              - { name: hs, type: hubspot, token_env: HS_TOKEN }
              - { name: mail, type: email, host: smtp.example.com, from: b@example.com, username_env: SMTP_USER, password_env: SMTP_PASSWORD }
            """, file: "channels.yaml")
        let unset = UnsetChannelVariable.find(in: file.channels, environment: ["HOOK_URL": "https://x", "SMTP_USER": "u", "HS_TOKEN": ""])
        #expect(unset.map { "\($0.channel) \($0.field) \($0.variable)" } == [
            "chat url_env SLACK_URL", "hook secret_env HOOK_SECRET", "hs token_env HS_TOKEN", "mail password_env SMTP_PASSWORD",
        ])
    }
}
