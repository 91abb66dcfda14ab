import Baton
import BatonCore
import BatonTesting
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing

/// The email channel against a real SMTP server on loopback (aiosmtpd, scripts/fake-smtp.py):
/// STARTTLS with a certificate made for the test, AUTH, the message as the receiver parses it, and
/// the retry / dead-letter rules.
@Suite("Email channel", .enabled(if: FakeSMTP.python != nil, "aiosmtpd is not installed in .venv (scripts/test installs it)"))
struct EmailChannelTests {
    static let user = "baton-mailer"
    static let password = "s3cret-Pa55word!"
    static let environment = ["SMTP_USER": user, "SMTP_PASSWORD": password]

    static let teams = """
        teams:
          - name: mailers
            kind: sales
            members:
              - { id: ana, name: Ana Ruiz, email: ana@example.com }
          - name: silent
            kind: sales
            members:
              - { id: ned, name: Ned Nomail }
        """

    /// Assigns to `team`, then tells the owner through the `mail` channel (with the notify step's
    /// own `subject` when given).
    static func flow(_ name: String, team: String, message: String, subject: String? = nil) -> String {
        """
        name: \(name)
        start: route
        steps:
          route:
            assign: { team: \(team), strategy: round_robin }
            next: tell
          tell:
            notify: { to: [owner], channel: mail, message: "\(message)"\(subject.map { ", subject: \"\($0)\"" } ?? "") }
            next: done
          done:
            end: {}
        """
    }

    static let message = "Grüße, Ana: lead {{contact.id}} ist deins ✓\\n.hidden starts with a dot\\n.\\nend of message"

    /// An engine with the `mail` channel pointing at `smtp` (or at `port` when no server runs there).
    static func engine(_ label: String, smtp: FakeSMTP?, port: Int? = nil, starttls: String = "required",
                       auth: Bool = true, subject: String? = nil, maxAttempts: Int = 8, timeout: String = "30s",
                       smtpURLEnv: String? = nil, notifySubject: String? = nil) async throws -> Engine {
        let engine = try await Engine.make(label, teams: teams)
        var fields = ["name: mail", "type: email", "from: \"Baton Alerts <baton@example.com>\"", "starttls: \(starttls)",
                      "timeout: \(timeout)", "max_attempts: \(maxAttempts)"]
        if let smtpURLEnv {
            fields.append("smtp_url_env: \(smtpURLEnv)")
        } else {
            fields += ["host: 127.0.0.1", "port: \(port ?? smtp?.port ?? 25)"]
            if auth { fields += ["username_env: SMTP_USER", "password_env: SMTP_PASSWORD"] }
        }
        if let certificate = smtp?.certificate { fields.append("ca_file: \"\(certificate)\"") }
        if let subject { fields.append("subject: \"\(subject)\"") }
        let text = "channels:\n  - " + fields.joined(separator: "\n    ")
        _ = try await engine.store.applyChannels(try DefinitionLoader.channels(from: text, file: "channels.yaml"))
        let known = try await engine.store.knownNames()
        for workflow in [flow("lead", team: "mailers", message: message, subject: notifySubject),
                         flow("orphan", team: "silent", message: "hello")] {
            _ = try await engine.store.applyWorkflow(
                try DefinitionLoader.workflow(from: workflow, file: "workflow.yaml", known: known), source: workflow, file: nil)
        }
        return engine
    }

    static func relay(_ engine: Engine, environment: [String: String] = EmailChannelTests.environment) -> OutboxRelay {
        OutboxRelay(store: engine.store, configuration: OutboxRelayConfiguration(
            id: "relay", lease: .seconds(60), baseBackoff: .milliseconds(50), maxBackoff: .milliseconds(200),
            pollInterval: .milliseconds(50), untilIdle: true, drainLimit: .seconds(120)),
            environment: environment)
    }

    /// The only outbox row: status, attempts, last error.
    static func outcome(_ engine: Engine) async throws -> (status: String, attempts: Int, error: String?) {
        let row = try await engine.rows("SELECT status, attempts, last_error FROM outbox")[0]
        return (try row.decode("status"), try row.decode("attempts"), try row.decode("last_error"))
    }

