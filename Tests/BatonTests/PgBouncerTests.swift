import Baton
import BatonCore
import BatonTesting
import Foundation
import Postgres
import Testing

/// Baton through Debian's PgBouncer 1.18 in transaction pooling mode (`--pooler pgbouncer`): no
/// named prepared statements, limits set per transaction, LISTEN on a direct connection
/// (`--listen-url`). Skipped, saying so, only where the pgbouncer binary is missing; scripts/test
/// installs it, so CI runs it.
@Suite("Through PgBouncer (transaction mode)", .serialized,
       .enabled(if: PgBouncer.binary != nil,
                "SKIPPED: no pgbouncer binary on PATH or in /usr/sbin (apt-get install pgbouncer; scripts/test installs it)"))
struct PgBouncerTests {
    /// assign → notify → a one-second SLA (met by a signal, else escalated) → end.
    static let flow = """
        name: touch
        start: route
        steps:
          route:
            assign: { team: sales, strategy: round_robin }
            next: tell
          tell:
            notify: { to: [owner], message: "{{contact.id}} is yours" }
            next: wait
          wait:
            wait_for_sla: { event: first_touch, within: 1s }
            on_met: met
            on_breach: escalate
          escalate:
            escalate: { reassign_to: backup, notify: [manager], priority: high }
            next: breached
          met:
            end: { outcome: met }
          breached:
            end: { outcome: breached }
        """

    /// A store whose pool goes through `bouncer` the way baton-worker's does with `--pooler pgbouncer`.
    func pooledStore(_ bouncer: PgBouncer, _ engine: Engine) throws -> Store {
        var config = try ConnectionConfig(bouncer.url(database: engine.config.database), connectTimeoutSeconds: 60, applicationName: "baton-tests")
        config.pooling = .transactionPooler
        config.timeouts = .within(lease: .seconds(10))
        return Store(pool: ConnectionPool(config, maxConnections: 4, checkoutTimeout: .seconds(60)))
    }

    @Test func fourWorkersThroughAPoolOfEightCompleteEveryInstanceWithoutAnError() async throws {
        try await PgBouncer.with(poolSize: 8) { try await fourWorkers(through: $0) }
    }

    func fourWorkers(through bouncer: PgBouncer) async throws {
        let engine = try await Engine.make("pgbouncer4", workflows: [Self.flow])
        let pooled = try pooledStore(bouncer, engine)
        defer { Task { await pooled.pool.close(); await engine.close() } }
        let count = 300
        let through = bouncer.url(database: engine.config.database)
        let workers = try (1...4).map { n in
            try ChildProcess(try Engine.binary("baton-worker"), [
                "--id", "pgb\(n)", "--pooler", "pgbouncer", "--listen-url", engine.config.urlForChildren,
                "--concurrency", "2", "--batch-size", "10", "--poll-interval", "200ms", "--lease", "5s",
                "--log-format", "json", "--log-level", "notice",
            ], environment: ["DATABASE_URL": through])
        }
        // Enrolled and signalled through PgBouncer too, while the workers run: every other contact
        // touches its lead; the rest breach their one-second SLA and are escalated.
        for start in stride(from: 0, to: count, by: 50) {
            _ = try await pooled.enroll((start..<start + 50).map { EnrollmentRequest(contact: "P-\($0)") }, in: "touch")
            for n in stride(from: start, to: start + 50, by: 2) {
                _ = try await pooled.signal("first_touch", contact: "P-\(n)", payload: nil)
            }
        }
        // Reloads on the way (channels re-read through PgBouncer), no work dropped.
        for worker in workers { worker.send(SIGHUP) }
        let finished = try await eventually(timeout: .seconds(180)) {
            try await engine.scalar("SELECT count(*) FROM workflow_instances WHERE state = 'completed'") == count
        }
        let delivered = try await eventually(timeout: .seconds(60)) {
            try await engine.scalar("SELECT count(*) FROM outbox WHERE status <> 'delivered'") == 0
        }
        for worker in workers { worker.send(SIGTERM) }
        for worker in workers { #expect(await worker.wait() == 0, "output: \(worker.output.suffix(3000))") }
        let completed: Int = try await engine.scalar("SELECT count(*) FROM workflow_instances WHERE state = 'completed'")
        #expect(finished, "completed: \(completed) of \(count)")
        #expect(delivered)
        #expect(try await engine.scalar("SELECT count(*) FROM workflow_instances WHERE state = 'failed'") == 0)
        #expect(try await engine.scalar("SELECT count(DISTINCT worker) FROM instance_events") >= 2)
        for worker in workers {
            let errors = worker.output.split(separator: "\n").filter { $0.contains(#""level":"error""#) }
            #expect(errors.isEmpty, "errors in a worker's log: \(errors.prefix(5))")
        }
    }

    @Test func limitsHoldPerTransactionAndTheSessionTimeZoneIsKeptAcrossServerSessions() async throws {
        try await PgBouncer.with(poolSize: 2) { try await limitsAndTimeZone(through: $0) }
    }

    func limitsAndTimeZone(through bouncer: PgBouncer) async throws {
        let engine = try await Engine.make("pgbouncerset")
        defer { Task { await engine.close() } }
        // New server sessions start in another time zone: PgBouncer must restore the client's UTC.
        try await engine.store.pool.withConnection { connection in
            _ = try await connection.executeScript("ALTER DATABASE \(engine.config.database) SET timezone = 'Pacific/Auckland'")
        }
        var config = try ConnectionConfig(bouncer.url(database: engine.config.database), connectTimeoutSeconds: 60, applicationName: "baton-tests")
        config.pooling = .transactionPooler
        config.timeouts = SessionTimeouts(statement: .milliseconds(300), lock: .milliseconds(200))
        let pool = ConnectionPool(config, maxConnections: 4)
        defer { Task { await pool.close() } }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    for _ in 0..<20 {
                        try await pool.withConnection { connection in
                            let row = try await connection.query("SELECT current_setting('TimeZone'), current_setting('statement_timeout'), now()")[0]
                            #expect(try row.decode(String.self, at: 0) == "UTC")
                            #expect(try row.decode(String.self, at: 1) == "300ms")
                            let now = try row.decode(Date.self, at: 2)
                            #expect(abs(now.timeIntervalSinceNow) < 600, "\(now) is not now: the time zone was lost")
                        }
                        try await pool.transaction { connection in
                            let row = try await connection.query("SELECT current_setting('lock_timeout')")[0]
                            #expect(try row.decode(String.self, at: 0) == "200ms")
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let error = try await #require(throws: PostgresError.self) {
            try await pool.withConnection { try await $0.query("SELECT pg_sleep(30)") }
        }
        #expect(error.isQueryCanceled)
    }
}
