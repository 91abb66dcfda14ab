import BatonTesting
import Foundation
import Postgres
import Testing

@Suite("Pipeline mode and LISTEN/NOTIFY")
struct PipelineAndNotifyTests {
    let config: ConnectionConfig
    init() async throws { config = try await TestDatabase.create("pipe") }

    @Test func thousandInsertsInOneRoundTrip() async throws {
        let connection = try await Connection.connect(config)
        defer { Task { await connection.close() } }
        try await connection.query("CREATE TABLE events (n int PRIMARY KEY, label text)")
        let statements = (1...1000).map { (n: Int) in Statement("INSERT INTO events VALUES ($1, $2)", [n, "event \(n)"]) }
        let results = try await connection.pipeline(statements)
        #expect(results.count == 1000)
        #expect(results.allSatisfy { $0.affectedRows == 1 })
        let row = try await connection.query("SELECT count(*), sum(n) FROM events")[0]
        #expect(try row.decode(Int.self, at: 0) == 1000)
        #expect(try row.decode(Int.self, at: 1) == 500_500)
    }

    @Test func pipelineReturnsRowsInOrder() async throws {
        let connection = try await Connection.connect(config)
        defer { Task { await connection.close() } }
        let results = try await connection.pipeline((1...20).map { Statement("SELECT $1::int8 * 2", [$0]) })
        #expect(try results.map { try $0[0].decode(Int.self, at: 0) } == (1...20).map { $0 * 2 })
    }

    @Test func failingStatementAbortsTheWholePipeline() async throws {
        let connection = try await Connection.connect(config)
        defer { Task { await connection.close() } }
        try await connection.query("CREATE TABLE uniq (n int PRIMARY KEY)")
        let statements = [1, 2, 2, 3].map { Statement("INSERT INTO uniq VALUES ($1)", [$0]) }
        let error = try await #require(throws: PostgresError.self) { try await connection.pipeline(statements) }
        #expect(error.isUniqueViolation)
        #expect(try await connection.query("SELECT count(*) FROM uniq")[0].decode(Int.self, at: 0) == 0)
        // The connection leaves pipeline mode and works normally.
        #expect(try await connection.pipeline([Statement("SELECT 1")]).count == 1)
    }

    /// The listener waits on the socket, so a NOTIFY arrives when it is sent, not at the next probe or
    /// poll. Shown without a stopwatch (a slow machine must not fail a test): with the probe set to an
    /// hour, notifications still arrive, in order, with their payloads — a polling listener would wait
    /// the hour and the test would time out. How fast they arrive is a benchmark's business.
    /// The limit is ten minutes, not one: a machine loaded to 12 took longer than a minute to connect and run it.
    @Test(.timeLimit(.minutes(10))) func notifyArrivesWithoutWaitingForAProbe() async throws {
        let listener = try await Connection.connect(config)
        let sender = try await Connection.connect(config)
        defer { Task { await sender.close(); await listener.close() } }
        let stream = try await listener.notifications(listeningTo: ["baton_test", "other channel"], probeInterval: .seconds(3600))
        var iterator = stream.makeAsyncIterator()
        for trial in 0..<3 {
            try await sender.query("SELECT pg_notify($1, $2)", ["baton_test", "payload \(trial)"])
            let notification = try await iterator.next()
            #expect(notification?.channel == "baton_test")
            #expect(notification?.payload == "payload \(trial)")
        }
        try await sender.query("SELECT pg_notify($1, $2)", ["other channel", "ünïcode"])
        #expect(try await iterator.next()?.payload == "ünïcode")
    }

    /// The probe of a quiet listener re-sends its LISTEN statements: the session still shows what it
    /// listens to in `pg_stat_activity.query` (an empty probe query showed nothing there, and a
    /// test looking for the listener missed it on a machine slow enough for a probe to run), and it
    /// still receives notifications afterwards.
    @Test func aProbedListenerStillShowsItsListenAndReceives() async throws {
        let listener = try await Connection.connect(config)
        let watcher = try await Connection.connect(config)
        defer { Task { await watcher.close(); await listener.close() } }
        let pid = try await listener.backendPID()
        let stream = try await listener.notifications(listeningTo: ["probed"], probeInterval: .milliseconds(100))
        var iterator = stream.makeAsyncIterator()
        // Wait until at least one probe ran: the backend's last query ended after the LISTEN did.
        let listened: Date = try await watcher.query("SELECT query_start FROM pg_stat_activity WHERE pid = $1", [Int(pid)])[0]
            .decode(Date.self, at: 0)
        var probed = false
        for _ in 0..<600 where !probed {
            try await Task.sleep(for: .milliseconds(100))
            let row = try await watcher.query("SELECT query_start, query FROM pg_stat_activity WHERE pid = $1", [Int(pid)])[0]
            probed = try row.decode(Date.self, at: 0) > listened
            if probed { #expect(try row.decode(String.self, at: 1) == #"LISTEN "probed""#) }
        }
        #expect(probed)
        try await watcher.query("SELECT pg_notify($1, $2)", ["probed", "after the probe"])
        #expect(try await iterator.next()?.payload == "after the probe")
    }

    @Test func listeningStopsWhenTheTaskIsCancelled() async throws {
        let listener = try await Connection.connect(config)
        defer { Task { await listener.close() } }
        let stream = try await listener.notifications(listeningTo: ["quiet"])
        let task = Task {
            var count = 0
            for try await _ in stream { count += 1 }
            return count
        }
        try await Task.sleep(for: .milliseconds(200))
        task.cancel()
        #expect(try await task.value == 0)
        // Once the stream ended the connection's queue is free again.
        #expect(try await listener.query("SELECT 1")[0].decode(Int.self, at: 0) == 1)
    }

    @Test func listenerReportsALostConnection() async throws {
        let listener = try await Connection.connect(config)
        let killer = try await Connection.connect(config)
        defer { Task { await killer.close(); await listener.close() } }
        let pid = try await listener.backendPID()
        let stream = try await listener.notifications(listeningTo: ["doomed"])
        try await killer.query("SELECT pg_terminate_backend($1)", [Int(pid)])
        await #expect(throws: PostgresError.self) {
            for try await _ in stream {}
        }
    }
}
