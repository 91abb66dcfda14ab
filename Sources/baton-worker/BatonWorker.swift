import ArgumentParser
import Baton
import BatonHTTP
import Dispatch
import Foundation
import Logging
import Postgres

/// Runs workflow instances: claims due ones in batches, advances them, commits each batch at once.
@main
struct BatonWorker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baton-worker",
        abstract: "Run Baton's workflow instances. Start as many as you like, on any host.",
        discussion: """
            Stops on SIGTERM or SIGINT: claims nothing more, commits what it holds, exits 0.
            The database comes from --database-url, then DATABASE_URL, then libpq's PG* variables.

            Examples:
              baton-worker --concurrency 4 --metrics-port 9090
              baton-worker --until-idle          # drain what is due now, then exit
            """)

    @Option(name: .customLong("database-url"), help: "libpq URL or key=value string.") var databaseURL: String?
    @Option(name: .customLong("database-url-file"), help: "Read the database URL from this file (keeps it out of `ps`).")
    var databaseURLFile: String?
    @Option(help: "Batches processed in parallel.") var concurrency = 2
    @Option(help: "Instances claimed per batch.") var batchSize = 50
    @Option(help: "This worker's name in leases, timelines and logs (default: host-pid).") var id: String?
    @Option(help: "How often to look for due work when not woken by NOTIFY, e.g. 1s, 500ms.") var pollInterval = "1s"
    @Option(help: "How long a claim holds an instance before another worker may take it over.") var lease = "10s"
    @Flag(help: "Process what is due now, then exit.") var untilIdle = false
    @Option(help: "Log level: trace, debug, info, notice, warning, error.") var logLevel = "info"
    @Flag(help: "Run only the outbox relay (deliver notifications), no workflow steps.") var onlyOutbox = false
    @Flag(help: "Run no outbox relay in this process.") var noOutbox = false
    @Flag(help: "Run no schedules (schedules files) in this process.") var noSchedules = false
    @Option(help: "First retry delay of a failed delivery; doubles per attempt.") var outboxBackoff = "1s"
    @Option(help: "How long a delivery in flight is held before another relay may send it again (at least a channel's timeout + 5s).")
    var outboxLease = "30s"
    @Option(help: "With --until-idle: exit 1 when the database cannot be reached for this long.") var connectTimeout = "30s"
    @Option(help: "With --until-idle: wait this long for notifications in backoff to come due; later ones are left for the next run.")
    var drainLimit = "30s"
    @Option(help: "Serve /metrics (Prometheus), /healthz and /readyz on this port.") var metricsPort: Int?
    @Option(help: "The address --metrics-port listens on.") var metricsHost = "0.0.0.0"
    @Option(help: "Log format: json or text (default: json unless standard error is a terminal).") var logFormat: String?
    @Flag(help: "Print the settings this worker would run with (flags, environment, defaults; no secrets) and exit.")
    var printConfig = false

    func validate() throws {
        if concurrency < 1 { throw ValidationError("--concurrency must be at least 1") }
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
        if parseDuration(pollInterval) == nil { throw ValidationError("--poll-interval: bad duration \(pollInterval) (e.g. 500ms, 1s, 2m)") }
        if parseDuration(lease) == nil { throw ValidationError("--lease: bad duration \(lease) (e.g. 10s)") }
        if onlyOutbox && noOutbox { throw ValidationError("--only-outbox and --no-outbox exclude each other") }
        if parseDuration(outboxLease) == nil { throw ValidationError("--outbox-lease: bad duration \(outboxLease) (e.g. 30s)") }
        if parseDuration(outboxBackoff) == nil { throw ValidationError("--outbox-backoff: bad duration \(outboxBackoff) (e.g. 1s)") }
        if parseDuration(connectTimeout) == nil { throw ValidationError("--connect-timeout: bad duration \(connectTimeout) (e.g. 30s)") }
        if parseDuration(drainLimit) == nil { throw ValidationError("--drain-limit: bad duration \(drainLimit) (e.g. 30s)") }
        if Logger.Level(rawValue: logLevel) == nil { throw ValidationError("--log-level: one of trace, debug, info, notice, warning, error") }
        if let logFormat, LogFormat(rawValue: logFormat) == nil { throw ValidationError("--log-format: json or text") }
        if let metricsPort, !(1...65535).contains(metricsPort) { throw ValidationError("--metrics-port must be a port number (1-65535)") }
    }

    func run() async throws {
        (logFormat.flatMap(LogFormat.init(rawValue:)) ?? .automatic).bootstrap(level: Logger.Level(rawValue: logLevel) ?? .info)
        if metricsPort != nil { PrometheusExport.bootstrap() }
        let logger = Logger(label: "baton.worker")
        let name = id ?? "\(ProcessInfo.processInfo.hostName)-\(getpid())"
        var config = try ConnectionConfig.fromEnvironment(url: try Baton.databaseURL(flag: databaseURL, file: databaseURLFile), applicationName: "baton-worker")
        // Every statement, lock wait and dead connection fails while the lease still holds.
        config.timeouts = .within(lease: parseDuration(lease)!)
        if printConfig {
            print(effectiveConfiguration(name: name, database: config))
            return
        }

        // SIGTERM / SIGINT ask the worker to stop (before it has started: exit at once, nothing is
        // held yet); a second one exits at once.
        let onStop = StopAction { Foundation.exit(0) }
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let sources = [SIGTERM, SIGINT].map { number -> DispatchSourceSignal in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            let seen = SignalCount()
            source.setEventHandler {
                if seen.increment() > 1 { Foundation.exit(1) }
                logger.info("stopping", metadata: ["signal": "\(number == SIGTERM ? "SIGTERM" : "SIGINT")"])
                onStop.run()
            }
            source.resume()
            return source
        }
        defer { sources.forEach { $0.cancel() } }

        do {
            try await waitForDatabase(config, giveUpAfter: untilIdle ? parseDuration(connectTimeout)! : nil, logger: logger)
        } catch let error as DatabaseUnreachable {
            FileHandle.standardError.write(Data("baton-worker: \(error)\n".utf8))
            throw ExitCode(1)
        }
        let pool = ConnectionPool(config, maxConnections: concurrency + 2, logger: logger,
                                  onCheckout: { BatonMetrics.poolWait("baton-worker", $0) })
        let store = Store(pool: pool, logger: logger)
        do {
            try await store.requireKnownSchema(program: "baton-worker")
        } catch let error as SchemaMismatch {
            await pool.close()
            FileHandle.standardError.write(Data("baton-worker: \(error)\n".utf8))
            throw ExitCode(1)
        }
        let worker = Worker(
            store: store,
            configuration: WorkerConfiguration(
                id: name, concurrency: concurrency, batchSize: batchSize, pollInterval: parseDuration(pollInterval)!,
                lease: parseDuration(lease)!, untilIdle: untilIdle),
            logger: logger)
        let relay = noOutbox ? nil : OutboxRelay(
            store: store,
            configuration: OutboxRelayConfiguration(
                id: name, lease: parseDuration(outboxLease)!, baseBackoff: parseDuration(outboxBackoff)!,
                pollInterval: parseDuration(pollInterval)!, untilIdle: untilIdle, drainLimit: parseDuration(drainLimit)!,
                giveUpAfter: parseDuration(connectTimeout)!),
            logger: Logger(label: "baton.outbox"))
        if relay != nil { await warnAboutUnsetChannelVariables(store: store, logger: Logger(label: "baton.outbox")) }

        let schedules = noSchedules || onlyOutbox ? nil : ScheduleRunner(
            store: store, worker: name, lease: parseDuration(lease)!, pollInterval: parseDuration(pollInterval)!,
            logger: Logger(label: "baton.schedules"))

        let draining = DrainFlag()
        onStop.set {
            draining.set()
            Task {
                await worker.stop()
                await relay?.stop()
                await schedules?.stop()
            }
        }
        var observers: [Task<Void, Never>] = []
        if let metricsPort {
            let app = buildMetricsApplication(store: store, host: metricsHost, port: metricsPort,
                                              draining: { draining.isSet }, logger: Logger(label: "baton.metrics"))
            observers.append(Task {
                do { try await app.run() } catch { logger.error("metrics endpoint failed", metadata: ["error": "\(error)"]) }
            })
            observers.append(Task { await MetricsSampler(store: store, logger: logger).run() })
            logger.info("serving metrics", metadata: ["address": "\(metricsHost):\(metricsPort)"])
        }
        BatonMetrics.workerUp(name, true)
        defer {
            BatonMetrics.workerUp(name, false)
            observers.forEach { $0.cancel() }
        }
        do {
            if untilIdle {
                // Steps first, then their notifications: the relay drains what this run produced.
                await schedules?.runDue()
                if !onlyOutbox { try await worker.run() }
                try await relay?.run()
            } else {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    if !onlyOutbox { group.addTask { try await worker.run() } }
                    if let relay { group.addTask { try await relay.run() } }
                    if let schedules { group.addTask { await schedules.run() } }
                    try await group.waitForAll()
                }
            }
        } catch let error as OutboxRelayGaveUp {
            await pool.close()
            FileHandle.standardError.write(Data("baton-worker: \(error)\n".utf8))
            throw ExitCode(1)
        }
        await pool.close()
    }
}

