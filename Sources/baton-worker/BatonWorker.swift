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
            meanwhile); a second one exits 1 at once. SIGHUP reads the channels, the log level and the log \
            format again without dropping work.

            Every setting comes from its flag, then BATON_<FLAG> (BATON_BATCH_SIZE), then the configuration \
            file (--config, BATON_CONFIG, or ./baton.yaml; keys as --print-config prints them), then the \
            default. The database comes from --database-url, then DATABASE_URL, then the file, then \
            libpq's PG* variables. Through PgBouncer (transaction mode): --pooler pgbouncer --listen-url \
            <direct URL>.

            Examples:
              baton-worker --concurrency 4 --metrics-port 9090
              baton-worker --until-idle          # drain what is due now, then exit
              baton-worker --print-config > baton.yaml
            """)

    @Option(help: "Read settings from this YAML file (default: BATON_CONFIG, then ./baton.yaml if it exists).") var config: String?
    @Option(name: .customLong("database-url"), help: "libpq URL or key=value string (default: DATABASE_URL, then libpq's PG* variables).")
    var databaseURL: String?
    @Option(name: .customLong("database-url-file"), help: "Read the database URL from this file (keeps it out of `ps`).")
    var databaseURLFile: String?
    @Option(help: "Batches processed in parallel (default: 2).") var concurrency: Int?
    @Option(help: "Instances claimed per batch (default: 50).") var batchSize: Int?
    @Option(help: "This worker's name in leases, timelines and logs (default: host-pid).") var id: String?
    @Option(help: "How often to look for due work when not woken by NOTIFY, e.g. 1s, 500ms (default: 1s).") var pollInterval: String?
    @Option(help: "How long a claim holds an instance before another worker may take it over (default: 10s).") var lease: String?
    @Flag(inversion: .prefixedNo, help: "Process what is due now, then exit (--no-until-idle: keep running, whatever the file or environment say).")
    var untilIdle: Bool?
    @Option(help: "Log level: trace, debug, info, notice, warning, error (default: info).") var logLevel: String?
    @Flag(inversion: .prefixedNo, help: "Run only the outbox relay (deliver notifications), no workflow steps.")
    var onlyOutbox: Bool?
    // The setting is no_outbox (no_schedules): --no-outbox keeps its spelling, --outbox turns it off.
    @Flag(name: .customLong("outbox"), inversion: .prefixedNo, help: "Run the outbox relay in this process (--no-outbox: run none; default: run it).")
    var outbox: Bool?
    @Flag(name: .customLong("schedules"), inversion: .prefixedNo, help: "Run schedules (schedules files) in this process (--no-schedules: run none; default: run them).")
    var schedules: Bool?
    @Option(help: "First retry delay of a failed delivery; doubles per attempt (default: 1s).") var outboxBackoff: String?
    @Option(help: "How long a delivery in flight is held before another relay may send it again (at least a channel's timeout + 5s; default: 30s).")
    var outboxLease: String?
    @Option(help: "With --until-idle: exit 1 when the database cannot be reached for this long (default: 30s).") var connectTimeout: String?
    @Option(help: "With --until-idle: wait this long for notifications in backoff to come due; later ones are left for the next run (default: 30s).")
    var drainLimit: String?
    @Option(help: "Serve /metrics (Prometheus), /healthz and /readyz on this port.") var metricsPort: Int?
    @Option(help: "The address --metrics-port listens on (default: 0.0.0.0).") var metricsHost: String?
    @Option(help: "Log format: json or text (default: json unless standard error is a terminal).") var logFormat: String?
    @Flag(help: "Print the settings this worker would run with and where each comes from (as a configuration file; no secrets), and exit.")
    var printConfig = false
    @Option(help: "A connection pooler between Baton and PostgreSQL: none or pgbouncer (transaction mode: no named prepared statements, limits set per transaction; default: none).")
    var pooler: String?
    @Option(name: .customLong("listen-url"), help: "A direct database URL for LISTEN (wake-ups), when --database-url goes through a pooler (default: the database URL).")
    var listenURL: String?
    @Option(help: "How long channels read from the database are reused; SIGHUP reads them again at once (default: 5s).")
    var channelsRefresh: String?

    /// The flags given, by setting key.
    var flags: [String: String] {
        var flags: [String: String?] = [
            "database_url": databaseURL, "database_url_file": databaseURLFile, "concurrency": concurrency.map(String.init),
            "batch_size": batchSize.map(String.init), "id": id, "poll_interval": pollInterval, "lease": lease,
            "log_level": logLevel, "outbox_backoff": outboxBackoff, "outbox_lease": outboxLease,
            "connect_timeout": connectTimeout, "drain_limit": drainLimit, "metrics_port": metricsPort.map(String.init),
            "metrics_host": metricsHost, "log_format": logFormat, "pooler": pooler, "listen_url": listenURL,
            "channels_refresh": channelsRefresh,
        ]
        for (key, given) in Self.switches(self) {
            flags[key] = given.value ? "true" : "false"
        }
        return flags.compactMapValues { $0 }
    }

    /// The switches given on the command line, by setting key: the value and the flag as spelled
    /// (`--no-until-idle` gives until_idle false; `--outbox` gives no_outbox false).
    static func switches(_ command: BatonWorker) -> [String: (value: Bool, flag: String)] {
        var given: [String: (value: Bool, flag: String)] = [:]
        if let on = command.untilIdle { given["until_idle"] = (on, on ? "--until-idle" : "--no-until-idle") }
        if let on = command.onlyOutbox { given["only_outbox"] = (on, on ? "--only-outbox" : "--no-only-outbox") }
        if let on = command.outbox { given["no_outbox"] = (!on, on ? "--outbox" : "--no-outbox") }
        if let on = command.schedules { given["no_schedules"] = (!on, on ? "--schedules" : "--no-schedules") }
        return given
    }

    /// Every setting from the flags, then the environment, then the configuration file, then the defaults.
    func settings() throws -> Settings {
        let settings = try Settings.resolve(SettingsCatalogue.worker, otherKeys: SettingsCatalogue.allKeys, flags: flags,
                                            spelled: Self.switches(self).mapValues(\.flag),
                                            configFlag: config, environment: ProcessInfo.processInfo.environment)
        if settings.bool("only_outbox") && settings.bool("no_outbox") {
            throw BatonError.invalid("only_outbox (\(settings.source("only_outbox"))) and no_outbox (\(settings.source("no_outbox"))) exclude each other")
        }
        return settings
    }

    func validate() throws {
        do {
            _ = try settings()
        } catch let error as BatonError {
            throw ValidationError(error.description)
        }
    }

    func run() async throws {
        // Before anything else: from here on no signal finds its default action (see ProcessSignals).
        let signals = await ProcessSignals.trap()
        let settings = try settings()
        let (level, format) = Self.logging(settings)
        format.bootstrap(level: level)
        let metricsPort = settings.int("metrics_port")
        if metricsPort != nil { PrometheusExport.bootstrap() }
        let logger = Logger(label: "baton.worker")
        let name = settings["id"] ?? "\(ProcessInfo.processInfo.hostName)-\(getpid())"
        let lease = settings.duration("lease")!, pollInterval = settings.duration("poll_interval")!
        let concurrency = settings.int("concurrency")!, untilIdle = settings.bool("until_idle")
        let onlyOutbox = settings.bool("only_outbox")
        var config = try ConnectionConfig.fromEnvironment(
            url: try Baton.databaseURL(flag: settings["database_url"], file: settings["database_url_file"]), applicationName: "baton-worker")
        // Every statement, lock wait and dead connection fails while the lease still holds.
        config.timeouts = .within(lease: lease)
        config.pooling = try Baton.pooling(flag: settings["pooler"], environment: [:])
        let listen = try Baton.listenConfig(flag: settings["listen_url"], database: config, applicationName: "baton-worker", environment: [:])
        if printConfig {
            print(Self.effectiveConfiguration(settings, name: name, database: config, listen: listen))
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
            try await waitForDatabase(config, giveUpAfter: untilIdle ? settings.duration("connect_timeout")! : nil, logger: logger)
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
                id: name, concurrency: concurrency, batchSize: settings.int("batch_size")!, pollInterval: pollInterval,
                lease: lease, untilIdle: untilIdle, listen: listen),
            logger: logger)
        let relay = settings.bool("no_outbox") ? nil : OutboxRelay(
            store: store,
            configuration: OutboxRelayConfiguration(
                id: name, lease: settings.duration("outbox_lease")!, baseBackoff: settings.duration("outbox_backoff")!,
                pollInterval: pollInterval, untilIdle: untilIdle, drainLimit: settings.duration("drain_limit")!,
                giveUpAfter: settings.duration("connect_timeout")!, channelsRefresh: settings.duration("channels_refresh")!,
                listen: listen),
            logger: Logger(label: "baton.outbox"))
        if relay != nil { await warnAboutUnsetChannelVariables(store: store, logger: Logger(label: "baton.outbox")) }

        let schedules = settings.bool("no_schedules") || onlyOutbox ? nil : ScheduleRunner(
            store: store, worker: name, lease: lease, pollInterval: pollInterval,
            logger: Logger(label: "baton.schedules"))

        // Started in this order, shut down in the reverse one (see WorkerServices.swift).
        let draining = DrainFlag()
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        func add(_ service: any Service, _ name: String) {
            services.append(.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup,
                                  failureTerminationBehavior: .gracefullyShutdownGroup, serviceName: name))
        }
        if let metricsPort {
            let metricsHost = settings["metrics_host"]!
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
        let reread = { @Sendable in try self.settings() }
        add(ReloadService(hangups: signals) { await Self.reload(relay: relay, settings: reread, logger: logger) }, "reload")
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

    /// The log level and format the settings give (checked when they were read).
    static func logging(_ settings: Settings) -> (Logger.Level, LogFormat) {
        (settings["log_level"].flatMap(Logger.Level.init(rawValue:)) ?? .info,
         settings["log_format"].flatMap(LogFormat.init(rawValue:)) ?? .automatic)
    }

    /// SIGHUP: reads the channels again (the relay's next round uses them; deliveries in flight
    /// finish with the channel they started with) and the log level and format (flag, then
    /// environment, then the configuration file, read again), and says in one line what was
    /// reloaded, with the old and the new level. The new level applies from the next line on.
    static func reload(relay: OutboxRelay?, settings: @Sendable () throws -> Settings, logger: Logger) async {
        let old = (LogControl.shared.level, LogControl.shared.format)
        var new = old
        var metadata: Logger.Metadata = [:]
        do {
            let settings = try settings()
            new = logging(settings)
            metadata["log_level"] = "\(old.0) -> \(new.0) (\(settings.source("log_level")))"
            if new.1 != old.1 { metadata["log_format"] = "\(old.1) -> \(new.1) (\(settings.source("log_format")))" }
        } catch {
            logger.warning("SIGHUP: cannot read the settings; log level and format unchanged", metadata: ["error": "\(error)"])
            metadata["log_level"] = "\(old.0) (unchanged)"
        }
        defer { LogControl.shared.set(level: new.0, format: new.1) }
        guard let relay else {
            logger.notice("SIGHUP: reloaded the log level (no outbox relay in this process)", metadata: metadata)
            return
        }
        do {
            let channels = try await relay.reloadChannels()
            metadata["channels"] = "\(channels.sorted().joined(separator: ","))"
            logger.notice("SIGHUP: reloaded channels and the log level", metadata: metadata)
        } catch {
            metadata["error"] = "\(error)"
            logger.warning("SIGHUP: reloaded the log level; cannot read the channels now, the relay reads them again at its next round",
                           metadata: metadata)
        }
    }
}

extension BatonWorker {
    /// `--print-config`: every setting as a configuration file with its source as a comment, then
    /// (as comments) what they come to: the database as user@host:port/name (never a password),
    /// the timeouts derived from the lease. Connects to nothing.
    static func effectiveConfiguration(_ settings: Settings, name: String, database: ConnectionConfig,
                                       listen: ConnectionConfig?) -> String {
        let timeouts = database.timeouts
        func show(_ duration: Duration?) -> String { duration.map { "\($0)" } ?? "none" }
        let source = settings["database_url"] != nil ? settings.source("database_url").description
            : settings["database_url_file"] != nil ? settings.source("database_url_file").description : "PG* variables"
        let onlyOutbox = settings.bool("only_outbox")
        return settings.yaml(program: "baton-worker", notes: [
            "id: \(name)",
            "database: \(database.description)",
            "database_from: \(source)",
            "pooler: \(database.pooling == .direct ? "none" : "pgbouncer (transaction mode)")",
            "listen: \(listen?.description ?? "the database URL")",
            "statement_timeout: \(show(timeouts.statement))",
            "lock_timeout: \(show(timeouts.lock))",
            "idle_in_transaction_session_timeout: \(show(timeouts.idleInTransaction))",
            "tcp_user_timeout: \(show(timeouts.tcpUserTimeout))",
            "steps: \(!onlyOutbox)",
            "outbox_relay: \(!settings.bool("no_outbox"))",
            "schedules: \(!settings.bool("no_schedules") && !onlyOutbox)",
            "metrics: \(settings.int("metrics_port").map { "\(settings["metrics_host"]!):\($0)" } ?? "off")",
            "log_format: \(settings["log_format"] ?? "\(LogFormat.automatic) (json unless standard error is a terminal)")",
        ])
    }
}