    @Test("a notification arrives over STARTTLS and AUTH PLAIN as RFC 5322 plain text: headers, UTF-8, dot-stuffed lines")
    func delivers() async throws {
        let smtp = try await FakeSMTP(user: Self.user, password: Self.password)
        let engine = try await Self.engine("emailok", smtp: smtp)
        defer { Task { await engine.close(); await smtp.stop() } }
        _ = try await engine.start("lead", "C-1")
        try await engine.drain()
        try await Self.relay(engine).run()

        #expect(try await Self.outcome(engine).status == "delivered")
        let received = try smtp.messages()
        try #require(received.count == 1)
        let mail = received[0]
        #expect(mail.tls && mail.authenticated)
        #expect(mail.mail_from == "baton@example.com")
        #expect(mail.rcpt_tos == ["ana@example.com"])
        #expect(mail.header("From") == ["Baton Alerts <baton@example.com>"])
        #expect(mail.header("To") == ["ana@example.com"])
        #expect(mail.header("Subject") == ["Grüße, Ana: lead C-1 ist deins ✓"])
        #expect(mail.header("MIME-Version") == ["1.0"])
        #expect(mail.header("Content-Type").first?.hasPrefix("text/plain; charset=") == true)
        #expect(mail.header("Content-Transfer-Encoding") == ["quoted-printable"])
        #expect(mail.header("Auto-Submitted") == ["auto-generated"])
        let date = try #require(mail.header("Date").first)
        #expect(date.range(of: #"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$"#, options: .regularExpression) != nil, "\(date)")
        let messageID = try #require(mail.header("Message-ID").first)
        #expect(messageID.range(of: #"^<baton\.[0-9a-f]{32}@example\.com>$"#, options: .regularExpression) != nil, "\(messageID)")
        // Each line as written: the dot-stuffed ones arrive with their single dot, and the lone "."
        // did not end the message early.
        #expect(mail.body == "Grüße, Ana: lead C-1 ist deins ✓\r\n.hidden starts with a dot\r\n.\r\nend of message\r\n")
        #expect(mail.raw.contains("\r\n.hidden starts with a dot\r\n.\r\nend of message"))
        // Every header line ends in CRLF, none longer than 998 characters.
        let head = try #require(mail.raw.components(separatedBy: "\r\n\r\n").first)
        #expect(!head.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
        #expect(head.components(separatedBy: "\r\n").allSatisfy { $0.utf8.count <= 998 })
    }

    @Test("smtp_url_env: the server, user and password (percent-encoded) come from one URL in a variable")
    func smtpURL() async throws {
        let smtp = try await FakeSMTP(user: Self.user, password: Self.password)
        let engine = try await Self.engine("emailurl", smtp: smtp, smtpURLEnv: "BATON_SMTP_URL")
        defer { Task { await engine.close(); await smtp.stop() } }
        _ = try await engine.start("lead", "C-1")
        try await engine.drain()
        let encoded = Self.password.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let url = "smtp://\(Self.user):\(encoded)@127.0.0.1:\(smtp.port)"
        try await Self.relay(engine, environment: ["BATON_SMTP_URL": url]).run()
        #expect(try await Self.outcome(engine).status == "delivered")
        let mail = try #require(try smtp.messages().first)
        #expect(mail.tls && mail.authenticated)
        #expect(mail.rcpt_tos == ["ana@example.com"])
    }

    @Test("smtp_url_env holding something else, or an smtps:// URL: dead with a line that never repeats the value")
    func smtpURLRefused() async throws {
        for (value, expected) in [("https://user:hunter2-secret@mail.example.com", "does not hold an smtp://USER:PASSWORD@HOST:PORT URL"),
                                  ("smtps://user:hunter2-secret@mail.example.com", "smtps:// URL"),
                                  ("smtp://user@mail.example.com", "without a password")] {
            let engine = try await Self.engine("emailurlbad", smtp: nil, smtpURLEnv: "BATON_SMTP_URL")
            defer { Task { await engine.close() } }
            _ = try await engine.start("lead", "C-1")
            try await engine.drain()
            try await Self.relay(engine, environment: ["BATON_SMTP_URL": value]).run()
            let outcome = try await Self.outcome(engine)
            #expect(outcome.status == "dead", "\(value)")
            #expect(outcome.error?.contains(expected) == true, "\(outcome.error ?? "-")")
            #expect(outcome.error?.contains("hunter2") == false)
            #expect(outcome.error?.contains("BATON_SMTP_URL") == true)
        }
    }

