/// An error from the Postgres module: a failed connect, a lost connection, a server error with its
/// SQLSTATE and fields, a value that cannot be decoded, a pool that had no connection in time.
///
/// `description` never contains a password, a query's parameter values or the server's `detail`
/// (which can echo row values), so logging an error cannot leak data. The fields are there for
/// code that needs them.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Sendable {
            case connectionFailed = "connection failed"
            case connectionLost = "connection lost"
            case server = "server error"
            case decoding = "decoding error"
            case invalidConfiguration = "invalid configuration"
            case poolTimeout = "pool timeout"
            case closed = "connection closed"
            case cancelled = "cancelled"
            case protocolError = "protocol error"
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// Could not connect: refused, timed out, authentication, unknown database.
        public static let connectionFailed = Code(.connectionFailed)
        /// The connection broke while in use (server restarted or killed the backend).
        public static let connectionLost = Code(.connectionLost)
        /// The server rejected a statement; see `sqlState`.
        public static let server = Code(.server)
        /// A value could not be decoded into the requested Swift type.
        public static let decoding = Code(.decoding)
        /// A connection string or setting is malformed.
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// The pool had no connection to give within its checkout timeout.
        public static let poolTimeout = Code(.poolTimeout)
        /// The connection was closed by this process.
        public static let closed = Code(.closed)
        /// The operation was cancelled.
        public static let cancelled = Code(.cancelled)
        /// libpq reported something this module did not expect.
        public static let protocolError = Code(.protocolError)

        public var description: String { base.rawValue }
    }

    /// The kind of failure.
    public var code: Code
    /// A one-line, password-free explanation.
    public var message: String
    /// The server's SQLSTATE (`23505`, `40001`, …) when the server reported one.
    public var sqlState: String?
    /// The server's DETAIL; may contain row values, so it is not part of `description`.
    public var detail: String?
    /// The server's HINT.
    public var hint: String?
    /// The constraint a violation names.
    public var constraint: String?
    /// The table a violation names.
    public var table: String?
    /// The column a violation names.
    public var column: String?
    /// The schema a violation names.
    public var schema: String?
    /// The database user the session logged in as, set on a refused privilege (42501) so a
    /// message can say who lacks it.
    public var user: String?

    public init(
        _ code: Code, _ message: String, sqlState: String? = nil, detail: String? = nil,
        hint: String? = nil, constraint: String? = nil, table: String? = nil, column: String? = nil,
        schema: String? = nil
    ) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
        self.detail = detail
        self.hint = hint
        self.constraint = constraint
        self.table = table
        self.column = column
        self.schema = schema
    }

    public var description: String {
        var text = "\(code)"
        if let sqlState { text += " \(sqlState)" }
        text += ": \(message)"
        if let constraint { text += " (constraint \(constraint))" }
        if let hint { text += "; hint: \(hint)" }
        if let user { text += " (database user \(user))" }
        return text
    }

    /// 23505: a unique constraint was violated.
    public var isUniqueViolation: Bool { sqlState == "23505" }
    /// 23503: a foreign key was violated.
    public var isForeignKeyViolation: Bool { sqlState == "23503" }
    /// 40001: a serializable transaction could not be serialized; retry it.
    public var isSerializationFailure: Bool { sqlState == "40001" }
    /// 40P01: a deadlock was detected; retry it.
    public var isDeadlock: Bool { sqlState == "40P01" }
    /// 57014: the statement was cancelled (by request or statement_timeout).
    public var isQueryCanceled: Bool { sqlState == "57014" }
    /// 42501: the session's user lacks a privilege (or ownership) the statement needs.
    public var isInsufficientPrivilege: Bool { sqlState == "42501" }
    /// 55P03: a lock could not be had (lock_timeout ran out, or NOWAIT).
    public var isLockNotAvailable: Bool { sqlState == "55P03" }
    /// Ran out of time or out of luck against other sessions (lock timeout, statement timeout,
    /// deadlock, serialization failure): nothing was written, and trying again later may succeed.
    public var isContention: Bool { isLockNotAvailable || isQueryCanceled || isDeadlock || isSerializationFailure }
    /// The connection is unusable: lost, failed, closed, or the server is shutting down.
    public var isConnectionError: Bool {
        if code == .connectionLost || code == .connectionFailed || code == .closed { return true }
        guard let sqlState else { return false }
        // Class 08 (connection exception) and 57P01-57P03 (admin shutdown, crash shutdown, cannot connect now).
        return sqlState.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(sqlState)
    }
    /// An error after which running the same transaction again may succeed.
    public var isTransient: Bool { isSerializationFailure || isDeadlock || isConnectionError }
}
