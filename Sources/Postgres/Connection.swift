import CLibPQ
import Dispatch
import Foundation
import Logging

/// One libpq connection.
///
/// Every libpq call on a connection runs on the connection's own serial `DispatchQueue`, never on
/// Swift's cooperative thread pool. libpq calls block (a query waits for the server); the cooperative
/// pool has one thread per core (two here), so a few blocked calls there would stall every task in
/// the process. A custom serial queue targets an overcommitting root queue, so Dispatch gives it a
/// thread of its own whenever it has work, however many other queues are blocked. Callers `await`
/// a continuation that the queue resumes; a call costs one queue hop (about 10–20 µs).
///
/// A connection serves one caller at a time (a pool checkout, a transaction). Calls from several
/// tasks at once are memory-safe (the queue serialises them) but interleave statements.
///
/// `@unchecked Sendable`: the only mutable state, `pgconn` and `preparedNames`, is read and written
/// only on `queue` (see `run`); `config`, `logger` and `queue` are immutable; `cancel` guards its own
/// state with a lock.
public final class Connection: @unchecked Sendable {
    /// Where this connection goes (no password in its description).
    public let config: ConnectionConfig
    let logger: Logger
    private let queue: DispatchQueue
    private var pgconn: OpaquePointer?
    private var preparedNames: Set<String> = []
    private let cancel: CancelHandle
    private let notices: NoticeContext

    private init(config: ConnectionConfig, pgconn: OpaquePointer, queue: DispatchQueue, logger: Logger) {
        self.config = config
        self.pgconn = pgconn
        self.queue = queue
        self.logger = logger
        self.cancel = CancelHandle(PQgetCancel(pgconn))
        self.notices = NoticeContext(logger: logger)
        PQsetNoticeReceiver(pgconn, noticeReceiver, Unmanaged.passUnretained(notices).toOpaque())
    }

    deinit {
        // No reference is left, so nothing else can be using pgconn.
        if let pgconn { PQfinish(pgconn) }
    }

