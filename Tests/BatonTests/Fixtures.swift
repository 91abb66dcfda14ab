import Baton
import BatonCore
import BatonTesting
import Foundation
import Postgres

/// A migrated private database with teams applied, and helpers to run workflows on it.
struct Engine {
    let config: ConnectionConfig
    let store: Store

    /// Assign round robin in team `sales`, then wait for a first touch for `within`; either way, end.
    /// The work stays open while it waits (it counts against its owner's capacity).
    static func waitForTouch(_ name: String, within: String) -> String {
        """
        name: \(name)
        start: route
        steps:
          route:
            assign: { team: sales, strategy: round_robin }
            next: touch
          touch:
            wait_for_sla: { event: first_touch, within: \(within) }
            on_met: done
            on_breach: done
          done:
            end: {}
        """
    }

    static let sevenMembers = """
        calendars:
          - name: always
            timezone: UTC
            hours: { mon: "00:00-24:00", tue: "00:00-24:00", wed: "00:00-24:00", thu: "00:00-24:00", fri: "00:00-24:00", sat: "00:00-24:00", sun: "00:00-24:00" }
          - name: one-minute
            timezone: UTC
            hours: { mon: "00:00-00:01", tue: "00:00-00:01", wed: "00:00-00:01", thu: "00:00-00:01", fri: "00:00-00:01", sat: "00:00-00:01", sun: "00:00-00:01" }
        teams:
          - name: sales
            kind: sales
            manager: lead
            members:
              - { id: m1, name: Member One, email: m1@example.com, backup: m2 }
              - { id: m2, name: Member Two, email: m2@example.com, backup: m1 }
              - { id: m3, name: Member Three }
              - { id: m4, name: Member Four }
              - { id: m5, name: Member Five }
              - { id: m6, name: Member Six }
              - { id: m7, name: Member Seven }
          - name: leads
            kind: sales
            members:
              - { id: lead, name: Team Lead, email: lead@example.com }
          - name: retention
            kind: retention
            members:
              - { id: r1, name: Retention One, capacity: 100000 }
              - { id: r2, name: Retention Two, capacity: 100000 }
        """

    static func make(_ label: String, teams: String = sevenMembers, workflows: [String] = []) async throws -> Engine {
        let config = try await TestDatabase.create(label)
        let store = Store(pool: ConnectionPool(config, maxConnections: 6, checkoutTimeout: .seconds(60)))
        _ = try await store.migrate()
        _ = try await store.applyTeams(try DefinitionLoader.teams(from: teams, file: "teams.yaml"))
        let known = try await store.knownNames()
        for text in workflows {
            _ = try await store.applyWorkflow(
                try DefinitionLoader.workflow(from: text, file: "workflow.yaml", known: known), source: text, file: nil)
        }
        return Engine(config: config, store: store)
    }

    /// Runs an in-process worker until nothing is due.
    /// `machine` sets the retry backoff (tests that look at an instance between its attempts give
    /// it one longer than any run, so a slow machine cannot retry it before they look).
    func drain(id: String = "test-worker", lease: Duration = .seconds(10), machine: Machine = Machine()) async throws {
        let worker = Worker(store: store, configuration: WorkerConfiguration(
            id: id, concurrency: 2, batchSize: 50, pollInterval: .milliseconds(100), lease: lease, untilIdle: true),
            machine: machine)
        try await worker.run()
    }

    func start(_ workflow: String, _ contact: String, _ attributes: [String: String] = [:]) async throws -> Int {
        try await store.enroll([EnrollmentRequest(contact: contact, attributes: attributes)], in: workflow)[0].instance
    }

    func scalar<T: PostgresDecodable>(_ sql: String, _ parameters: [(any PostgresEncodable)?] = []) async throws -> T {
        try await store.pool.withConnection { try await $0.query(sql, parameters)[0].decode(T.self, at: 0) }
    }

    func rows(_ sql: String, _ parameters: [(any PostgresEncodable)?] = []) async throws -> QueryResult {
        try await store.pool.withConnection { try await $0.query(sql, parameters) }
    }

    func state(_ instance: Int) async throws -> (state: String, step: String) {
        let row = try await rows("SELECT state, step FROM workflow_instances WHERE id = $1", [instance])[0]
        return (try row.decode("state"), try row.decode("step"))
    }

    /// A session holding the rows `sql` locks (`SELECT … FOR UPDATE`) in an open transaction, as an
    /// admin's or another worker's would; it ends with `ROLLBACK` or `COMMIT`, then `close()`.
    func hold(_ sql: String, _ parameters: [(any PostgresEncodable)?] = []) async throws -> Connection {
        let holder = try await Connection.connect(config)
        try await holder.simpleQuery("BEGIN")
        try await holder.query(sql, parameters)
        return holder
    }

    func close() async { await store.pool.close() }

    /// The directory of the test binaries (baton-worker, batonctl sit next to the test bundle).
    static var binDirectory: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    }

    static func binary(_ name: String) throws -> String {
        let path = binDirectory.appendingPathComponent(name).path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw TestSetupError("\(path) is missing: build everything first (scripts/test runs swift build --build-tests)")
        }
        return path
    }

    /// Starts a baton-worker process on this database.
    func spawnWorker(_ arguments: [String]) throws -> ChildProcess {
        try ChildProcess(try Engine.binary("baton-worker"), arguments, environment: ["DATABASE_URL": config.urlForChildren])
    }
}

extension ConnectionConfig {
    /// The URL child processes get: the server's DATABASE_URL with this database name, and a
    /// minute to connect (as the tests' own connections have) unless it names a connect_timeout:
    /// on a loaded machine a connect may take longer than the programs' 5 s default.
    var urlForChildren: String {
        let base = ProcessInfo.processInfo.environment["DATABASE_URL"] ?? ""
        let timeout = base.contains("connect_timeout") ? "" : " connect_timeout=60"
        // Key/value form works for both URL and key/value bases: libpq lets a later dbname win.
        return base.contains("://") ? replacingDatabase(in: base) : "\(base) dbname=\(database)\(timeout)"
    }

    private func replacingDatabase(in url: String) -> String {
        guard var components = URLComponents(string: url) else { return url }
        components.path = "/\(database)"
        if !url.contains("connect_timeout") {
            components.queryItems = (components.queryItems ?? []) + [URLQueryItem(name: "connect_timeout", value: "60")]
        }
        return components.string ?? url
    }
}

/// Polls `condition` every 100 ms until it holds or `timeout` passes.
func eventually(timeout: Duration = .seconds(60), _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(100))
    }
    return try await condition()
}