    @Test("AUTH LOGIN when the server offers no PLAIN")
    func authLogin() async throws {
        let smtp = try await FakeSMTP(user: Self.user, password: Self.password, excludeAuth: ["PLAIN"])
        let engine = try await Self.engine("emaillogin", smtp: smtp)
        defer { Task { await engine.close(); await smtp.stop() } }
        _ = try await engine.start("lead", "C-2")
        try await engine.drain()
        try await Self.relay(engine).run()
        #expect(try await Self.outcome(engine).status == "delivered")
        #expect(try smtp.messages().first?.authenticated == true)
    }

    @Test("a wrong password is dead after one attempt (535 is permanent), with an error naming the variables and not the password")
    func wrongPassword() async throws {
        let smtp = try await FakeSMTP(user: Self.user, password: "the-right-one")
        let engine = try await Self.engine("emailauth", smtp: smtp)
        defer { Task { await engine.close(); await smtp.stop() } }
        _ = try await engine.start("lead", "C-3")
        try await engine.drain()
        try await Self.relay(engine).run()
        let outcome = try await Self.outcome(engine)
        #expect(outcome.status == "dead")
        #expect(outcome.attempts == 1)
        let error = try #require(outcome.error)
        #expect(error.contains("SMTP_USER") && error.contains("SMTP_PASSWORD") && error.contains("535"), "\(error)")
        #expect(!error.contains(Self.password))
        #expect(!error.contains(Data(Self.password.utf8).base64EncodedString()))
        #expect(try smtp.messages().isEmpty)
    }

    @Test("an unset password variable is retried, then dead, naming the variable")
    func unsetPassword() async throws {
        let smtp = try await FakeSMTP(user: Self.user, password: Self.password)
        let engine = try await Self.engine("emailnoenv", smtp: smtp, maxAttempts: 2)
        defer { Task { await engine.close(); await smtp.stop() } }
        _ = try await engine.start("lead", "C-4")
        try await engine.drain()
        try await Self.relay(engine, environment: ["SMTP_USER": Self.user]).run()
        let outcome = try await Self.outcome(engine)
        #expect(outcome.status == "dead" && outcome.attempts == 2)
        #expect(outcome.error?.contains("SMTP_PASSWORD is not set for channel mail") == true, "\(outcome.error ?? "")")
    }

    @Test("a server that is down is retried up to max_attempts, then dead")
    func serverDown() async throws {
        let engine = try await Self.engine("emaildown", smtp: nil, port: try freePort(), maxAttempts: 3)
        defer { Task { await engine.close() } }
        _ = try await engine.start("lead", "C-5")
        try await engine.drain()
        try await Self.relay(engine).run()
        let outcome = try await Self.outcome(engine)
        #expect(outcome.status == "dead")
        #expect(outcome.attempts == 3)
        #expect(outcome.error?.hasPrefix("cannot connect to 127.0.0.1:") == true, "\(outcome.error ?? "")")
        #expect(outcome.error?.contains(": Connection refused (after 3 attempts)") == true, "\(outcome.error ?? "")")
    }

