import CLibPQ
import Foundation

/// Where and how to connect: a libpq URL (`postgresql://user:pass@host:5432/db?sslmode=disable`) or
/// key/value string (`host=… dbname=…`), validated when made.
///
/// The string itself stays private: `description`, `endpoint` and every error show host, port,
/// database and user, never the password.
public struct ConnectionConfig: Sendable, CustomStringConvertible {
    let connectionString: String
    /// How long a connect may take before it fails (libpq's `connect_timeout`; at least 2 s).
    public var connectTimeoutSeconds: Int
    /// Reported to the server as `application_name` when the string does not set one.
    public var applicationName: String
    /// Statement, lock and idle-transaction limits and TCP liveness checks for every connection.
    public var timeouts: SessionTimeouts = .default
    /// Direct to the server, or through a pooler in transaction mode (see `Pooling`).
    public var pooling: Pooling = .direct
    /// Host (or socket directory), port, database and user as libpq resolves them, for messages.
    public let host: String
    public let port: String
    public private(set) var database: String
    public let user: String
    /// libpq's `sslmode` for this connection: the string's, else `PGSSLMODE`, else `prefer`.
    public let sslMode: String
    /// `hostaddr` when the string (or `PGHOSTADDR`) sets one: where libpq connects, `host` then
    /// being only the name the certificate must carry.
    let hostAddress: String?
    /// Refuse to connect to a host that is not this machine below `sslmode=verify-full` instead of
    /// warning; on when `BATON_REQUIRE_VERIFIED_TLS` is `1`, `true` or `yes` (see `tlsWarning`).
    public var requireVerifiedTLS: Bool
    private let setsConnectTimeout: Bool
    private let setsApplicationName: Bool
    /// libpq keywords the string sets itself; ours never override them.
    private let setKeywords: Set<String>
    /// The string's own `options` (server settings at startup), kept after ours so they win.
    private let userOptions: String?

    /// Parses and checks a libpq connection string; an empty string means "libpq's `PG*` variables".
    public init(_ string: String, connectTimeoutSeconds: Int = 5, applicationName: String = "baton") throws {
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(string, &errorMessage) else {
            var reason = "not a valid libpq URL or key=value string"
            if let errorMessage {
                reason = Redact.secrets(in: String(cString: errorMessage)).trimmingCharacters(in: .whitespacesAndNewlines)
                PQfreemem(errorMessage)
            }
            throw PostgresError(.invalidConfiguration, "bad database URL: \(reason)")
        }
        defer { PQconninfoFree(options) }
        var values: [String: String] = [:]
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val { values[String(cString: keyword)] = String(cString: value) }
            option += 1
        }
        let environment = ProcessInfo.processInfo.environment
        func resolved(_ key: String, _ env: String, _ fallback: String) -> String {
            if let value = values[key], !value.isEmpty { return value }
            if let value = environment[env], !value.isEmpty { return value }
            return fallback
        }
        let osUser = environment["USER"] ?? "postgres"
        self.connectionString = string
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.applicationName = applicationName
        self.host = resolved("host", "PGHOST", resolved("hostaddr", "PGHOSTADDR", "/var/run/postgresql"))
        self.port = resolved("port", "PGPORT", "5432")
        self.user = resolved("user", "PGUSER", osUser)
        self.database = resolved("dbname", "PGDATABASE", self.user)
        self.sslMode = resolved("sslmode", "PGSSLMODE", "prefer")
        let address = resolved("hostaddr", "PGHOSTADDR", "")
        self.hostAddress = address.isEmpty ? nil : address
        self.requireVerifiedTLS = ["1", "true", "yes"].contains(environment["BATON_REQUIRE_VERIFIED_TLS"]?.lowercased() ?? "")
        self.setsConnectTimeout = values["connect_timeout"] != nil
        self.setsApplicationName = values["application_name"] != nil
        self.setKeywords = Set(values.keys)
        self.userOptions = values["options"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The database named by `url`, else `DATABASE_URL`, else libpq's own `PG*` variables.
    public static func fromEnvironment(url: String? = nil, applicationName: String = "baton") throws -> ConnectionConfig {
        if let url, !url.isEmpty { return try ConnectionConfig(url, applicationName: applicationName) }
        if let url = ProcessInfo.processInfo.environment["DATABASE_URL"], !url.isEmpty {
            return try ConnectionConfig(url, applicationName: applicationName)
        }
        return try ConnectionConfig("", applicationName: applicationName)
    }

    /// The same server and credentials with another database name.
    public func with(database name: String) -> ConnectionConfig {
        var copy = self
        copy.overrides.append(("dbname", name))
        copy.database = name
        return copy
    }

    private var overrides: [(String, String)] = []

    /// `host:port/database` (or `socket-dir:port/database`), safe to print.
    public var endpoint: String { "\(host):\(port)/\(database)" }

    public var description: String { "postgresql://\(user)@\(endpoint)" }

    /// Keyword/value pairs for `PQconnectdbParams` with `expand_dbname`: the string first, then
    /// our defaults for what it leaves unset, then explicit overrides.
    func keywordValuePairs() -> [(String, String)] {
        var pairs: [(String, String)] = [("dbname", connectionString)]
        if !setsConnectTimeout { pairs.append(("connect_timeout", String(max(2, connectTimeoutSeconds)))) }
        if !setsApplicationName { pairs.append(("application_name", applicationName)) }
        for (keyword, value) in timeouts.libpqKeywords() where !setKeywords.contains(keyword) {
            pairs.append((keyword, value))
        }
        // Through a transaction pooler the limits are set per transaction instead (see `Pooling`).
        let serverOptions = pooling == .direct ? timeouts.serverOptions() : nil
        let options = [serverOptions, userOptions].compactMap { $0 }.joined(separator: " ")
        if !options.isEmpty { pairs.append(("options", options)) }
        pairs += overrides
        return pairs
    }
}

/// Removes passwords from text that may quote a connection string (libpq's parse errors can).
enum Redact {
    static func secrets(in text: String) -> String {
        var result = text
        // key=value form: password=secret or password='se cret'
        result = result.replacingOccurrences(
            of: #"password\s*=\s*('([^'\\]|\\.)*'|\S+)"#, with: "password=***", options: .regularExpression)
        // URL form: scheme://user:secret@host
        result = result.replacingOccurrences(
            of: #"(postgres(ql)?://[^:/@\s]*):[^@\s]*@"#, with: "$1:***@", options: .regularExpression)
        return result
    }
}
