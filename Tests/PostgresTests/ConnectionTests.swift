import BatonTesting
import Foundation
import Postgres
import Testing

@Suite("Connections, statements, errors and transactions")
struct ConnectionTests {
    let config: ConnectionConfig
    init() async throws { config = try await TestDatabase.create("conn") }

    @Test func injectionAttemptStaysAValue() async throws {
        let connection = try await Connection.connect(config)
        defer { Task { await connection.close() } }
        try await connection.query("CREATE TABLE people (name text)")
        let evil = "x'); DROP TABLE people; --"
        try await connection.query("INSERT INTO people (name) VALUES ($1)", [evil])
        let rows = try await connection.query("SELECT name FROM people WHERE name = $1", [evil])
        #expect(rows.count == 1)
        #expect(try rows[0].decode(String.self, "name") == evil)
        #expect(try await connection.query("SELECT count(*) FROM people")[0].decode(Int.self, at: 0) == 1)
    }

    @Test func syntaxErrorCarriesSQLState() async throws {
        let connection = try await Connection.connect(config)
        defer { Task { await connection.close() } }
        let error = try await #require(throws: PostgresError.self) { try await connection.query("SELEC 1") }
        #expect(error.code == .server)
        #expect(error.sqlState == "42601")
        #expect(error.message.contains("syntax error"))
        // The connection is still usable afterwards.
        #expect(try await connection.query("SELECT 1")[0].decode(Int.self, at: 0) == 1)
    }

