import Foundation
import Logging

/// A bounded pool of connections to one database.
///
/// - Checkout waits (asynchronously, never blocking a thread) up to `checkoutTimeout` for a free
///   connection, then fails with `.poolTimeout`.
/// - A connection that broke while checked out, or was returned inside a transaction, is closed
///   and its slot freed; the next checkout opens a new one. An idle connection whose server went
///   away (restart, terminated backend) is noticed at checkout and replaced, so the pool recovers
///   by itself after the server restarts.
/// - Blocking libpq calls run on each connection's own queue (see `Connection`), so a pool of any
///   size never ties up Swift's cooperative threads.
public actor ConnectionPool {
    /// The server and database the pool connects to.
    public nonisolated let config: ConnectionConfig
    /// The most connections open at once.
    public nonisolated let maxConnections: Int
    /// How long a checkout waits for a connection.
    public nonisolated let checkoutTimeout: Duration
    private let logger: Logger
    /// Called with how long each checkout waited (for a metric; the pool knows nothing of metrics).
    private nonisolated let onCheckout: (@Sendable (Duration) -> Void)?

    private var idle: [Connection] = []
    private var open = 0
    private var closed = false
    private var waiters: [(id: UInt64, continuation: CheckedContinuation<Connection?, Error>)] = []
    private var nextWaiterID: UInt64 = 0

    public init(
        _ config: ConnectionConfig, maxConnections: Int = 8, checkoutTimeout: Duration = .seconds(10),
        logger: Logger = Logger(label: "baton.postgres.pool"), onCheckout: (@Sendable (Duration) -> Void)? = nil
    ) {
        self.onCheckout = onCheckout
        precondition(maxConnections > 0, "a pool needs at least one connection")
        self.config = config
        self.maxConnections = maxConnections
        self.checkoutTimeout = checkoutTimeout
        self.logger = logger
    }

    /// Checks out a connection, runs `body` with it, and returns it to the pool (or discards it
    /// when it broke or is still inside a transaction).
    @discardableResult
    public nonisolated(nonsending) func withConnection<T>(_ body: (Connection) async throws -> T) async throws -> T {
        if let ambient = Self.ambient, ambient.pool == ObjectIdentifier(self) { return try await body(ambient.connection) }
        let started = ContinuousClock.now
        let connection = try await checkout()
        onCheckout?(ContinuousClock.now - started)
        do {
            let value = try await body(connection)
            await release(connection)
            return value
        } catch {
            await release(connection)
            throw error
        }
    }

    /// The connection of an enclosing `withAmbientTransaction` of this pool, for the task that runs it.
    @TaskLocal static var ambient: (pool: ObjectIdentifier, connection: Connection)?

    /// Runs `body` in one transaction that every use of this pool inside it joins: within `body`
    /// (and the functions it calls, in this task), `withConnection` hands out the same connection
    /// and `transaction` becomes a savepoint, so work written as several transactions commits or
    /// rolls back as one. For a unit of work whose record must commit with its effects (an
    /// idempotency key with the request it answers). `body` must not use the pool from concurrent
    /// child tasks: they would share one connection.
    @discardableResult
    public nonisolated(nonsending) func withAmbientTransaction<T>(_ body: (Connection) async throws -> T) async throws -> T {
        try await withConnection { connection in
            try await connection.transaction { connection in
                try await Self.$ambient.withValue((ObjectIdentifier(self), connection)) {
                    try await body(connection)
                }
            }
        }
    }

    /// `withConnection` + `Connection.transaction`, retried on serialization failures, deadlocks
    /// and (unless `lockTimeouts` is false) lock timeouts; see `withTransactionRetries`.
    @discardableResult
    public nonisolated(nonsending) func transaction<T>(
        isolation: IsolationLevel = .readCommitted, maxAttempts: Int = 5, lockTimeouts: Bool = true,
        _ body: (Connection) async throws -> T
    ) async throws -> T {
        try await withTransactionRetries(maxAttempts: maxAttempts, lockTimeouts: lockTimeouts) {
            try await withConnection { connection in
                try await connection.transaction(isolation: isolation, body)
            }
        }
    }

    /// `withConnection` for a body that runs one statement outside any explicit transaction (so a
    /// whole transaction of its own), retried as `transaction` retries. Inside this task's
    /// `withAmbientTransaction` it runs once: the statement's failure aborted the outer
    /// transaction, and that unit of work decides what happens next.
    @discardableResult
    public nonisolated(nonsending) func autocommit<T>(
        maxAttempts: Int = 5, _ body: (Connection) async throws -> T
    ) async throws -> T {
        if let ambient = Self.ambient, ambient.pool == ObjectIdentifier(self) { return try await body(ambient.connection) }
        return try await withTransactionRetries(maxAttempts: maxAttempts) {
            try await withConnection(body)
        }
    }

    /// Counts of open and idle connections, for metrics and tests.
    public var statistics: (open: Int, idle: Int, waiting: Int) { (open, idle.count, waiters.count) }

    /// Closes idle connections and refuses new checkouts. Connections checked out now are closed
    /// when returned. Idempotent.
    public func close() async {
        closed = true
        let toClose = idle
        idle.removeAll()
        open -= toClose.count
        for waiter in waiters {
            waiter.continuation.resume(throwing: PostgresError(.closed, "the connection pool is closed"))
        }
        waiters.removeAll()
        for connection in toClose { await connection.close() }
    }

    // MARK: - Checkout and release

    func checkout() async throws -> Connection {
        let deadline = ContinuousClock.now + checkoutTimeout
        while true {
            guard !closed else { throw PostgresError(.closed, "the connection pool is closed") }
            if let connection = idle.popLast() {
                if await connection.isReusable() { return connection }
                open -= 1
                logger.debug("discarding a dead idle connection", metadata: ["database": "\(config.endpoint)"])
                await connection.close()
                continue
            }
            if open < maxConnections {
                open += 1
                do {
                    return try await Connection.connect(config, logger: logger)
                } catch {
                    open -= 1
                    wakeOneWaiter()
                    throw error
                }
            }
            if let handed = try await waitForConnection(until: deadline) { return handed }
        }
    }

    /// Waits until a connection is handed over (returned) or a slot frees (returns nil: try again).
    private func waitForConnection(until deadline: ContinuousClock.Instant) async throws -> Connection? {
        guard ContinuousClock.now < deadline else { throw timeoutError() }
        nextWaiterID += 1
        let id = nextWaiterID
        let timer = Task { [weak self] in
            try await Task.sleep(until: deadline, clock: .continuous)
            await self?.expireWaiter(id)
        }
        defer { timer.cancel() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                waiters.append((id, continuation))
            }
        } onCancel: {
            Task { await self.cancelWaiter(id) }
        }
    }

    private func timeoutError() -> PostgresError {
        PostgresError(
            .poolTimeout,
            "no database connection free within \(checkoutTimeout) (pool of \(maxConnections) to \(config.endpoint))")
    }

    private func expireWaiter(_ id: UInt64) {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
        waiters.remove(at: index).continuation.resume(throwing: timeoutError())
    }

    private func cancelWaiter(_ id: UInt64) {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
        waiters.remove(at: index).continuation.resume(throwing: CancellationError())
    }

    private func wakeOneWaiter() {
        guard !waiters.isEmpty else { return }
        waiters.removeFirst().continuation.resume(returning: nil)
    }

    func release(_ connection: Connection) async {
        if !closed, await connection.isReusable() {
            if !waiters.isEmpty {
                waiters.removeFirst().continuation.resume(returning: connection)
            } else {
                idle.append(connection)
            }
            return
        }
        open -= 1
        await connection.close()
        wakeOneWaiter()
    }
}
