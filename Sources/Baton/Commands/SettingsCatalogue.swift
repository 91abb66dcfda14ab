import Foundation
import Postgres

/// Every setting of baton-worker and baton-server in one place: key, default and check. The
/// executables' flags carry the same names (`--batch-size` is `batch_size` and `BATON_BATCH_SIZE`).
public enum SettingsCatalogue {
    static let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    /// Settings both programs have.
    static let common: [Setting] = [
        Setting("database_url", unset: "libpq's PG* variables", environment: ["DATABASE_URL"], secret: true),
        Setting("database_url_file"),
        Setting("pooler", default: "none") { Pooling(name: $0) == nil ? "none or pgbouncer" : nil },
        .choice("log_level", default: "info", levels),
        .choice("log_format", unset: "json unless standard error is a terminal", ["json", "text"]),
    ]

    /// batonctl's settings: where the database is and how to reach it. It connects for one command
    /// and never LISTENs, so the file's other keys (listen_url, timeouts, logging) are not its own.
    public static let client: [Setting] = common.filter { ["database_url", "database_url_file", "pooler"].contains($0.key) }

    /// baton-worker's settings.
    public static let worker: [Setting] = common + [
        Setting("listen_url", unset: "the database URL", secret: true),
        Setting("id", unset: "host-pid"),
        .number("concurrency", default: 2, minimum: 1),
        .number("batch_size", default: 50, minimum: 1),
        .duration("poll_interval", default: "1s"),
        .duration("lease", default: "10s"),
        .toggle("until_idle"),
        .toggle("only_outbox"),
        .toggle("no_outbox"),
        .toggle("no_schedules"),
        .duration("outbox_backoff", default: "1s"),
        .duration("outbox_lease", default: "30s"),
        .duration("channels_refresh", default: "5s"),
        .duration("connect_timeout", default: "30s"),
        .duration("drain_limit", default: "30s"),
        .number("metrics_port", unset: "off", minimum: 1, maximum: 65535),
        Setting("metrics_host", default: "0.0.0.0"),
    ]

    /// baton-server's settings.
    public static let server: [Setting] = common + [
        Setting("listen", default: "127.0.0.1:8080") { listenAddress($0) == nil ? "give HOST:PORT, e.g. 127.0.0.1:8080" : nil },
        Setting("public_url", unset: "http://<listen>"),
        .number("pool_size", default: 10, minimum: 1),
        .number("max_body_bytes", default: 10 * 1024 * 1024, minimum: 1024),
        .number("max_attribute_bytes", default: 64 * 1024, minimum: 1),
        Setting("openapi", unset: "the built-in copy"),
    ]

    /// The keys of both programs: a file may hold any of them.
    public static var allKeys: [String] { (worker + server).map(\.key) }
}

/// `HOST:PORT` (`[::1]:8080`, `:8080` for every address) as host and port; nil when it is not that.
public func listenAddress(_ text: String) -> (host: String, port: Int)? {
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
        return nil
    }
    var host = String(text[..<colon])
    if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    if host.isEmpty { host = "0.0.0.0" }
    return (host, port)
}
