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
            guard let f = r.fields(node, p, allowed: ["name", "type", "url", "url_env", "secret_env", "timeout", "max_attempts"],
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
            var envOK = true
            for (key, value) in [("url_env", urlEnv), ("secret_env", secretEnv)] {
                guard let value, let node = f[key], !isEnvironmentName(value) else { continue }
                r.issue(node, f.path(key), "\"\(value)\" is not an environment variable name (write e.g. BATON_WEBHOOK_SECRET: "
                        + "the name of the variable that holds the value, never the value itself)")
                envOK = false
            }
            if let type, type != .log {
                if f["url"] == nil, f["url_env"] == nil {
                    r.issue(node, p, "a \(type.rawValue) channel needs \"url\" or \"url_env\" (the environment variable holding the URL)")
                } else if let urlEnvKey = f.keyNode("url_env"), f["url"] != nil {
                    r.issue(urlEnvKey, f.path("url_env"), "give \"url\" or \"url_env\", not both")
                }
            } else if type == .log, let key = f.keyNode("url") ?? f.keyNode("url_env") {
                r.issue(key, f.path(r.key(key) ?? "url"), "a log channel delivers nothing and takes no URL; types: \(types)")
            }
            var timeout = f["timeout"] == nil ? TimeSpan(seconds: 5) : r.duration(f, "timeout")
            if let span = timeout, span.seconds > Channel.maxTimeoutSeconds, let node = f["timeout"] {
                r.issue(node, f.path("timeout"), "a timeout of at most \(TimeSpan(seconds: Channel.maxTimeoutSeconds)) "
                        + "(a delivery in flight holds its outbox row that long)")
                timeout = nil
            }
            let attempts = f["max_attempts"] == nil ? 8 : r.int(f, "max_attempts", minimum: 1)
            guard let name, let type, let timeout, let attempts, envOK,
                  url != nil || f["url"] == nil, urlEnv != nil || f["url_env"] == nil, secretEnv != nil || f["secret_env"] == nil
            else { continue }
            channels.append(Channel(name: name, type: type, url: url, urlEnv: urlEnv, secretEnv: secretEnv,
                                    timeout: timeout, maxAttempts: attempts))
        }
        return ChannelsFile(channels: channels)
    }

    /// `[A-Z_][A-Z0-9_]*`.
    static func isEnvironmentName(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, first == "_" || ("A"..."Z").contains(first) else { return false }
        return text.unicodeScalars.allSatisfy { $0 == "_" || ("A"..."Z").contains($0) || ("0"..."9").contains($0) }
    }
}
