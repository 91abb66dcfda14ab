import CLibPQ

/// How connections reach the server.
///
/// `.direct`: each connection is one server session. Statements are prepared once per connection
/// by name, and the session settings (`SessionTimeouts`) travel in the startup packet.
///
/// `.transactionPooler`: through a pooler in transaction mode (PgBouncer `pool_mode = transaction`),
/// which lends a server session for one transaction at a time, so nothing may outlive a
/// transaction: statements run unnamed (no `PQprepare`; PgBouncer 1.18 cannot route named
/// prepared statements), and the statement, lock and idle-transaction limits are set with
/// `set_config(…, true)` (`SET LOCAL`) at the start of every transaction — for a statement outside
/// a transaction, in the same implicit transaction, sent with it in one round trip. No startup
/// `options` are sent (PgBouncer refuses them). `TimeZone` and `DateStyle`, set once per
/// connection, are among the parameters PgBouncer tracks per client and restores on whichever
/// server session it lends. LISTEN needs a direct connection: `notifications(listeningTo:)` refuses
/// a pooled one.
public enum Pooling: String, Sendable, CaseIterable {
    case direct
    case transactionPooler

    /// Parses the names operators use: `none` or `direct`, and `pgbouncer` or `transaction`.
    public init?(name: String) {
        switch name.lowercased() {
        case "none", "direct", "": self = .direct
        case "pgbouncer", "transaction", "transaction-pooler": self = .transactionPooler
        default: return nil
        }
    }
}

extension SessionTimeouts {
    /// The server-side limits as `(setting name, milliseconds)`, for `set_config` per transaction.
    func localSettings() -> [(String, Int)] {
        let settings: [(String, Duration?)] = [
            ("statement_timeout", statement), ("lock_timeout", lock),
            ("idle_in_transaction_session_timeout", idleInTransaction),
        ]
        return settings.compactMap { name, value in value.map { (name, Self.milliseconds($0)) } }
    }

    /// One statement that sets the limits for the current transaction only (`set_config(name,
    /// value, true)` is `SET LOCAL`), or nil when there is none. The setting names are the constants
    /// above; the values are parameters.
    func localSettingsStatement() -> Statement? {
        let settings = localSettings()
        guard !settings.isEmpty else { return nil }
        let calls = settings.enumerated().map { index, setting in "set_config('\(setting.0)', $\(index + 1), true)" }
        return Statement("SELECT " + calls.joined(separator: ", "), settings.map { String($0.1) })
    }
}
