import Yams

extension DefinitionLoader {
    /// A channel file (YAML or JSON): named delivery channels. Secrets are named by environment variable.
    /// - Throws: `DefinitionErrors` listing every mistake in the file.
    public static func channels(from text: String, file: String) throws -> ChannelsFile {
        let r = NodeReader(file: file)
        let channels = readChannelsFile(text, r)
        guard r.issues.isEmpty, let channels else { throw DefinitionErrors(issues: r.issues) }
        return channels
    }

    private static func readChannelsFile(_ text: String, _ r: NodeReader) -> ChannelsFile? {
        guard let root = r.compose(text) else {
            if r.issues.isEmpty { r.issue(line: 1, column: 1, "", "the file is empty; a channel file lists channels") }
            return nil
        }
        guard let top = r.fields(root, "", allowed: ["channels"], expected: "a channel file (a mapping with channels)") else {
            return nil
        }
        var channels: [Channel] = []
        var lines: [String: Int] = [:]
        let types = ChannelType.allCases.map(\.rawValue).joined(separator: ", ")
        for (i, node) in (r.list(top, "channels", required: true, hint: " (a list of channels)") ?? []).enumerated() {
            let p = "channels[\(i)]"
            guard let f = r.fields(node, p, allowed: ["name", "type", "url", "url_env", "secret_env", "timeout", "max_attempts",
                                                        "token_env", "base_url", "instance_url", "object", "rate", "sync_owner", "events"]
                                                        + emailKeys,
                                   expected: "a channel (a mapping with name and type)")
            else { continue }
            var name = r.string(f, "name", required: true)
            if let n = name, let node = f["name"] {
                if n == "log" {
                    r.issue(node, f.path("name"), "\"log\" is built in and always exists; choose another name")
                    name = nil
                } else if let line = lines[n] {
                    r.issue(node, f.path("name"), "duplicate channel \"\(n)\" (first at line \(line))")
                    name = nil
                } else {
                    lines[n] = node.mark?.line ?? 1
                }
            }
            let type = r.choice(f, "type", ChannelType.self, required: true)
            let url = r.string(f, "url")
            if let url, let node = f["url"], !(url.hasPrefix("https://") || url.hasPrefix("http://")) || url.contains(" ") {
                r.issue(node, f.path("url"), "\"\(url)\" is not an http(s) URL (write https://host/path)")
            }
            let urlEnv = r.string(f, "url_env")
            let secretEnv = r.string(f, "secret_env")
            let tokenEnv = r.string(f, "token_env")
            var envOK = true
            for (key, value) in [("url_env", urlEnv), ("secret_env", secretEnv), ("token_env", tokenEnv)] {
                guard let value, let node = f[key], !isEnvironmentName(value) else { continue }
                r.issue(node, f.path(key), "\"\(value)\" is not an environment variable name (write e.g. BATON_WEBHOOK_SECRET: "
                        + "the name of the variable that holds the value, never the value itself)")
                envOK = false
            }
            let crm = type.map { readCRMFields(f, node, p, $0, r) } ?? CRMFields()
            let email = type.map { readEmailFields(f, node, p, $0, r) } ?? (ok: true, settings: nil)
            if let type, type.isCRM {
                for key in ["url", "url_env", "secret_env", "events"] {
                    guard let keyNode = f.keyNode(key) else { continue }
                    r.issue(keyNode, f.path(key), "a \(type.rawValue) channel takes no \"\(key)\" ("
                            + (type == .hubspot ? "give token_env, and base_url only to point at another API host)"
                               : "give token_env, instance_url and object)"))
                }
            } else if let type, type != .log, type != .email {
                if f["url"] == nil, f["url_env"] == nil {
                    r.issue(node, p, "a \(type.rawValue) channel needs \"url\" or \"url_env\" (the environment variable holding the URL)")
                } else if let urlEnvKey = f.keyNode("url_env"), f["url"] != nil {
                    r.issue(urlEnvKey, f.path("url_env"), "give \"url\" or \"url_env\", not both")
                } else if type == .slack, let node = f["url"] {
                    // A Slack incoming-webhook URL is itself the credential: it must not sit in a file.
                    r.issue(node, f.path("url"), "a Slack webhook URL is a secret: put it in an environment variable and "
                            + "name that with url_env (e.g. url_env: BATON_SLACK_WEBHOOK_URL)")
                } else if type == .webhook, f["secret_env"] != nil, let url, let node = f["url"],
                          url.hasPrefix("http://"), !Self.isLoopback(url) {
                    // The signature proves who sent it; only TLS keeps the message and the signed
                    // timestamp from being read and replayed on the way.
                    r.issue(node, f.path("url"), "a signed webhook must use https:// (http:// only to localhost, "
                            + "127.0.0.1 or [::1])")
                }
            } else if type == .log, let key = f.keyNode("url") ?? f.keyNode("url_env") {
                r.issue(key, f.path(r.key(key) ?? "url"), "a log channel delivers nothing and takes no URL; types: \(types)")
            }
            // An SMTP session is several round trips, and TLS: email gets longer by default.
            var timeout = f["timeout"] == nil ? TimeSpan(seconds: type == .email ? 30 : 5) : r.duration(f, "timeout")
            if let span = timeout, span.seconds > Channel.maxTimeoutSeconds, let node = f["timeout"] {
                r.issue(node, f.path("timeout"), "a timeout of at most \(TimeSpan(seconds: Channel.maxTimeoutSeconds)) "
                        + "(a delivery in flight holds its outbox row that long)")
                timeout = nil
            }
            let attempts = f["max_attempts"] == nil ? 8 : r.int(f, "max_attempts", minimum: 1)
            guard let name, let type, let timeout, let attempts, envOK, crm.ok, email.ok,
                  url != nil || f["url"] == nil, urlEnv != nil || f["url_env"] == nil, secretEnv != nil || f["secret_env"] == nil,
                  tokenEnv != nil || f["token_env"] == nil
            else { continue }
            var channel = Channel(name: name, type: type, url: url, urlEnv: urlEnv, secretEnv: secretEnv,
                                  timeout: timeout, maxAttempts: attempts)
            channel.tokenEnv = tokenEnv
            channel.baseURL = crm.baseURL
            channel.instanceURL = crm.instanceURL
            channel.object = crm.object
            channel.rate = crm.rate
            channel.syncOwner = crm.syncOwner
            channel.events = crm.events
            channel.email = email.settings
            channels.append(channel)
        }
        return ChannelsFile(channels: channels)
    }