    /// Opens a connection, failing within the config's connect timeout with a message that says
    /// what failed (refused, authentication, unknown database, timeout) and where, without the password.
    public static func connect(
        _ config: ConnectionConfig, logger: Logger = Logger(label: "baton.postgres")
    ) async throws -> Connection {
        // A network host below sslmode=verify-full: warned about once, or refused (ConnectionConfig+TLS).
        try config.checkTLS(logger: logger)
        let queue = DispatchQueue(label: "baton.postgres.connection")
        let pgconn: OpaquePointer = try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try openConnection(config) })
            }
        }
        let connection = Connection(config: config, pgconn: pgconn, queue: queue, logger: logger)
        // Fixed session settings (constants, no values): timestamps in UTC, ISO format, as TextFormat expects.
        _ = try await connection.simpleQuery("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'")
        return connection
    }

    private static func openConnection(_ config: ConnectionConfig) throws -> OpaquePointer {
        let pairs = config.keywordValuePairs()
        let keywords = pairs.map { strdup($0.0) } + [nil]
        let values = pairs.map { strdup($0.1) } + [nil]
        defer {
            keywords.forEach { free($0) }
            values.forEach { free($0) }
        }
        let conn: OpaquePointer? = keywords.withUnsafeBufferPointer { k in
            values.withUnsafeBufferPointer { v in
                k.withMemoryRebound(to: UnsafePointer<CChar>?.self) { kk in
                    v.withMemoryRebound(to: UnsafePointer<CChar>?.self) { vv in
                        PQconnectdbParams(kk.baseAddress, vv.baseAddress, 1)
                    }
                }
            }
        }
        guard let conn else { throw PostgresError(.connectionFailed, "cannot connect to \(config.endpoint): out of memory") }
        guard PQstatus(conn) == CONNECTION_OK else {
            let raw = String(cString: PQerrorMessage(conn))
            PQfinish(conn)
            throw connectError(raw, config: config)
        }
        return conn
    }

    /// Turns libpq's multi-line connect error into one line: what failed, where.
    static func connectError(_ raw: String, config: ConnectionConfig) -> PostgresError {
        let lines = Redact.secrets(in: raw).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        // "connection to server at "127.0.0.1", port 5432 failed: FATAL:  password authentication failed …"
        var reason = lines.last { $0.contains("failed:") } ?? lines.first ?? "unknown error"
        if let range = reason.range(of: "failed: ") { reason = String(reason[range.upperBound...]) }
        reason = reason.replacingOccurrences(of: "FATAL:  ", with: "")
        let lower = reason.lowercased()
        let kind: String
        if lower.contains("password authentication failed") || lower.contains("no password supplied")
            || lower.contains("authentication failed") || lower.contains("no pg_hba.conf entry")
        {
            kind = "authentication failed"
        } else if lower.contains("database") && lower.contains("does not exist") {
            kind = "unknown database"
        } else if lower.contains("connection refused") || lower.contains("no such file or directory") {
            kind = "connection refused"
        } else if lower.contains("timeout expired") {
            kind = "timed out"
        } else if lower.contains("could not translate host name") {
            kind = "unknown host"
        } else if lower.contains("unsupported startup parameter") && config.pooling == .direct {
            // PgBouncer refuses the limits we send at startup: it wants the pooler mode.
            kind = "refused by a connection pooler (PgBouncer? run with --pooler pgbouncer)"
        } else {
            kind = "failed"
        }
        return PostgresError(.connectionFailed, "cannot connect to \(config.endpoint): \(kind): \(reason)")
    }

    /// Closes the connection. Idempotent.
    public func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                if let pgconn = self.pgconn { PQfinish(pgconn) }
                self.pgconn = nil
                self.cancel.invalidate()
                continuation.resume()
            }
        }
    }

    // MARK: - Running work on the connection's queue

    /// Runs `body` with the libpq handle on the connection's queue. Task cancellation sends a
    /// cancel request for the statement in flight; a task cancelled while its call waits for the
    /// queue never sends the statement. A task that was already cancelled when it called still runs
    /// its statement: that is how cleanup (ROLLBACK, the pool's reuse check) gets done.
    func run<T: Sendable>(_ body: @escaping @Sendable (OpaquePointer) throws -> T) async throws -> T {
        let ticket = CancelTicket()
        let honoursCancellation = !Task.isCancelled
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
                queue.async {
                    guard let pgconn = self.pgconn else {
                        continuation.resume(throwing: PostgresError(.closed, "the connection is closed"))
                        return
                    }
                    guard self.cancel.begin(ticket) else {
                        continuation.resume(throwing: PostgresError(
                            .cancelled, "canceling statement due to user request (before it was sent)", sqlState: "57014"))
                        return
                    }
                    let result = Result { try body(pgconn) }
                    self.cancel.end()
                    continuation.resume(with: result)
                }
            }
        } onCancel: {
            if honoursCancellation { cancel.send(ticket) }
        }
    }

    /// Runs `body` on the queue without a Swift continuation per call: for loops that own the queue.
    func runDetached(_ body: @escaping @Sendable (OpaquePointer?) -> Void) {
        queue.async { body(self.pgconn) }
    }

    // MARK: - Statements

    /// Runs one statement with parameters (`$1`, `$2`, …) sent apart from the SQL text.
    @discardableResult
    public func query(_ sql: String, _ parameters: [(any PostgresEncodable)?] = []) async throws -> QueryResult {
        let statement = Statement(sql, parameters)
        let local = pooledSettings
        return try await run { pgconn in try Self.execute(statement, on: pgconn, localSettings: local) }
    }

    /// Runs a statement prepared once per connection (`PQprepare`), then executed by name. Through a
    /// transaction pooler it runs unnamed instead, like `query(_:_:)`: a name prepared on one server
    /// session would be missing on the next one the pooler lends.
    @discardableResult
    public func query(_ prepared: PreparedStatement, _ parameters: [(any PostgresEncodable)?] = []) async throws
        -> QueryResult
    {
        if config.pooling == .transactionPooler { return try await query(prepared.sql, parameters) }
        let statement = Statement(prepared.sql, parameters)
        return try await run { pgconn in
            if !self.preparedNames.contains(prepared.name) {
                let types = statement.parameters.map { $0.type }
                let result = types.withUnsafeBufferPointer {
                    PQprepare(pgconn, prepared.name, prepared.sql, Int32(types.count), $0.baseAddress)
                }
                _ = try Self.check(result, pgconn)
                self.preparedNames.insert(prepared.name)
            }
            return try statement.withCParameters { count, types, values in
                try Self.check(PQexecPrepared(pgconn, prepared.name, count, values, nil, nil, 0), pgconn)
            }
        }
    }

    /// Runs statements without parameters in one simple-query round trip (session setup, BEGIN, COMMIT).
    /// Never build the text from values: use `query` with parameters for those.
    @discardableResult
    public func simpleQuery(_ sql: StaticString) async throws -> QueryResult {
        let text = sql.description
        return try await run { pgconn in try Self.check(PQexec(pgconn, text), pgconn) }
    }

    /// Runs a migration script's text (several statements, no parameters) in one round trip.
    /// For SQL files shipped with the program, not for text built from input.
    @discardableResult
    public func executeScript(_ script: String) async throws -> QueryResult {
        try await run { pgconn in try Self.check(PQexec(pgconn, script), pgconn) }
    }

    /// Through a transaction pooler: the statement that sets this connection's limits for one
    /// transaction (see `Pooling`); nil for a direct connection, whose limits are set at startup.
    var pooledSettings: Statement? {
        config.pooling == .transactionPooler ? config.timeouts.localSettingsStatement() : nil
    }

    /// Runs `statement`; with `localSettings` and no transaction open, both go in one round trip
    /// (a pipeline is one implicit transaction), so the limits hold for the statement and no longer.
    static func execute(_ statement: Statement, on pgconn: OpaquePointer, localSettings: Statement?) throws -> QueryResult {
        guard let localSettings, PQtransactionStatus(pgconn) == PQTRANS_IDLE else { return try execute(statement, on: pgconn) }
        return try runPipeline([localSettings, statement], on: pgconn)[1]
    }

    static func execute(_ statement: Statement, on pgconn: OpaquePointer) throws -> QueryResult {
        try statement.withCParameters { count, types, values in
            try check(PQexecParams(pgconn, statement.sql, count, types, values, nil, nil, 0), pgconn)
        }
    }

    /// Wraps a finished result, or turns a failed one into a `PostgresError`.
    static func check(_ result: OpaquePointer?, _ pgconn: OpaquePointer) throws -> QueryResult {
        guard let result else { throw lostError(pgconn) }
        let status = PQresultStatus(result)
        if status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY {
            return QueryResult(ResultHandle(result))
        }
        defer { PQclear(result) }
        throw serverError(result, pgconn)
    }

    static func serverError(_ result: OpaquePointer, _ pgconn: OpaquePointer) -> PostgresError {
        func field(_ code: Character) -> String? {
            guard let value = PQresultErrorField(result, Int32(code.asciiValue!)) else { return nil }
            return String(cString: value)
        }
        let sqlState = field("C")
        var message = field("M")
        if message == nil {
            message = String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let lost = PQstatus(pgconn) != CONNECTION_OK
        if sqlState == nil && lost { return lostError(pgconn) }
        var error = PostgresError(
            lost ? .connectionLost : .server, message ?? "unknown server error", sqlState: sqlState,
            detail: field("D"), hint: field("H"), constraint: field("n"), table: field("t"), column: field("c"),
            schema: field("s"))
        if error.isInsufficientPrivilege, let user = PQuser(pgconn) { error.user = String(cString: user) }
        return error
    }

    static func lostError(_ pgconn: OpaquePointer) -> PostgresError {
        let raw = String(cString: PQerrorMessage(pgconn))
        let line = raw.split(separator: "\n").first.map(String.init) ?? "the connection was lost"
        return PostgresError(.connectionLost, Redact.secrets(in: line.trimmingCharacters(in: .whitespaces)))
    }

    // MARK: - State

    /// True when the connection is open, outside any transaction, and the server has not closed it.
    /// Reads whatever the server sent meanwhile (a shutdown notice, notifications) without blocking.
    public func isReusable() async -> Bool {
        (try? await run { pgconn -> Bool in
            guard PQstatus(pgconn) == CONNECTION_OK, PQtransactionStatus(pgconn) == PQTRANS_IDLE else { return false }
            // An idle connection has nothing to read unless the server sent something on its own:
            // a notification, or a shutdown/termination message followed by end-of-file. Read until
            // the socket is quiet, so a closed connection shows up as CONNECTION_BAD now, not at the
            // next statement. (A few rounds at most; a flood of notifications is not our business.)
            var fd = pollfd(fd: PQsocket(pgconn), events: Int16(POLLIN), revents: 0)
            for _ in 0..<8 where poll(&fd, 1, 0) > 0 {
                if PQconsumeInput(pgconn) == 0 { return false }
                // Drop notifications nobody listens for on a pooled connection.
                while let notify = PQnotifies(pgconn) { PQfreemem(notify) }
                if PQstatus(pgconn) != CONNECTION_OK { return false }
            }
            return PQstatus(pgconn) == CONNECTION_OK
        }) ?? false
    }

    /// The server process id serving this connection.
    public func backendPID() async throws -> Int32 {
        try await run { PQbackendPID($0) }
    }
}

