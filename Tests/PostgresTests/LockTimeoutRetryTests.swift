import BatonTesting
import Foundation
import Postgres
import Testing

/// A lock wait that runs out (`lock_timeout`, 55P03) behind another session that commits slowly is
/// waited out by running the whole transaction again, as a deadlock is; a caller with a deadline
/// of its own can say no. Found in CI: an enrollment through PgBouncer gave up behind a worker
/// committing a batch on a loaded machine.
@Suite("Lock timeouts are retried")
struct LockTimeoutRetryTests {
    /// Counts the attempts a retried body made.
    actor Attempts {
        var count = 0
        func next() -> Int { count += 1; return count }
    }

    /// A pool whose sessions give up a lock wait after 200 ms, a table with one row, and a session
    /// holding that row locked until `release` is called.
    struct Held {
        let pool: ConnectionPool
        let holder: Connection

        static func make(_ name: String) async throws -> Held {
            var config = try await TestDatabase.create(name)
            let holder = try await Connection.connect(config)
            try await holder.query("CREATE TABLE held (id int PRIMARY KEY, n int NOT NULL DEFAULT 0)")
            try await holder.query("INSERT INTO held VALUES (1)")
            try await holder.simpleQuery("BEGIN")
            try await holder.query("SELECT id FROM held WHERE id = 1 FOR UPDATE")
            config.timeouts = SessionTimeouts(lock: .milliseconds(200))
            return Held(pool: ConnectionPool(config, maxConnections: 2, checkoutTimeout: .seconds(60)), holder: holder)
        }

        /// Lets the row go once the body has run `attempts` times: a release that depends on what
        /// happened, not on how fast the machine is.
        func release(after attempts: Int, of counter: Attempts) -> Task<Void, any Error> {
            Task {
                while await counter.count < attempts { try await Task.sleep(for: .milliseconds(10)) }
                try await holder.simpleQuery("ROLLBACK")
            }
        }

        func close() async {
            await pool.close()
            await holder.close()
        }
    }

    /// The two retried paths: a transaction of the pool, and one autocommit statement.
    enum Path: String, CaseIterable, Sendable {
        case transaction, autocommit

        nonisolated(nonsending) func run<T>(_ pool: ConnectionPool, _ body: (Connection) async throws -> T)
            async throws -> T
        {
            switch self {
            case .transaction: try await pool.transaction(maxAttempts: 20, body)
            case .autocommit: try await pool.autocommit(maxAttempts: 20, body)
            }
        }
    }

    @Test(arguments: Path.allCases)
    func aLockHeldPastItsTimeoutIsWaitedOut(_ path: Path) async throws {
        let held = try await Held.make("lockretry_\(path.rawValue)")
        let attempts = Attempts()
        let release = held.release(after: 2, of: attempts)
        let updated = try await path.run(held.pool) { connection in
            _ = await attempts.next()
            return try await connection.query("UPDATE held SET n = n + 1 WHERE id = 1").affectedRows
        }
        try await release.value
        #expect(updated == 1)
        #expect(await attempts.count >= 2, "the first attempt must have run out of time behind the holder")
        #expect(try await held.pool.withConnection { try await $0.query("SELECT n FROM held")[0].decode(Int.self, at: 0) } == 1)
        await held.close()
    }

    @Test func aCallerWithItsOwnDeadlineGetsTheLockTimeoutAtOnce() async throws {
        let held = try await Held.make("lockretryno")
        let attempts = Attempts()
        let error = try await #require(throws: PostgresError.self) {
            try await held.pool.transaction(lockTimeouts: false) { connection in
                _ = await attempts.next()
                try await connection.query("UPDATE held SET n = n + 1 WHERE id = 1")
            }
        }
        #expect(error.isLockNotAvailable)
        #expect(await attempts.count == 1)
        try await held.holder.simpleQuery("ROLLBACK")
        await held.close()
    }

    @Test func aLockThatIsNeverReleasedStillFailsAfterTheAttempts() async throws {
        let held = try await Held.make("lockretrygiveup")
        let attempts = Attempts()
        let error = try await #require(throws: PostgresError.self) {
            try await held.pool.transaction(maxAttempts: 3) { connection in
                _ = await attempts.next()
                try await connection.query("UPDATE held SET n = n + 1 WHERE id = 1")
            }
        }
        #expect(error.isLockNotAvailable)
        #expect(await attempts.count == 3)
        try await held.holder.simpleQuery("ROLLBACK")
        await held.close()
    }
}
