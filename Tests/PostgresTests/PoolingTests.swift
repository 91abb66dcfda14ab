@testable import Postgres
import BatonTesting
import Foundation
import Testing

/// `Pooling.transactionPooler`: nothing outlives a transaction, so a pooler in transaction mode
/// (PgBouncer) can lend each transaction another server session. Shown here on a direct server
/// session, where what is left behind can be seen; the PgBouncer suite runs the same through one.
@Suite("Transaction-pooler mode")
struct PoolingTests {
    let config: ConnectionConfig
    init() async throws {
        var config = try await TestDatabase.create("pooling")
        config.pooling = .transactionPooler
        config.timeouts = SessionTimeouts(statement: .milliseconds(1500), lock: .milliseconds(700), idleInTransaction: .seconds(9))
        self.config = config
    }

    @Test func sendsNoStartupOptions() throws {
        let pairs = Dictionary(config.keywordValuePairs(), uniquingKeysWith: { _, last in last })
        #expect(pairs["options"] == nil)
        #expect(pairs["keepalives"] == "1")
    }

    @Test func preparedStatementsRunUnnamed() async throws {
        let connection = try await Connection.connect(config)
        defer { Task { await connection.close() } }
        let prepared = PreparedStatement(name: "baton_test_pooled", sql: "SELECT $1::int + 1")
        for n in 0..<3 { #expect(try await connection.query(prepared, [n])[0].decode(Int.self, at: 0) == n + 1) }
        #expect(try await connection.simpleQuery("SELECT count(*) FROM pg_prepared_statements")[0].decode(Int.self, at: 0) == 0)
    }

    @Test func theLimitsHoldForEachStatementAndTransactionAndNoLonger() async throws {
        let connection = try await Connection.connect(config)
        defer { Task { await connection.close() } }
        // A statement outside a transaction: set with it, in the same implicit transaction.
        let row = try await connection.query(
            "SELECT current_setting('statement_timeout'), current_setting('lock_timeout'), current_setting('idle_in_transaction_session_timeout')")[0]
        #expect(try row.decode(String.self, at: 0) == "1500ms")
        #expect(try row.decode(String.self, at: 1) == "700ms")
        #expect(try row.decode(String.self, at: 2) == "9s")
        // The session itself keeps the server's defaults: nothing is left for the next client.
        #expect(try await connection.simpleQuery("SHOW statement_timeout")[0].decode(String.self, at: 0) == "0")
        let inside = try await connection.transaction { connection in
            try await connection.simpleQuery("SHOW lock_timeout")[0].decode(String.self, at: 0)
        }
        #expect(inside == "700ms")
        #expect(try await connection.simpleQuery("SHOW lock_timeout")[0].decode(String.self, at: 0) == "0")
        let results = try await connection.pipeline([Statement("SELECT current_setting('statement_timeout')"), Statement("SELECT 2")])
        #expect(results.count == 2)
        #expect(try results[0][0].decode(String.self, at: 0) == "1500ms")
    }

    @Test func aStatementRunningTooLongIsCancelled() async throws {
        var config = config
        config.timeouts = SessionTimeouts(statement: .milliseconds(200))
        let connection = try await Connection.connect(config)
        defer { Task { await connection.close() } }
        let error = try await #require(throws: PostgresError.self) { try await connection.query("SELECT pg_sleep(30)") }
        #expect(error.isQueryCanceled)
        #expect(try await connection.query("SELECT 1")[0].decode(Int.self, at: 0) == 1)
    }

    @Test func listenRefusesAPooledConnection() async throws {
        let connection = try await Connection.connect(config)
        defer { Task { await connection.close() } }
        let error = try await #require(throws: PostgresError.self) { _ = try await connection.notifications(listeningTo: ["x"]) }
        #expect("\(error)".contains("direct connection"))
    }
}
