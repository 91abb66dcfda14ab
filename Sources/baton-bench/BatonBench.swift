import ArgumentParser
import Foundation
import Postgres

/// Micro-benchmarks that print rates. Build with `-c release`; see the README's Benchmarks section.
@main
struct BatonBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baton-bench",
        abstract: "Measure Baton's throughput on a real PostgreSQL (build with -c release).",
        subcommands: [PostgresInserts.self, WorkerThroughput.self])
}

struct PostgresInserts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pg-inserts",
        abstract: "Single-row INSERTs on one connection: one round trip each vs pipelined.")

    @Option(help: "Database URL (default: DATABASE_URL, then libpq's PG* variables).")
    var databaseURL: String?

    @Option(help: "Rows per measurement.")
    var rows = 20_000

    func run() async throws {
        let config = try ConnectionConfig.fromEnvironment(url: databaseURL, applicationName: "baton-bench")
        let connection = try await Connection.connect(config)
        // A logged table, like the engine's own.
        try await connection.executeScript(
            "DROP TABLE IF EXISTS bench_inserts; CREATE TABLE bench_inserts (n int8, label text)")
        let insert = "INSERT INTO bench_inserts (n, label) VALUES ($1, $2)"

        let plainRows = min(rows, 10_000)
        var start = ContinuousClock.now
        for n in 0..<plainRows { try await connection.query(insert, [n, "row \(n)"]) }
        report("one INSERT per round trip (autocommit)", plainRows, ContinuousClock.now - start)

        for batch in [100, 1000] {
            start = ContinuousClock.now
            var n = 0
            while n < rows {
                let statements = (n..<min(n + batch, rows)).map { (i: Int) in Statement(insert, [i, "row \(i)"]) }
                _ = try await connection.pipeline(statements)
                n += batch
            }
            report("pipelined, \(batch) INSERTs per sync", rows, ContinuousClock.now - start)
        }
        try await connection.executeScript("DROP TABLE bench_inserts")
        await connection.close()
    }

    func report(_ label: String, _ count: Int, _ elapsed: Duration) {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let padded = label.padding(toLength: 40, withPad: " ", startingAt: 0)
        print(padded + String(format: " %8d rows in %6.2f s = %9.0f rows/s", count, seconds, Double(count) / seconds))
    }
}
