import Foundation

/// The hosts deliveries may reach: `BATON_OUTBOUND_HOSTS`, a comma-separated list of host names
/// or addresses (`hooks.slack.com`, `10.0.0.7`, `::1`) and wildcards (`*.example.com`: any name
/// under example.com, not example.com itself), matched without regard to case. Unset or empty:
/// every host is allowed. Webhook, Slack and CRM deliveries ask it before they send; a refused one
/// is dead at once with a line naming the host (never the URL's path or query, which can hold a
/// token).
public struct OutboundAllowList: Sendable, Equatable {
    /// The environment variable that holds the list.
    public static let variable = "BATON_OUTBOUND_HOSTS"

    /// Exact hosts and wildcard suffixes (".example.com" for "*.example.com"), lowercased.
    private let exact: Set<String>
    private let suffixes: [String]

    /// The list in `list`; nil when it names no host (every host is allowed).
    public init?(_ list: String) {
        let entries = list.split(separator: ",").map { Self.normalized(String($0)) }.filter { !$0.isEmpty }
        if entries.isEmpty { return nil }
        exact = Set(entries.filter { !$0.hasPrefix("*.") })
        suffixes = entries.filter { $0.hasPrefix("*.") }.map { String($0.dropFirst()) }
    }

    /// The list in `environment[BATON_OUTBOUND_HOSTS]`; nil when unset or empty.
    public init?(environment: [String: String]) {
        guard let list = environment[Self.variable] else { return nil }
        self.init(list)
    }

    /// Whether a delivery may go to `host`.
    public func allows(host: String) -> Bool {
        let host = Self.normalized(host)
        return exact.contains(host) || suffixes.contains { host.hasSuffix($0) && host.count > $0.count }
    }

    /// Nil when `url` may be called, else why not, in one line without the URL's path or query.
    public func refusal(for url: String) -> String? {
        guard let host = URLComponents(string: url)?.host, !host.isEmpty else {
            return "the delivery URL has no host, so it cannot be checked against \(Self.variable)"
        }
        if allows(host: host) { return nil }
        return "host \(Self.normalized(host)) is not in \(Self.variable): delivery refused"
    }

    /// Lowercased, trimmed, without IPv6 brackets or a trailing dot.
    private static func normalized(_ host: String) -> String {
        var text = host.trimmingCharacters(in: .whitespaces).lowercased()
        if text.hasPrefix("["), text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }
}

extension OutboundAllowList {
    /// What `deliver` asks: nil when the environment allows `url` (or has no list), else the line
    /// a dead delivery records.
    static func refusal(for url: String, channel: String, environment: [String: String]) -> String? {
        OutboundAllowList(environment: environment)?.refusal(for: url).map { "\($0) (channel \(channel))" }
    }
}
