/// Limits that keep a connection from hanging: server-side timeouts for statements, lock waits
/// and idle transactions, and client-side TCP checks that notice a dead peer or a half-open
/// connection (a host that vanished without closing its sockets).
///
/// The server settings travel in the connection's startup packet (libpq's `options`, as
/// `-c statement_timeout=…`), which costs no round trip and works for direct connections. Behind
/// a pooler in transaction mode (PgBouncer), which refuses startup options, set the config's
/// `pooling = .transactionPooler`: the same settings are then set per transaction (see
/// `Pooling`). (`sendServerSettings = false` sends none at all, for settings kept on the database
/// role instead: `ALTER ROLE baton_worker SET statement_timeout = '5s'`, ….) The TCP settings are
/// the client socket's own and work either way.
public struct SessionTimeouts: Sendable, Hashable {
    /// The server cancels a statement running longer than this (`statement_timeout`, 57014). nil: the server's setting.
    public var statement: Duration?
    /// The server gives up waiting for a lock after this (`lock_timeout`, 55P03). nil: the server's setting.
    public var lock: Duration?
    /// The server closes a session left inside a transaction, doing nothing, this long
    /// (`idle_in_transaction_session_timeout`). nil: the server's setting.
    public var idleInTransaction: Duration?
    /// Send TCP keepalive probes after this much silence (libpq `keepalives_idle`; whole seconds, at least 1).
    public var keepaliveIdle: Duration
    /// Between unanswered probes (`keepalives_interval`).
    public var keepaliveInterval: Duration
    /// Unanswered probes before the connection counts as dead (`keepalives_count`).
    public var keepaliveCount: Int
    /// Data sent but not acknowledged for this long drops the connection (`tcp_user_timeout`,
    /// Linux). nil: the kernel's default (many minutes).
    public var tcpUserTimeout: Duration?
    /// Whether `statement`, `lock` and `idleInTransaction` are sent at startup (see above).
    public var sendServerSettings: Bool

    /// - Parameters: see the properties.
    public init(statement: Duration? = nil, lock: Duration? = nil, idleInTransaction: Duration? = .seconds(60),
                keepaliveIdle: Duration = .seconds(10), keepaliveInterval: Duration = .seconds(5), keepaliveCount: Int = 3,
                tcpUserTimeout: Duration? = .seconds(30), sendServerSettings: Bool = true) {
        self.statement = statement
        self.lock = lock
        self.idleInTransaction = idleInTransaction
        self.keepaliveIdle = keepaliveIdle
        self.keepaliveInterval = keepaliveInterval
        self.keepaliveCount = keepaliveCount
        self.tcpUserTimeout = tcpUserTimeout
        self.sendServerSettings = sendServerSettings
    }

    /// For interactive tools and migrations: no statement or lock limit (a long report or index
    /// build is legitimate), an abandoned transaction closed after a minute, a dead peer noticed
    /// within about 25 s of silence or 30 s of unacknowledged data.
    public static let `default` = SessionTimeouts()

    /// For a process that holds leases of length `lease`: every limit shorter than the lease, so
    /// a statement stuck on a lock or a dead connection fails while the lease still holds.
    /// With a 10 s lease: statements 5 s, lock waits 2.5 s, idle transactions 10 s, TCP 5 s.
    public static func within(lease: Duration) -> SessionTimeouts {
        let lease = max(lease, .seconds(2))
        return SessionTimeouts(
            statement: lease / 2, lock: lease / 4, idleInTransaction: lease,
            keepaliveIdle: lease / 4, keepaliveInterval: lease / 8, keepaliveCount: 2,
            tcpUserTimeout: lease / 2)
    }

    /// libpq connection keywords for the TCP checks.
    func libpqKeywords() -> [(String, String)] {
        var pairs = [
            ("keepalives", "1"),
            ("keepalives_idle", String(Self.wholeSeconds(keepaliveIdle))),
            ("keepalives_interval", String(Self.wholeSeconds(keepaliveInterval))),
            ("keepalives_count", String(max(1, keepaliveCount))),
        ]
        if let tcpUserTimeout { pairs.append(("tcp_user_timeout", String(Self.milliseconds(tcpUserTimeout)))) }
        return pairs
    }

    /// `-c name=ms …` for the startup packet, or nil when there is nothing to send.
    func serverOptions() -> String? {
        guard sendServerSettings else { return nil }
        let settings: [(String, Duration?)] = [
            ("statement_timeout", statement), ("lock_timeout", lock),
            ("idle_in_transaction_session_timeout", idleInTransaction),
        ]
        let parts = settings.compactMap { name, value in value.map { "-c \(name)=\(Self.milliseconds($0))" } }
        return parts.isEmpty ? nil : parts.joined(separator: " ")
    }

    /// Whole milliseconds, at least 1 (0 would mean "no limit" to the server), at most a day.
    static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = min(max(duration, .milliseconds(1)), .seconds(86_400)).components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }

    /// Whole seconds rounded up, at least 1.
    static func wholeSeconds(_ duration: Duration) -> Int {
        (milliseconds(duration) + 999) / 1000
    }
}
