import BatonCore
import Foundation

/// Email channels: a notify step's message as a plain-text email to the recipient's address, over
/// SMTP (`SMTPClient`). 4xx replies, connection trouble and timeouts are retried with the relay's
/// backoff up to the channel's max_attempts; 5xx replies and configurations the server refuses
/// are dead at once. The password is read from its variable per delivery and never appears in an
/// error, a log line or the outbox.
extension OutboxRelay {
    func deliverEmail(_ message: OutboxMessage, via channel: BatonCore.Channel) async -> Store.DeliveryOutcome {
        guard let settings = channel.email else {
            return .dead("channel \(channel.name) has no SMTP settings: apply its channel file again (batonctl channels apply FILE)")
        }
        guard let sender = MailAddress.parseMailbox(settings.from) else {
            return .dead("channel \(channel.name): from \"\(settings.from)\" is not a sender address")
        }
        let recipient: String
        switch await recipientAddress(message) {
        case .success(let address): recipient = address
        case .failure(let problem): return problem.outcome(self, message, channel)
        }
        var credentials: SMTPClient.Credentials?
        var host = settings.host, port = settings.port
        if let variable = settings.smtpURLEnv {
            guard let text = environment[variable], !text.isEmpty else {
                return retryOrDead(message, maxAttempts: channel.maxAttempts,
                                   error: "the variable \(variable) is not set for channel \(channel.name)", retryAfter: nil)
            }
            switch SMTPServerURL.parse(text, variable: variable) {
            case .failure(let problem):
                return .dead("channel \(channel.name): \(problem.message)")
            case .success(let server):
                host = server.host
                port = server.port
                if let username = server.username, let password = server.password {
                    credentials = .init(username: username, password: password, usernameEnv: variable, passwordEnv: variable)
                }
            }
            if settings.starttls == .off, !HostName.isLoopback(host) {
                return .dead("channel \(channel.name): starttls: off only to localhost, 127.0.0.1 or [::1], and the URL in "
                             + "\(variable) names another host (use starttls: required, or opportunistic)")
            }
        } else if let usernameEnv = settings.usernameEnv, let passwordEnv = settings.passwordEnv {
            for name in [usernameEnv, passwordEnv] where (environment[name] ?? "").isEmpty {
                return retryOrDead(message, maxAttempts: channel.maxAttempts,
                                   error: "the variable \(name) is not set for channel \(channel.name)", retryAfter: nil)
            }
            credentials = .init(username: environment[usernameEnv] ?? "", password: environment[passwordEnv] ?? "",
                                usernameEnv: usernameEnv, passwordEnv: passwordEnv)
        }
        let mail = MailMessage(fromName: sender.name, fromAddress: sender.address, toAddress: recipient,
                               subject: Self.emailSubject(message, template: settings.subject), body: message.message,
                               date: Date(), key: message.key)
        if let refusal = OutboundAllowList.refusal(for: "smtp://\(host.contains(":") ? "[\(host)]" : host)", channel: channel.name,
                                                   environment: environment) {
            return .dead(refusal)
        }
        let client = SMTPClient(host: host, port: port, starttls: settings.starttls, caFile: settings.caFile,
                                credentials: credentials,
                                timeout: .seconds(min(max(1, channel.timeout.seconds), BatonCore.Channel.maxTimeoutSeconds)))
        do {
            try await client.send(from: sender.address, to: recipient, message: mail.bytes)
            return .delivered
        } catch {
            switch error {
            case .transient(let text): return retryOrDead(message, maxAttempts: channel.maxAttempts, error: text, retryAfter: nil)
            case .permanent(let text): return .dead(text)
            }
        }
    }

    /// Why a delivery has no address to go to.
    enum MissingAddress: Error {
        /// The team file gives the member no email (or an unusable one): dead, naming the fix.
        case member(String, String?)
        /// The contact has no `email` attribute.
        case contact(String)
        /// Reading the member failed: try again.
        case database(String)

        func outcome(_ relay: OutboxRelay, _ message: OutboxMessage, _ channel: BatonCore.Channel) -> Store.DeliveryOutcome {
            switch self {
            case .member(let id, nil):
                return .dead("member \(id) has no email: add email: name@example.com to \(id) in the team file, apply it "
                             + "(batonctl teams apply FILE), then batonctl outbox retry \(message.id)")
            case .member(let id, let address?):
                return .dead("member \(id)'s email \"\(MailMessage.oneLine(address).prefix(100))\" is not an address Baton "
                             + "sends to: fix it in the team file, apply it, then batonctl outbox retry \(message.id)")
            case .contact(let id):
                return .dead("contact \(MailMessage.oneLine(id).prefix(100)) has no usable email attribute: set one "
                             + "(batonctl start … --attr email=…), then batonctl outbox retry \(message.id)")
            case .database(let error):
                return relay.retryOrDead(message, maxAttempts: channel.maxAttempts, error: error, retryAfter: nil)
            }
        }
    }

    /// The address to send to: the row's, else (for a member) the team file's as applied now, so
    /// adding a missing email and retrying the delivery works.
    func recipientAddress(_ message: OutboxMessage) async -> Result<String, MissingAddress> {
        let stored = message.recipient_email.flatMap { $0.isEmpty ? nil : $0 }
        guard let recipient = message.recipient, recipient != "contact" else {
            guard let stored, MailAddress.isAddress(stored) else { return .failure(.contact(message.contact ?? "-")) }
            return .success(stored)
        }
        var address = stored
        if address == nil {
            do {
                address = try await store.memberEmail(recipient).email
            } catch {
                return .failure(.database("reading member \(recipient)'s email: \(error)"))
            }
        }
        guard let address, !address.isEmpty else { return .failure(.member(recipient, nil)) }
        guard MailAddress.isAddress(address) else { return .failure(.member(recipient, address)) }
        return .success(address)
    }

    /// The notify step's subject (rendered when the step ran, with the message's variables), else
    /// the channel's subject template rendered with the row's fields, else the message's first line.
    /// Whichever it is, `MailMessage` makes it one line: CR and LF never reach the header.
    static func emailSubject(_ message: OutboxMessage, template: String?) -> String {
        if let subject = message.subject, !subject.trimmingCharacters(in: .whitespaces).isEmpty {
            return subject
        }
        if let template {
            var values: [String: String] = [:]
            values["workflow"] = message.workflow ?? ""
            values["step"] = message.step ?? ""
            values["instance"] = message.instance ?? ""
            values["contact.id"] = message.contact ?? ""
            values["recipient.id"] = message.recipient ?? ""
            let subject = Template.render(template, values)
            if !subject.trimmingCharacters(in: .whitespaces).isEmpty { return subject }
        }
        let firstLine = message.message.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        let trimmed = firstLine.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty { return "Baton: \(message.workflow ?? "notification")" }
        return trimmed.count > 100 ? String(trimmed.prefix(99)) + "…" : trimmed
    }
}