/// What a stop signal does; replaced once the worker runs. `@unchecked Sendable`: `action` is only
/// touched under `lock`.
final class StopAction: @unchecked Sendable {
    private let lock = NSLock()
    private var action: @Sendable () -> Void
    init(_ action: @escaping @Sendable () -> Void) { self.action = action }
    func set(_ new: @escaping @Sendable () -> Void) { lock.withLock { action = new } }
    func run() { lock.withLock { action }() }
}

/// Set once the worker starts stopping, so `/readyz` says so. `@unchecked Sendable`: under `lock`.
final class DrainFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}

/// Counts signals received. `@unchecked Sendable`: `count` is only touched under `lock`.
final class SignalCount: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() -> Int { lock.withLock { count += 1; return count } }
}

/// `500ms`, `2s`, `1m`, `1h` into a Duration.
func parseDuration(_ text: String) -> Duration? {
    if text.hasSuffix("ms"), let n = Int(text.dropLast(2)), n > 0 { return .milliseconds(n) }
    let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600]
    // At most a year: longer is a typo, and a huge number must not trap on its way to an Int.
    guard let unit = text.last.flatMap({ units[$0] }), let n = Double(text.dropLast()), n > 0,
          n * Double(unit) <= 366 * 86_400 else { return nil }
    return .milliseconds(Int(n * Double(unit) * 1000))
}