/// A statement run by name after being prepared once on each connection that runs it.
public struct PreparedStatement: Sendable, Hashable {
    /// The name it is prepared under; unique per statement text.
    public let name: String
    /// The SQL text with `$n` placeholders.
    public let sql: String
    public init(name: String, sql: String) {
        self.name = name
        self.sql = sql
    }
}

/// A statement and its parameters, for `pipeline`.
public struct Statement: Sendable {
    public let sql: String
    let parameters: [(type: OID, text: String?)]

    public init(_ sql: String, _ parameters: [(any PostgresEncodable)?] = []) {
        self.sql = sql
        self.parameters = parameters.map { value in
            guard let value else { return (PostgresType.unspecified, nil) }
            return (type(of: value).postgresType, value.postgresText)
        }
    }

    func withCParameters<R>(
        _ body: (Int32, UnsafePointer<OID>?, UnsafePointer<UnsafePointer<CChar>?>?) throws -> R
    ) rethrows -> R {
        let types = parameters.map { $0.type }
        let values: [UnsafeMutablePointer<CChar>?] = parameters.map { $0.text.map { strdup($0) } ?? nil }
        defer { values.forEach { free($0) } }
        return try types.withUnsafeBufferPointer { t in
            try values.withUnsafeBufferPointer { v in
                try v.withMemoryRebound(to: UnsafePointer<CChar>?.self) { vv in
                    try body(Int32(parameters.count), t.baseAddress, vv.baseAddress)
                }
            }
        }
    }
}

