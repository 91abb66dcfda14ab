import ArgumentParser
import Baton
import BatonCore
import Foundation
import Postgres

/// Enrolls N contacts in a 4-step workflow (assign round robin, notify, branch, end) and times
/// one in-process worker draining them.
struct WorkerThroughput: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Steps per second of one worker: N instances of assign → notify → branch → end.")

    @Option(help: "Database URL of a server where a scratch database may be created (default: DATABASE_URL).")
    var databaseURL: String?
    @Option(help: "Instances to run.") var instances = 20_000
    @Option(help: "Claim loops in the worker.") var concurrency = 2
    @Option(help: "Instances per batch.") var batchSize = 50

    static let workflow = """
        name: bench
        start: route
        steps:
          route:
            assign: { team: sales, strategy: round_robin }
            next: tell
          tell:
            notify: { to: [owner], message: "{{contact.id}} is yours" }
            next: pick
          pick:
            branch:
              cases:
                - when: { tier: enterprise }
                  next: done
              otherwise: done
          done:
            end: {}
        """
    static let teams = """
        teams:
          - name: sales
            members:
              - { id: a, name: A }
              - { id: b, name: B }
              - { id: c, name: C }
              - { id: d, name: D }
              - { id: e, name: E }
              - { id: f, name: F }
              - { id: g, name: G }
        """

    func run() async throws {
        let server = try ConnectionConfig.fromEnvironment(url: databaseURL, applicationName: "baton-bench")
        let name = "baton_bench_\(getpid())"
        let admin = try await Connection.connect(server)
        // A fixed-shape identifier (letters, digits, _), not a value.
        try await admin.executeScript("CREATE DATABASE \(name)")
        let pool = ConnectionPool(server.with(database: name), maxConnections: concurrency + 3)
        let store = Store(pool: pool)
        _ = try await store.migrate()
        _ = try await store.applyTeams(try DefinitionLoader.teams(from: Self.teams, file: "teams"))
        _ = try await store.applyWorkflow(try DefinitionLoader.workflow(from: Self.workflow, file: "bench"), source: Self.workflow, file: nil)
        var index = 0
        while index < instances {
            _ = try await store.enroll((index..<min(index + 1000, instances)).map { EnrollmentRequest(contact: "C-\($0)") }, in: "bench")
            index += 1000
        }
        let worker = Worker(store: store, configuration: WorkerConfiguration(
            id: "bench", concurrency: concurrency, batchSize: batchSize, pollInterval: .seconds(1), untilIdle: true))
        let start = ContinuousClock.now
        try await worker.run()
        let elapsed = ContinuousClock.now - start
        let stats = await worker.statistics
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print(String(format: "one worker (concurrency %d, batch %d): %d instances, %d steps in %.2f s = %.0f steps/s, %.0f instances/s",
                     concurrency, batchSize, stats.instances, stats.steps, seconds, Double(stats.steps) / seconds,
                     Double(stats.instances) / seconds))
        await pool.close()
        try await admin.executeScript("DROP DATABASE \(name) WITH (FORCE)")
        await admin.close()
    }
}
