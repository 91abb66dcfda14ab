@testable import Postgres
import BatonTesting
import Foundation
import Testing

/// Statement, lock and idle-transaction limits reach the server with every connection, and the
/// TCP checks that notice a dead peer are always on.
@Suite("Session timeouts")
struct TimeoutTests {
    let config: ConnectionConfig
    init() async throws { config = try await TestDatabase.create("timeouts") }

    func connect(_ timeouts: SessionTimeouts) async throws -> Connection {
        var config = config
        config.timeouts = timeouts
        return try await Connection.connect(config)
    }

    func setting(_ connection: Connection, _ name: StaticString) async throws -> String {
        try await connection.simpleQuery(name)[0].decode(String.self, at: 0)
    }

    @Test func theLimitsReachTheServer() async throws {
        let connection = try await connect(SessionTimeouts(
            statement: .milliseconds(1500), lock: .milliseconds(700), idleInTransaction: .seconds(9)))
        defer { Task { await connection.close() } }
        #expect(try await setting(connection, "SHOW statement_timeout") == "1500ms")
        #expect(try await setting(connection, "SHOW lock_timeout") == "700ms")
        #expect(try await setting(connection, "SHOW idle_in_transaction_session_timeout") == "9s")
    }

    @Test func aStatementRunningTooLongIsCancelled() async throws {
        let connection = try await connect(SessionTimeouts(statement: .milliseconds(200)))
        defer { Task { await connection.close() } }
        let error = try await #require(throws: PostgresError.self) { try await connection.query("SELECT pg_sleep(30)") }
        #expect(error.isQueryCanceled)
        #expect(try await connection.query("SELECT 1")[0].decode(Int.self, at: 0) == 1)
    }

    @Test func aLockWaitGivesUp() async throws {
        let holder = try await Connection.connect(config)
        defer { Task { await holder.close() } }
        try await holder.query("CREATE TABLE IF NOT EXISTS held (id int PRIMARY KEY)")
        try await holder.query("INSERT INTO held VALUES (1) ON CONFLICT DO NOTHING")
        try await holder.simpleQuery("BEGIN")
        try await holder.query("SELECT id FROM held WHERE id = 1 FOR UPDATE")
        let waiter = try await connect(SessionTimeouts(lock: .milliseconds(200)))
        defer { Task { await waiter.close() } }
        let error = try await #require(throws: PostgresError.self) {
            try await waiter.query("SELECT id FROM held WHERE id = 1 FOR UPDATE")
        }
        #expect(error.sqlState == "55P03")
        try await holder.simpleQuery("ROLLBACK")
    }

    @Test func anAbandonedTransactionIsClosedByTheServer() async throws {
        let connection = try await connect(SessionTimeouts(idleInTransaction: .milliseconds(200)))
        defer { Task { await connection.close() } }
        try await connection.simpleQuery("BEGIN")
        try await Task.sleep(for: .seconds(2))
        await #expect(throws: PostgresError.self) { try await connection.query("SELECT 1") }
    }

    @Test func theConnectionStringsOwnSettingsWin() async throws {
        let server = try TestDatabase.serverConfig()
        let base = ProcessInfo.processInfo.environment["DATABASE_URL"] ?? ""
        let own = base.contains("://")
            ? base + (base.contains("?") ? "&" : "?") + "options=-c%20statement_timeout%3D7000"
            : base + " options='-c statement_timeout=7000'"
        var config = try ConnectionConfig(own, connectTimeoutSeconds: 60).with(database: self.config.database)
        config.timeouts = SessionTimeouts(statement: .seconds(1), lock: .seconds(2))
        let connection = try await Connection.connect(config)
        defer { Task { await connection.close() } }
        #expect(try await setting(connection, "SHOW statement_timeout") == "7s")
        #expect(try await setting(connection, "SHOW lock_timeout") == "2s")
        _ = server
    }

    @Test func keepalivesAreAlwaysOnAndPoolerModeSendsNoServerSettings() throws {
        var config = try ConnectionConfig("host=localhost dbname=x")
        config.timeouts = SessionTimeouts(statement: .seconds(5), keepaliveIdle: .milliseconds(2500),
                                          tcpUserTimeout: .seconds(5), sendServerSettings: false)
        let pairs = Dictionary(config.keywordValuePairs(), uniquingKeysWith: { _, last in last })
        #expect(pairs["keepalives"] == "1")
        #expect(pairs["keepalives_idle"] == "3")
        #expect(pairs["tcp_user_timeout"] == "5000")
        #expect(pairs["options"] == nil)
    }

    @Test func limitsForALeaseAreAllShorterThanTheLease() {
        let lease = Duration.seconds(10)
        let timeouts = SessionTimeouts.within(lease: lease)
        for limit in [timeouts.statement, timeouts.lock, timeouts.tcpUserTimeout].compactMap({ $0 }) {
            #expect(limit < lease)
        }
        #expect(timeouts.keepaliveIdle + timeouts.keepaliveInterval * timeouts.keepaliveCount < lease)
        #expect(timeouts.idleInTransaction == lease)
    }
}