/// One call's claim on the connection, so a cancellation reaches only the statement of the task
/// that asked for it. `@unchecked Sendable`: `cancelled` is read and written under the handle's lock.
final class CancelTicket: @unchecked Sendable {
    fileprivate var cancelled = false
}

/// libpq's cancel handle, usable from any thread; tracks which call's statement is in flight so a
/// late cancellation does not hit the next statement.
///
/// A cancel request that reaches the server before the statement does (still in the socket, or the
/// backend not yet reading it) is dropped by the server, so while the cancelled statement is still in
/// flight the request is sent again every half second.
///
/// `@unchecked Sendable`: every field is read and written under `lock`.
final class CancelHandle: @unchecked Sendable {
    private let lock = NSLock()
    private var handle: OpaquePointer?
    private var current: CancelTicket?

    init(_ handle: OpaquePointer?) { self.handle = handle }
    deinit { if let handle { PQfreeCancel(handle) } }

    /// Marks the ticket's statement in flight; false when its task was already cancelled.
    func begin(_ ticket: CancelTicket) -> Bool {
        lock.withLock {
            guard !ticket.cancelled else { return false }
            current = ticket
            return true
        }
    }

    func end() { lock.withLock { current = nil } }

    func send(_ ticket: CancelTicket, attempt: Int = 0) {
        let again: Bool = lock.withLock {
            ticket.cancelled = true
            guard current === ticket, let handle else { return false }
            var buffer = [CChar](repeating: 0, count: 256)
            _ = PQcancel(handle, &buffer, Int32(buffer.count))
            return attempt < 120
        }
        guard again else { return }
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.5) { self.send(ticket, attempt: attempt + 1) }
    }

    func invalidate() {
        lock.withLock {
            if let handle { PQfreeCancel(handle) }
            handle = nil
        }
    }
}

/// Routes the server's NOTICE and WARNING messages to swift-log instead of stderr.
final class NoticeContext: Sendable {
    let logger: Logger
    init(logger: Logger) { self.logger = logger }
}

private let noticeReceiver: PQnoticeReceiver = { argument, result in
    guard let argument, let result else { return }
    let context = Unmanaged<NoticeContext>.fromOpaque(argument).takeUnretainedValue()
    let severity = PQresultErrorField(result, Int32(Character("V").asciiValue!)).map { String(cString: $0) } ?? "NOTICE"
    let message = PQresultErrorField(result, Int32(Character("M").asciiValue!)).map { String(cString: $0) } ?? ""
    let level: Logger.Level = severity == "WARNING" ? .warning : .debug
    context.logger.log(level: level, "postgres \(severity.lowercased()): \(message)")
}