    @Test func constraintViolationNamesTheConstraint() async throws {
        let connection = try await Connection.connect(config)
        defer { Task { await connection.close() } }
        try await connection.query("CREATE TABLE members (id text CONSTRAINT members_pk PRIMARY KEY, email text)")
        try await connection.query("INSERT INTO members VALUES ($1, $2)", ["ana", "secret@example.com"])
        let error = try await #require(throws: PostgresError.self) {
            try await connection.query("INSERT INTO members VALUES ($1, $2)", ["ana", "secret@example.com"])
        }
        #expect(error.isUniqueViolation)
        #expect(error.sqlState == "23505")
        #expect(error.constraint == "members_pk")
        #expect(error.table == "members")
        #expect(error.detail?.contains("ana") == true)
        // The printable form leaves out the detail, which echoes row values.
        #expect(!error.description.contains("ana"))
    }

    @Test func wrongPasswordFailsFastWithoutShowingIt() async throws {
        let server = try TestDatabase.serverConfig()
        let url = "postgresql://\(server.user):hunter2-wrong@\(server.host):\(server.port)/\(server.database)?sslmode=disable"
        let start = ContinuousClock.now
        let error = try await #require(throws: PostgresError.self) { try await Connection.connect(ConnectionConfig(url, connectTimeoutSeconds: 60)) }
        // Refused at once, not after the connect timeout (60 s here, so a loaded machine's slow connect
        // cannot pass for a wait): half of it is a bound no refusal comes near.
        #expect(ContinuousClock.now - start < .seconds(30))
        #expect(error.code == .connectionFailed)
        #expect(error.message.contains("authentication failed"))
        #expect(error.message.contains("\(server.host):\(server.port)"))
        #expect(!error.description.contains("hunter2"))
    }

    @Test func unknownDatabaseFailsWithItsName() async throws {
        let server = try TestDatabase.serverConfig()
        let error = try await #require(throws: PostgresError.self) {
            try await Connection.connect(server.with(database: "no_such_db_here"))
        }
        #expect(error.code == .connectionFailed)
        #expect(error.message.contains("unknown database"))
        #expect(error.message.contains("no_such_db_here"))
    }

    @Test func closedPortFailsFast() async throws {
        // Port 1 on loopback is never a PostgreSQL server.
        let config = try ConnectionConfig("postgresql://baton:sekret@127.0.0.1:1/baton?sslmode=disable")
        let start = ContinuousClock.now
        let error = try await #require(throws: PostgresError.self) { try await Connection.connect(config) }
        #expect(ContinuousClock.now - start < .seconds(5))
        #expect(error.message.contains("connection refused"))
        #expect(error.message.contains("127.0.0.1:1/baton"))
        #expect(!error.description.contains("sekret"))
    }

    @Test func badURLIsAClearErrorWithoutThePassword() throws {
        let error = try #require(throws: PostgresError.self) {
            try ConnectionConfig("postgresql://u:topsecret@host:notaport/db?sslmode=bogus&foo")
        }
        #expect(error.code == .invalidConfiguration)
        #expect(error.message.hasPrefix("bad database URL"))
        #expect(!error.description.contains("topsecret"))
        let keyValue = try #require(throws: PostgresError.self) { try ConnectionConfig("host=a password=topsecret dbname") }
        #expect(!keyValue.description.contains("topsecret"))
    }

    @Test func configDescriptionHidesThePassword() throws {
        let config = try ConnectionConfig("postgresql://ana:pa55word@db.example.com:6543/sales")
        #expect(config.description == "postgresql://ana@db.example.com:6543/sales")
        #expect(config.with(database: "other").endpoint == "db.example.com:6543/other")
    }

    @Test func transactionCommitsOnReturnAndRollsBackOnThrow() async throws {
        struct Boom: Error {}
        let connection = try await Connection.connect(config)
        defer { Task { await connection.close() } }
        try await connection.query("CREATE TABLE ledger (n int)")
        try await connection.transaction { try await $0.query("INSERT INTO ledger VALUES ($1)", [1]) }
        await #expect(throws: Boom.self) {
            try await connection.transaction { connection in
                try await connection.query("INSERT INTO ledger VALUES ($1)", [2])
                throw Boom()
            }
        }
        let rows = try await connection.query("SELECT n FROM ledger ORDER BY n")
        #expect(try rows.map { try $0.decode(Int.self, at: 0) } == [1])
    }

    @Test func commitOfAFailedTransactionThrows() async throws {
        let connection = try await Connection.connect(config)
        defer { Task { await connection.close() } }
        await #expect(throws: PostgresError.self) {
            try await connection.transaction { connection in
                _ = try? await connection.query("SELECT 1/0")
            }
        }
        #expect(try await connection.query("SELECT 2")[0].decode(Int.self, at: 0) == 2)
    }

    @Test func serializationFailuresAreRetried() async throws {
        // A minute's checkout timeout: on a loaded machine a task waited over the default 10 s
        // behind the others' retries (the retry, not the wait, is what this test is about).
        let pool = ConnectionPool(config, maxConnections: 4, checkoutTimeout: .seconds(60))
        defer { Task { await pool.close() } }
        try await pool.withConnection { try await $0.executeScript("CREATE TABLE counter (n int); INSERT INTO counter VALUES (0)") }
        // 8 serializable increments racing on one row: some fail with 40001 and are retried.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    try await pool.transaction(isolation: .serializable, maxAttempts: 50) { connection in
                        let n = try await connection.query("SELECT n FROM counter")[0].decode(Int.self, at: 0)
                        try await connection.query("UPDATE counter SET n = $1", [n + 1])
                    }
                }
            }
            try await group.waitForAll()
        }
        let n = try await pool.withConnection { try await $0.query("SELECT n FROM counter")[0].decode(Int.self, at: 0) }
        #expect(n == 8)
    }

    @Test func preparedStatementsRunRepeatedly() async throws {
        let connection = try await Connection.connect(config)
        defer { Task { await connection.close() } }
        let square = PreparedStatement(name: "square", sql: "SELECT $1::int8 * $1::int8")
        for i in 1...5 {
            #expect(try await connection.query(square, [i])[0].decode(Int.self, at: 0) == i * i)
        }
    }

    @Test func cancellingATaskCancelsItsStatement() async throws {
        let connection = try await Connection.connect(config)
        defer { Task { await connection.close() } }
        let task = Task { try await connection.query("SELECT pg_sleep(30)") }
        try await Task.sleep(for: .milliseconds(300))
        task.cancel()
        let result = await task.result
        guard case .failure(let error as PostgresError) = result else {
            Issue.record("expected a cancelled statement, got \(result)")
            return
        }
        #expect(error.isQueryCanceled)
        #expect(try await connection.query("SELECT 1")[0].decode(Int.self, at: 0) == 1)
    }

    /// A task cancelled while its statement waits behind another on the same connection never sends
    /// it (the server would drop a cancel request that came before the statement), and the statement
    /// ahead of it is not touched.
    @Test func cancellingAQueuedStatementNeverSendsIt() async throws {
        let connection = try await Connection.connect(config)
        let holder = try await Connection.connect(config)
        defer { Task { await connection.close(); await holder.close() } }
        try await connection.query("CREATE TEMPORARY TABLE queued_probe (v int)")
        // The statement ahead waits for a lock another session holds until the queued one is
        // cancelled, however slow the machine: the queued one cannot have run before.
        try await holder.query("SELECT pg_advisory_lock(4242)")
        let ahead = Task { try await connection.query("SELECT pg_advisory_lock(4242)") }
        try await Task.sleep(for: .milliseconds(200))
        let queued = Task { try await connection.query("INSERT INTO queued_probe VALUES (1)") }
        try await Task.sleep(for: .seconds(2))
        queued.cancel()
        try await holder.query("SELECT pg_advisory_unlock(4242)")
        let result = await queued.result
        _ = try await ahead.value
        if case .failure(let error as PostgresError) = result {
            #expect(error.isQueryCanceled)
            #expect(try await connection.query("SELECT count(*) FROM queued_probe")[0].decode(Int.self, at: 0) == 0)
        } else {
            Issue.record("expected a cancelled statement, got \(result)")
        }
    }

    @Test func killedBackendIsAConnectionError() async throws {
        let connection = try await Connection.connect(config)
        let killer = try await Connection.connect(config)
        defer { Task { await connection.close(); await killer.close() } }
        let pid = try await connection.backendPID()
        // Waits until the backend is gone (pg_terminate_backend alone only signals it).
        #expect(try await killer.query("SELECT pg_terminate_backend($1, 60000)", [Int(pid)])[0].decode(Bool.self, at: 0))
        let error = try await #require(throws: PostgresError.self) { try await connection.query("SELECT 1") }
        #expect(error.isConnectionError)
        #expect(await connection.isReusable() == false)
    }
}
