/// Transaction isolation levels.
public enum IsolationLevel: Sendable {
    case readCommitted, repeatableRead, serializable
}

extension Connection {
    /// Runs `body` in a transaction: COMMIT when it returns, ROLLBACK when it throws.
    ///
    /// A COMMIT that the server turns into a rollback (the transaction had failed and `body`
    /// swallowed the error) throws instead of pretending to succeed.
    ///
    /// Called on the connection of an enclosing `ConnectionPool.withAmbientTransaction` (an outer
    /// unit of work such as an idempotent HTTP request), it nests: `body`
    /// runs in a savepoint that is released when it returns and rolled back to when it throws, and
    /// the outer transaction decides whether anything commits. The outer isolation level applies.
    @discardableResult
    public nonisolated(nonsending) func transaction<T>(
        isolation: IsolationLevel = .readCommitted, _ body: (Connection) async throws -> T
    ) async throws -> T {
        // Nested only inside `withAmbientTransaction`, which opened the outer transaction on this
        // connection: a task-local read, no round trip to the connection's queue.
        if ConnectionPool.ambient?.connection === self {
            try await simpleQuery("SAVEPOINT baton_nested")
            do {
                let value = try await body(self)
                try await simpleQuery("RELEASE SAVEPOINT baton_nested")
                return value
            } catch {
                _ = try? await simpleQuery("ROLLBACK TO SAVEPOINT baton_nested")
                _ = try? await simpleQuery("RELEASE SAVEPOINT baton_nested")
                throw error
            }
        }
        try await begin(isolation)
        let value: T
        do {
            value = try await body(self)
        } catch {
            // A failed ROLLBACK means the connection is gone; the pool discards it.
            _ = try? await simpleQuery("ROLLBACK")
            throw error
        }
        let result = try await simpleQuery("COMMIT")
        if result.commandTag == "ROLLBACK" {
            throw PostgresError(.server, "the transaction failed earlier and was rolled back at COMMIT", sqlState: "25P02")
        }
        return value
    }
}

extension Connection {
    /// BEGIN; through a transaction pooler, with the limits for this transaction in the same round trip.
    private func begin(_ isolation: IsolationLevel) async throws {
        let sql: StaticString = switch isolation {
        case .readCommitted: "BEGIN ISOLATION LEVEL READ COMMITTED"
        case .repeatableRead: "BEGIN ISOLATION LEVEL REPEATABLE READ"
        case .serializable: "BEGIN ISOLATION LEVEL SERIALIZABLE"
        }
        guard let local = pooledSettings else {
            try await simpleQuery(sql)
            return
        }
        // Pipelined: BEGIN opens the explicit transaction, so it stays open past the sync point.
        let statements = [Statement(sql.description), local]
        _ = try await run { pgconn in try Self.runPipeline(statements, on: pgconn) }
    }
}

/// Runs `body` again when it fails with a serialization failure (40001), a deadlock (40P01) or,
/// unless `lockTimeouts` is false, a lock wait that ran out (55P03, `lock_timeout`): up to
/// `maxAttempts` times in all, sleeping an exponential, jittered backoff between attempts.
/// `body` must be a whole transaction, so that running it again is safe. A lock timeout is the
/// session limit that keeps a hung peer from holding this one forever, not a verdict on the
/// request: another session committing slowly (a loaded machine, a long batch) is worth waiting
/// out a few times. Callers with a deadline of their own (a worker's lease) pass false and
/// handle it themselves.
public nonisolated(nonsending) func withTransactionRetries<T>(
    maxAttempts: Int = 5, lockTimeouts: Bool = true, _ body: () async throws -> T
) async throws -> T {
    var attempt = 1
    while true {
        do {
            return try await body()
        } catch let error as PostgresError
            where (error.isSerializationFailure || error.isDeadlock || (lockTimeouts && error.isLockNotAvailable))
            && attempt < maxAttempts
        {
            let base = 5.0 * Double(1 << min(attempt, 8))  // ms
            try await Task.sleep(for: .milliseconds(Int(Double.random(in: base / 2...base))))
            attempt += 1
        }
    }
}
