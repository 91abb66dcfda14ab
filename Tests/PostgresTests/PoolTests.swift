import BatonTesting
import Foundation
import Postgres
import Testing

@Suite("Connection pool")
struct PoolTests {
    @Test func twoHundredTasksThroughAPoolOfEight() async throws {
        let config = try await TestDatabase.create("pool")
        let pool = ConnectionPool(config, maxConnections: 8, checkoutTimeout: .seconds(60))
        defer { Task { await pool.close() } }
        try await pool.withConnection { try await $0.query("CREATE TABLE hits (task int, backend int)") }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<200 {
                group.addTask {
                    try await pool.withConnection { connection in
                        _ = try await connection.query(
                            "INSERT INTO hits SELECT $1, pg_backend_pid() FROM pg_sleep(0.01)", [task])
                    }
                }
            }
            try await group.waitForAll()
        }
        let row = try await pool.withConnection {
            try await $0.query("SELECT count(*), count(DISTINCT backend) FROM hits")[0]
        }
        #expect(try row.decode(Int.self, at: 0) == 200)
        #expect(try row.decode(Int.self, at: 1) <= 8)
        #expect(await pool.statistics.open <= 8)
    }

    @Test func checkoutTimesOutWhenThePoolIsExhausted() async throws {
        let config = try await TestDatabase.create("pooltimeout")
        let pool = ConnectionPool(config, maxConnections: 1, checkoutTimeout: .milliseconds(200))
        defer { Task { await pool.close() } }
        try await pool.withConnection { _ in
            let error = try await #require(throws: PostgresError.self) {
                try await pool.withConnection { _ in }
            }
            #expect(error.code == .poolTimeout)
        }
        // The slot is free again.
        try await pool.withConnection { _ in }
    }

    @Test func brokenConnectionIsReplaced() async throws {
        let config = try await TestDatabase.create("poolbroken")
        let pool = ConnectionPool(config, maxConnections: 1)
        let killer = try await Connection.connect(config)
        defer { Task { await pool.close(); await killer.close() } }
        let pid = try await pool.withConnection { try await $0.backendPID() }
        // pg_terminate_backend only signals the backend: wait until it is gone (a loaded machine
        // can take longer than any fixed pause), so the pool's connection is really broken.
        #expect(try await killer.query("SELECT pg_terminate_backend($1, 60000)", [Int(pid)])[0].decode(Bool.self, at: 0))
        let newPID = try await pool.withConnection { try await $0.backendPID() }
        #expect(newPID != pid)
    }

    @Test func connectionReturnedInsideATransactionIsDiscarded() async throws {
        let config = try await TestDatabase.create("pooltx")
        let pool = ConnectionPool(config, maxConnections: 1)
        defer { Task { await pool.close() } }
        let pid = try await pool.withConnection { connection in
            try await connection.simpleQuery("BEGIN")
            return try await connection.backendPID()
        }
        #expect(await pool.statistics.open == 0)
        // A new connection, not the one left inside BEGIN.
        #expect(try await pool.withConnection { try await $0.backendPID() } != pid)
    }

    /// Restarts a PostgreSQL of its own (scripts/pg with another home), so the other suites'
    /// server is untouched.
    @Test func poolRecoversAfterTheServerRestarts() async throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("baton-pg-restart-\(getpid())").path
        let pg = packageRoot.appendingPathComponent("scripts/pg").path
        let env = ["BATON_PG_HOME": home]
        do {
            try await PrivateClusterTurns.shared.exclusively { try await restartScenario(pg, env) }
        } catch {
            _ = try? await runProgram(pg, ["destroy"], environment: env)
            throw error
        }
        _ = try await runProgram(pg, ["destroy"], environment: env)
    }

    private func restartScenario(_ pg: String, _ env: [String: String]) async throws {
        let started = try await runProgram(pg, ["start"], environment: env)
        try #require(started.status == 0, "scripts/pg start failed: \(started.output)")
        let url = try #require(started.output.split(separator: "\n").last { $0.hasPrefix("postgresql://") })
        let pool = ConnectionPool(try ConnectionConfig(String(url), connectTimeoutSeconds: 60), maxConnections: 4)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 { group.addTask { try await pool.withConnection { _ = try await $0.query("SELECT pg_sleep(0.05)") } } }
            try await group.waitForAll()
        }
        #expect(await pool.statistics.idle > 0)

        let stopped = try await runProgram(pg, ["stop"], environment: env)
        try #require(stopped.status == 0, "scripts/pg stop failed: \(stopped.output)")
        let down = try await #require(throws: PostgresError.self) {
            try await pool.withConnection { try await $0.query("SELECT 1") }
        }
        #expect(down.isConnectionError)
        let restarted = try await runProgram(pg, ["start"], environment: env)
        try #require(restarted.status == 0, "scripts/pg start failed: \(restarted.output)")

        let value = try await pool.withConnection { try await $0.query("SELECT 42")[0].decode(Int.self, at: 0) }
        #expect(value == 42)
        await pool.close()
    }
}
