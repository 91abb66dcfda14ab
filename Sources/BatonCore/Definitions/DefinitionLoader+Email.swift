import Yams

extension DefinitionLoader {
    /// The fields only an email channel takes.
    static let emailKeys = ["host", "port", "from", "starttls", "username_env", "password_env", "subject", "ca_file",
                            "smtp_url_env"]

    /// The variables an email channel's `subject` template may use: what the outbox row carries.
    static let subjectVariables = ["workflow", "step", "instance", "contact.id", "recipient.id"]

    /// Reads an email channel's fields, or (for other types) reports any email field given.
    /// Returns `(ok, settings)`: ok is false when something was reported.
    static func readEmailFields(_ f: Fields, _ node: Node, _ p: String, _ type: ChannelType, _ r: NodeReader)
        -> (ok: Bool, settings: EmailSettings?) {
        let before = r.issues.count
        guard type == .email else {
            for key in emailKeys {
                guard let keyNode = f.keyNode(key) else { continue }
                r.issue(keyNode, f.path(key), "\"\(key)\" is for email channels")
            }
            return (r.issues.count == before, nil)
        }
        for key in ["url", "url_env", "secret_env", "token_env", "events"] {
            guard let keyNode = f.keyNode(key) else { continue }
            r.issue(keyNode, f.path(key), "an email channel takes no \"\(key)\" (give smtp_url_env, or host, port, and "
                    + "username_env and password_env for SMTP AUTH; and from)")
        }
        // The server as one URL in a variable (it holds the password), or as fields.
        let smtpURLEnv = r.string(f, "smtp_url_env")
        if let value = smtpURLEnv, let valueNode = f["smtp_url_env"], !isEnvironmentName(value) {
            r.issue(valueNode, f.path("smtp_url_env"), "\"\(value)\" is not an environment variable name (write e.g. "
                    + "BATON_SMTP_URL: the name of the variable that holds smtp://USER:PASSWORD@HOST:PORT, never the URL itself)")
        }
        if smtpURLEnv != nil {
            for key in ["host", "port", "username_env", "password_env"] {
                guard let keyNode = f.keyNode(key) else { continue }
                r.issue(keyNode, f.path(key), "\"\(key)\" comes from the URL in smtp_url_env: give one or the other")
            }
        }
        var host = smtpURLEnv != nil ? "" : r.string(f, "host", required: true,
                                                   hint: " (the SMTP server, e.g. smtp.example.com; or smtp_url_env)")
        if smtpURLEnv == nil, let text = host, let hostNode = f["host"] {
            let bare = text.hasPrefix("[") && text.hasSuffix("]") ? String(text.dropFirst().dropLast()) : text
            if !HostName.isValid(bare) {
                r.issue(hostNode, f.path("host"), "\"\(text)\" is not a host name or IP address (write smtp.example.com, "
                        + "without scheme or port: the port goes in port)")
                host = nil
            } else {
                host = bare
            }
        }
        var port: Int? = EmailSettings.defaultPort
        if f["port"] != nil {
            port = r.int(f, "port", minimum: 1)
            if let value = port, let portNode = f["port"] {
                if value > 65535 {
                    r.issue(portNode, f.path("port"), "\(value) is not a port number (1-65535)")
                    port = nil
                } else if value == 465 {
                    r.issue(portNode, f.path("port"), "port 465 is SMTPS (TLS from the first byte), which Baton does not speak: "
                            + "use the submission port 587 with STARTTLS")
                    port = nil
                }
            }
        }
        var from = r.string(f, "from", required: true, hint: " (the sender, e.g. \"Baton <baton@example.com>\")")
        if let text = from, let fromNode = f["from"], MailAddress.parseMailbox(text) == nil {
            r.issue(fromNode, f.path("from"), "\"\(text)\" is not a sender address (write baton@example.com or "
                    + "\"Baton <baton@example.com>\")")
            from = nil
        }
        let starttls = f["starttls"] == nil ? .required : r.choice(f, "starttls", StartTLSMode.self)
        if starttls == .off, smtpURLEnv == nil, let host, !HostName.isLoopback(host), let tlsNode = f["starttls"] {
            // Without TLS the message and the password cross the network readable by anyone on the way.
            r.issue(tlsNode, f.path("starttls"), "starttls: off only to localhost, 127.0.0.1 or [::1] "
                    + "(use required, or opportunistic)")
        }
        let usernameEnv = r.string(f, "username_env")
        let passwordEnv = r.string(f, "password_env")
        for (key, value) in [("username_env", usernameEnv), ("password_env", passwordEnv)] {
            guard let value, let valueNode = f[key], !isEnvironmentName(value) else { continue }
            r.issue(valueNode, f.path(key), "\"\(value)\" is not an environment variable name (write e.g. BATON_SMTP_PASSWORD: "
                    + "the name of the variable that holds the value, never the value itself)")
        }
        if (f["username_env"] == nil) != (f["password_env"] == nil) {
            r.issue(node, p, "give both username_env and password_env (SMTP AUTH needs both), or neither")
        }
        let subject = r.string(f, "subject")
        if let subject, let subjectNode = f["subject"] {
            checkSubject(subject, subjectNode, f.path("subject"), r)
        }
        let caFile = r.string(f, "ca_file")
        guard r.issues.count == before, let host, let port, let from, let starttls else { return (false, nil) }
        return (true, EmailSettings(host: host, port: port, from: from, starttls: starttls, usernameEnv: usernameEnv,
                                    passwordEnv: passwordEnv, subject: subject, caFile: caFile, smtpURLEnv: smtpURLEnv))
    }

    /// A subject template may name only what the outbox row carries.
    private static func checkSubject(_ template: String, _ node: Node, _ p: String, _ r: NodeReader) {
        var rest = template[...]
        while let open = rest.range(of: "{{") {
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                r.issue(node, p, "a \"{{\" is never closed with \"}}\"")
                return
            }
            let name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            rest = rest[close.upperBound...]
            guard !subjectVariables.contains(name) else { continue }
            r.issue(node, p, "unknown subject variable \"{{\(name)}}\"; a subject may use "
                    + subjectVariables.map { "{{\($0)}}" }.joined(separator: ", "))
            return
        }
        if (try? Template.compile(template)) == nil {
            r.issue(node, p, "not a valid mustache template")
        }
    }
}