extension BatonWorker {
    /// The settings as `key: value` lines (YAML), from flags, environment and defaults, for
    /// `--print-config`. The database appears as user@host:port/name: never a password.
    func effectiveConfiguration(name: String, database: ConnectionConfig) -> String {
        let timeouts = database.timeouts
        func show(_ duration: Duration?) -> String { duration.map { "\($0)" } ?? "none" }
        let source = databaseURL != nil ? "--database-url" : databaseURLFile != nil ? "--database-url-file"
            : ProcessInfo.processInfo.environment["DATABASE_URL"].map { $0.isEmpty ? "PG* variables" : "DATABASE_URL" } ?? "PG* variables"
        return """
            id: \(name)
            database: \(database.description)
            database_from: \(source)
            concurrency: \(concurrency)
            batch_size: \(batchSize)
            poll_interval: \(pollInterval)
            lease: \(lease)
            statement_timeout: \(show(timeouts.statement))
            lock_timeout: \(show(timeouts.lock))
            idle_in_transaction_session_timeout: \(show(timeouts.idleInTransaction))
            tcp_user_timeout: \(show(timeouts.tcpUserTimeout))
            until_idle: \(untilIdle)
            steps: \(!onlyOutbox)
            outbox_relay: \(!noOutbox)
            schedules: \(!noSchedules && !onlyOutbox)
            outbox_backoff: \(outboxBackoff)
            outbox_lease: \(outboxLease)
            connect_timeout: \(connectTimeout)
            drain_limit: \(drainLimit)
            metrics: \(metricsPort.map { "\(metricsHost):\($0)" } ?? "off")
            log_level: \(logLevel)
            log_format: \(logFormat ?? "automatic (json unless standard error is a terminal)")
            """
    }
}
