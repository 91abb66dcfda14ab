import ArgumentParser
import Baton
import BatonHTTP
import Foundation
import Logging
import Postgres
import ServiceLifecycle

/// Runs workflow instances: claims due ones in batches, advances them, commits each batch at once.
@main
struct BatonWorker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baton-worker",
        abstract: "Run Baton's workflow instances. Start as many as you like, on any host.",
        discussion: """
            SIGTERM or SIGINT drains in order and exits 0: claims nothing more, commits the batch in hand, \
            lets deliveries in flight finish, then stops the metrics endpoint (/readyz says draining \
            meanwhile); a second one exits 1 at once. SIGHUP reads the channels again without dropping work. \
            The database comes from --database-url, then DATABASE_URL, then libpq's PG* variables. \
            Through PgBouncer (transaction mode): --pooler pgbouncer --listen-url <direct URL>.

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
    @Option(help: "A connection pooler between Baton and PostgreSQL: none or pgbouncer (transaction mode: no named prepared statements, limits set per transaction). Default: BATON_POOLER, then none.")
    var pooler: String?
    @Option(name: .customLong("listen-url"), help: "A direct database URL for LISTEN (wake-ups), when --database-url goes through a pooler. Default: BATON_LISTEN_URL, then the database URL.")
    var listenURL: String?
    @Option(help: "How long channels read from the database are reused; SIGHUP reads them again at once.")
    var channelsRefresh = "5s"

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
        if parseDuration(channelsRefresh) == nil { throw ValidationError("--channels-refresh: bad duration \(channelsRefresh) (e.g. 5s)") }
        if let pooler, Pooling(name: pooler) == nil { throw ValidationError("--pooler: none or pgbouncer (got \(pooler))") }
    }

    func run() async throws {
        // Before anything else: from here on no signal finds its default action (see ProcessSignals).
        let signals = await ProcessSignals.trap()
        (logFormat.flatMap(LogFormat.init(rawValue:)) ?? .automatic).bootstrap(level: Logger.Level(rawValue: logLevel) ?? .info)
        if metricsPort != nil { PrometheusExport.bootstrap() }
        let logger = Logger(label: "baton.worker")
        let name = id ?? "\(ProcessInfo.processInfo.hostName)-\(getpid())"
        var config = try ConnectionConfig.fromEnvironment(url: try Baton.databaseURL(flag: databaseURL, file: databaseURLFile), applicationName: "baton-worker")
        // Every statement, lock wait and dead connection fails while the lease still holds.
        config.timeouts = .within(lease: parseDuration(lease)!)
        config.pooling = try Baton.pooling(flag: pooler)
        let listen = try Baton.listenConfig(flag: listenURL, database: config, applicationName: "baton-worker")
        if printConfig {
            print(effectiveConfiguration(name: name, database: config, listen: listen))
            return
        }
        let stopHandler = signals.handleStops(logger: logger)
        defer { stopHandler.cancel() }
        if config.pooling == .transactionPooler && listen == nil {
            logger.warning(
                "LISTEN cannot go through a transaction pooler: new work and notifications are found by polling; give a direct connection with --listen-url (or BATON_LISTEN_URL) to be woken at once",
                metadata: ["poll_interval": "\(pollInterval)"])
        }

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
        let worker = onlyOutbox ? nil : Worker(
            store: store,
            configuration: WorkerConfiguration(
                id: name, concurrency: concurrency, batchSize: batchSize, pollInterval: parseDuration(pollInterval)!,
                lease: parseDuration(lease)!, untilIdle: untilIdle, listen: listen),
            logger: logger)
        let relay = noOutbox ? nil : OutboxRelay(
            store: store,
            configuration: OutboxRelayConfiguration(
                id: name, lease: parseDuration(outboxLease)!, baseBackoff: parseDuration(outboxBackoff)!,
                pollInterval: parseDuration(pollInterval)!, untilIdle: untilIdle, drainLimit: parseDuration(drainLimit)!,
                giveUpAfter: parseDuration(connectTimeout)!, channelsRefresh: parseDuration(channelsRefresh)!, listen: listen),
            logger: Logger(label: "baton.outbox"))
        if relay != nil { await warnAboutUnsetChannelVariables(store: store, logger: Logger(label: "baton.outbox")) }

        let schedules = noSchedules || onlyOutbox ? nil : ScheduleRunner(
            store: store, worker: name, lease: parseDuration(lease)!, pollInterval: parseDuration(pollInterval)!,
            logger: Logger(label: "baton.schedules"))

        // Started in this order, shut down in the reverse one (see WorkerServices.swift).
        let draining = DrainFlag()
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        func add(_ service: any Service, _ name: String) {
            services.append(.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup,
                                  failureTerminationBehavior: .gracefullyShutdownGroup, serviceName: name))
        }
        if let metricsPort {
            let app = buildMetricsApplication(store: store, host: metricsHost, port: metricsPort,
                                              draining: { draining.isSet }, logger: Logger(label: "baton.metrics"))
            add(MetricsEndpointService(app: app, logger: logger), "metrics-endpoint")
            add(SamplerService(sampler: MetricsSampler(store: store, logger: logger)), "metrics-sampler")
            logger.info("serving metrics", metadata: ["address": "\(metricsHost):\(metricsPort)"])
        }
        if untilIdle {
            add(UntilIdleService(worker: worker, relay: relay, schedules: schedules), "until-idle")
        } else {
            if let relay { add(RelayService(relay: relay), "outbox-relay") }
            if let schedules { add(ScheduleService(schedules: schedules), "schedules") }
            if let worker { add(WorkerService(worker: worker), "worker") }
        }
        let logLevel = logLevel
        add(ReloadService(hangups: signals) { await Self.reload(relay: relay, logLevel: logLevel, logger: logger) }, "reload")
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: services, logger: Logger(label: "baton.lifecycle")))
        signals.running(group, draining: draining)

        BatonMetrics.workerUp(name, true)
        defer { BatonMetrics.workerUp(name, false) }
        do {
            try await group.run()
        } catch let error as OutboxRelayGaveUp {
            await pool.close()
            FileHandle.standardError.write(Data("baton-worker: \(error)\n".utf8))
            throw ExitCode(1)
        }
        await pool.close()
    }

    /// SIGHUP: reads the channels again (the relay's next round uses them; deliveries in flight
    /// finish with the channel they started with) and says in one line what was reloaded. The log
    /// level comes from --log-level, which a running process cannot re-read: it stays.
    static func reload(relay: OutboxRelay?, logLevel: String, logger: Logger) async {
        let level = "\(logLevel) (from --log-level; unchanged until a restart)"
        guard let relay else {
            logger.notice("SIGHUP: nothing to reload (no outbox relay in this process)", metadata: ["log_level": "\(level)"])
            return
        }
        do {
            let channels = try await relay.reloadChannels()
            logger.notice("SIGHUP: reloaded channels", metadata: [
                "channels": "\(channels.sorted().joined(separator: ","))", "log_level": "\(level)",
            ])
        } catch {
            logger.warning("SIGHUP: cannot read the channels now; the relay reads them again at its next round",
                           metadata: ["error": "\(error)"])
        }
    }
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
    func effectiveConfiguration(name: String, database: ConnectionConfig, listen: ConnectionConfig?) -> String {
        let timeouts = database.timeouts
        func show(_ duration: Duration?) -> String { duration.map { "\($0)" } ?? "none" }
        let source = databaseURL != nil ? "--database-url" : databaseURLFile != nil ? "--database-url-file"
            : ProcessInfo.processInfo.environment["DATABASE_URL"].map { $0.isEmpty ? "PG* variables" : "DATABASE_URL" } ?? "PG* variables"
        return """
            id: \(name)
            database: \(database.description)
            database_from: \(source)
            pooler: \(database.pooling == .direct ? "none" : "pgbouncer (transaction mode)")
            listen: \(listen?.description ?? "the database URL")
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
            channels_refresh: \(channelsRefresh)
            connect_timeout: \(connectTimeout)
            drain_limit: \(drainLimit)
            metrics: \(metricsPort.map { "\(metricsHost):\($0)" } ?? "off")
            log_level: \(logLevel)
            log_format: \(logFormat ?? "automatic (json unless standard error is a terminal)")
            """
    }
}