    /// The fields of CRM channels (and a webhook's `events`), read and checked per type.
    struct CRMFields {
        var ok = true
        var baseURL: String?
        var instanceURL: String?
        var object: String?
        var rate: ChannelRate?
        var syncOwner: Bool?
        var events: [String]?
    }

    /// The HubSpot API's host, unless a channel names another (a proxy, or a fake in tests).
    public static let hubSpotBaseURL = "https://api.hubapi.com"
    /// The events a webhook channel can ask for with `events:`.
    public static let channelEvents = ["owner.changed"]

    private static func readCRMFields(_ f: Fields, _ node: Node, _ p: String, _ type: ChannelType, _ r: NodeReader) -> CRMFields {
        var c = CRMFields()
        let before = r.issues.count
        func httpURL(_ key: String) -> String? {
            guard let url = r.string(f, key), let node = f[key] else { return nil }
            guard (url.hasPrefix("https://") || url.hasPrefix("http://")), !url.contains(" "), !url.contains("?") else {
                r.issue(node, f.path(key), "\"\(url)\" is not an http(s) URL (write https://host)")
                return nil
            }
            return url.hasSuffix("/") ? String(url.dropLast()) : url
        }
        let crmOnly = ["token_env", "base_url", "instance_url", "object", "rate", "sync_owner"]
        switch type {
        case .hubspot, .salesforce:
            if f["token_env"] == nil {
                r.issue(node, p, "a \(type.rawValue) channel needs \"token_env\" (the environment variable holding the API token)")
            }
            c.rate = nil
            if let text = r.string(f, "rate"), let rateNode = f["rate"] {
                c.rate = ChannelRate(parsing: text)
                if c.rate == nil {
                    r.issue(rateNode, f.path("rate"), "bad rate \"\(text)\" (write calls per period, e.g. 100/10s)")
                }
            }
            c.syncOwner = r.bool(f, "sync_owner")
            if type == .hubspot {
                if let keyNode = f.keyNode("instance_url") ?? f.keyNode("object") {
                    r.issue(keyNode, f.path(r.key(keyNode) ?? "object"), "instance_url and object are for salesforce channels")
                }
                c.baseURL = f["base_url"] == nil ? hubSpotBaseURL : httpURL("base_url")
            } else {
                if let keyNode = f.keyNode("base_url") {
                    r.issue(keyNode, f.path("base_url"), "base_url is for hubspot channels; a salesforce channel gives instance_url")
                }
                if f["instance_url"] == nil {
                    r.issue(node, p, "a salesforce channel needs \"instance_url\" (your org's URL, e.g. https://acme.my.salesforce.com)")
                }
                c.instanceURL = httpURL("instance_url")
                if f["object"] == nil {
                    r.issue(node, p, "a salesforce channel needs \"object\": Lead or Contact (what a Baton contact is in Salesforce)")
                } else if let object = r.string(f, "object"), let objectNode = f["object"] {
                    if ["Lead", "Contact"].contains(object) {
                        c.object = object
                    } else {
                        r.issue(objectNode, f.path("object"), "unknown object \"\(object)\"; one of: Lead, Contact")
                    }
                }
            }
        case .webhook, .slack, .log, .email:
            for key in crmOnly where type != .email || key != "token_env" {
                guard let keyNode = f.keyNode(key) else { continue }
                r.issue(keyNode, f.path(key), "\"\(key)\" is for hubspot and salesforce channels")
            }
            if f["events"] != nil {
                if type == .email {
                    // readEmailFields reports it.
                } else if type != .webhook, let keyNode = f.keyNode("events") {
                    r.issue(keyNode, f.path("events"), "only webhook channels take events")
                } else if let items = r.strings(f, "events") {
                    var events: [String] = []
                    for item in items {
                        if channelEvents.contains(item.text) {
                            if !events.contains(item.text) { events.append(item.text) }
                        } else {
                            r.issue(item.node, item.path, "unknown event \"\(item.text)\"; one of: \(channelEvents.joined(separator: ", "))")
                        }
                    }
                    c.events = events
                }
            }
        }
        c.ok = r.issues.count == before
        return c
    }

    /// `[A-Z_][A-Z0-9_]*`.
    static func isEnvironmentName(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, first == "_" || ("A"..."Z").contains(first) else { return false }
        return text.unicodeScalars.allSatisfy { $0 == "_" || ("A"..."Z").contains($0) || ("0"..."9").contains($0) }
    }
}

extension DefinitionLoader {
    /// True for an http(s) URL whose host is localhost, 127.0.0.0/8 or [::1].
    static func isLoopback(_ url: String) -> Bool {
        guard let rest = url.split(separator: "://", maxSplits: 1).dropFirst().first else { return false }
        let authority = rest.split(separator: "/", maxSplits: 1).first.map(String.init) ?? ""
        let hostPort = authority.split(separator: "@").last.map(String.init) ?? authority
        let host: String
        if hostPort.hasPrefix("[") {
            host = String(hostPort.dropFirst().prefix { $0 != "]" })
        } else {
            host = String(hostPort.prefix { $0 != ":" })
        }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        let ipv4Loopback = octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
        return host == "localhost" || host == "::1" || ipv4Loopback
    }
}