    @Test("a server that accepts the connection but never answers is given up after the channel's timeout, and retried")
    func silentServer() async throws {
        // A listening socket nobody accepts from: the connection succeeds (the kernel's backlog),
        // no greeting ever comes.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) == 0 && getsockname(listener, $0, &length) == 0 }
        }
        try #require(bound && listen(listener, 8) == 0)
        let port = Int(UInt16(bigEndian: address.sin_port))
        let engine = try await Self.engine("emailsilent", smtp: nil, port: port, maxAttempts: 2, timeout: "1s")
        defer { Task { await engine.close() } }
        _ = try await engine.start("lead", "C-12")
        try await engine.drain()
        try await Self.relay(engine).run()
        let outcome = try await Self.outcome(engine)
        #expect(outcome.status == "dead" && outcome.attempts == 2)
        #expect(outcome.error?.contains("did not finish the SMTP session within 1") == true, "\(outcome.error ?? "")")
    }

    @Test("a 4xx reply is retried; a 5xx reply is dead at once", arguments: [
        ("451 4.3.0 try again later", "dead", 2), ("550 5.1.1 no such mailbox", "dead", 1),
    ])
    func replies(_ reply: String, _ status: String, _ attempts: Int) async throws {
        let smtp = try await FakeSMTP(user: Self.user, password: Self.password, rcptReply: reply)
        let engine = try await Self.engine("emailreply\(attempts)", smtp: smtp, maxAttempts: 2)
        defer { Task { await engine.close(); await smtp.stop() } }
        _ = try await engine.start("lead", "C-6")
        try await engine.drain()
        try await Self.relay(engine).run()
        let outcome = try await Self.outcome(engine)
        #expect(outcome.status == status)
        #expect(outcome.attempts == attempts)
        #expect(outcome.error?.contains("answered RCPT TO <ana@example.com> with \(reply)") == true, "\(outcome.error ?? "")")
    }

    @Test("starttls: required and a server that offers no STARTTLS: dead with a clear error, nothing sent")
    func startTLSRequired() async throws {
        let smtp = try await FakeSMTP(tls: false)
        let engine = try await Self.engine("emailnotls", smtp: smtp, auth: false)
        defer { Task { await engine.close(); await smtp.stop() } }
        _ = try await engine.start("lead", "C-7")
        try await engine.drain()
        try await Self.relay(engine).run()
        let outcome = try await Self.outcome(engine)
        #expect(outcome.status == "dead" && outcome.attempts == 1)
        #expect(outcome.error?.contains("does not offer STARTTLS, and the channel has starttls: required") == true,
                "\(outcome.error ?? "")")
        #expect(try smtp.messages().isEmpty)
    }

    @Test("starttls: off to loopback sends in plain text")
    func startTLSOff() async throws {
        let smtp = try await FakeSMTP(tls: false)
        let engine = try await Self.engine("emailplain", smtp: smtp, starttls: "off", auth: false)
        defer { Task { await engine.close(); await smtp.stop() } }
        _ = try await engine.start("lead", "C-8")
        try await engine.drain()
        try await Self.relay(engine).run()
        #expect(try await Self.outcome(engine).status == "delivered")
        #expect(try smtp.messages().first?.tls == false)
    }

    @Test("a certificate that does not verify (no ca_file) is dead with the hint to give ca_file")
    func untrustedCertificate() async throws {
        let smtp = try await FakeSMTP(user: Self.user, password: Self.password)
        let engine = try await Self.engine("emailcert", smtp: smtp)
        defer { Task { await engine.close(); await smtp.stop() } }
        // The same channel without ca_file: the self-signed certificate is not trusted.
        let text = """
            channels:
              - { name: mail, type: email, host: 127.0.0.1, port: \(smtp.port), from: baton@example.com,
                  username_env: SMTP_USER, password_env: SMTP_PASSWORD }
            """
        _ = try await engine.store.applyChannels(try DefinitionLoader.channels(from: text, file: "channels.yaml"))
        _ = try await engine.start("lead", "C-9")
        try await engine.drain()
        try await Self.relay(engine).run()
        let outcome = try await Self.outcome(engine)
        #expect(outcome.status == "dead" && outcome.attempts == 1)
        #expect(outcome.error?.contains("its certificate does not verify") == true && outcome.error?.contains("ca_file") == true,
                "\(outcome.error ?? "")")
        #expect(try smtp.messages().isEmpty)
    }

    @Test("a newline in a subject's value cannot add a header: the Bcc stays in the subject, and nobody else gets the mail")
    func headerInjection() async throws {
        let smtp = try await FakeSMTP(user: Self.user, password: Self.password)
        let engine = try await Self.engine("emailinject", smtp: smtp, subject: "Lead {{contact.id}} in {{workflow}}")
        defer { Task { await engine.close(); await smtp.stop() } }
        _ = try await engine.start("lead", "C-10\r\nBcc: evil@example.net\r\nX-Injected: yes")
        try await engine.drain()
        try await Self.relay(engine).run()
        #expect(try await Self.outcome(engine).status == "delivered")
        let mail = try #require(try smtp.messages().first)
        #expect(mail.rcpt_tos == ["ana@example.com"])
        #expect(mail.header("Bcc").isEmpty && mail.header("X-Injected").isEmpty)
        let subject = try #require(mail.header("Subject").first)
        #expect(subject.contains("Bcc: evil@example.net") && subject.contains("X-Injected: yes") && subject.hasSuffix("in lead"),
                "\(subject)")
        #expect(mail.header("Subject").count == 1)
    }

    @Test("a notify step's subject is rendered with the message's variables (attributes, owner, no HTML escaping) and beats the channel's")
    func notifySubject() async throws {
        let smtp = try await FakeSMTP(user: Self.user, password: Self.password)
        let engine = try await Self.engine("emailsubj", smtp: smtp, subject: "Channel subject for {{workflow}}",
                                           notifySubject: "{{owner.name}} owns {{contact.company}} ({{contact.id}}) in {{step}}")
        defer { Task { await engine.close(); await smtp.stop() } }
        _ = try await engine.start("lead", "C-20", ["company": "Acme <GmbH> & Söhne"])
        try await engine.drain()
        try await Self.relay(engine).run()
        #expect(try await Self.outcome(engine).status == "delivered")
        let mail = try #require(try smtp.messages().first)
        #expect(mail.header("Subject") == ["Ana Ruiz owns Acme <GmbH> & Söhne (C-20) in tell"])
        #expect(mail.body?.hasPrefix("Grüße, Ana: lead C-20 ist deins ✓") == true, "the message is unchanged: \(mail.body ?? "")")
        // Erasing the contact clears the subject with the message: it may carry the contact's attributes.
        _ = try await engine.store.eraseContact("C-20", by: "test")
        let erased = try await engine.rows("SELECT message, subject FROM outbox")[0]
        #expect(try erased.decode(String.self, "message") == "[erased]" && erased.decode(String?.self, "subject") == nil)
    }

    @Test("a newline in an attribute a notify step's subject names cannot add a header")
    func notifySubjectHeaderInjection() async throws {
        let smtp = try await FakeSMTP(user: Self.user, password: Self.password)
        let engine = try await Self.engine("emailsubjinj", smtp: smtp, notifySubject: "New lead: {{contact.company}}")
        defer { Task { await engine.close(); await smtp.stop() } }
        _ = try await engine.start("lead", "C-21", ["company": "Acme\r\nBcc: evil@example.net\nX-Injected: yes"])
        try await engine.drain()
        try await Self.relay(engine).run()
        #expect(try await Self.outcome(engine).status == "delivered")
        let mail = try #require(try smtp.messages().first)
        #expect(mail.rcpt_tos == ["ana@example.com"])
        #expect(mail.header("Bcc").isEmpty && mail.header("X-Injected").isEmpty)
        #expect(mail.header("Subject") == ["New lead: Acme  Bcc: evil@example.net X-Injected: yes"], "\(mail.header("Subject"))")
    }

    @Test("a member without an email makes a dead delivery naming the member and the team file; adding it and retrying sends")
    func memberWithoutEmail() async throws {
        let smtp = try await FakeSMTP(user: Self.user, password: Self.password)
        let engine = try await Self.engine("emailnone", smtp: smtp)
        defer { Task { await engine.close(); await smtp.stop() } }
        _ = try await engine.start("orphan", "C-11")
        try await engine.drain()
        try await Self.relay(engine).run()
        let outcome = try await Self.outcome(engine)
        #expect(outcome.status == "dead" && outcome.attempts == 1)
        let error = try #require(outcome.error)
        #expect(error.contains("member ned has no email") && error.contains("team file") && error.contains("batonctl outbox retry"),
                "\(error)")
        _ = try await engine.store.applyTeams(try DefinitionLoader.teams(
            from: Self.teams.replacingOccurrences(of: "Ned Nomail }", with: "Ned Nomail, email: ned@example.com }"),
            file: "teams.yaml"))
        _ = try await engine.store.retryOutbox(id: nil)
        try await Self.relay(engine).run()
        #expect(try await Self.outcome(engine).status == "delivered")
        #expect(try smtp.messages().first?.rcpt_tos == ["ned@example.com"])
    }
}
