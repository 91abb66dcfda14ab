import ArgumentParser
import Baton
import BatonHTTP
import Foundation
import Hummingbird
import Logging
import Postgres
import ServiceLifecycle

/// Serves Baton's HTTP API: `/v1` (JSON, bearer tokens), `/healthz`, `/readyz`, `/v1/openapi.yaml`.
@main
struct BatonServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baton-server",
        abstract: "Serve Baton's HTTP API (JSON under /v1, bearer tokens from `batonctl tokens create`).",
        discussion: """
            Every setting comes from its flag, then BATON_<FLAG> (BATON_LISTEN, BATON_PUBLIC_URL), then \
            the configuration file (--config, BATON_CONFIG, or ./baton.yaml; keys as --print-config prints \
            them), then the default. The database comes from --database-url, then DATABASE_URL, then the \
            file, then libpq's PG* variables. SIGTERM or SIGINT: stop accepting, finish the requests in \
            flight, exit 0.

            Examples:
              baton-server --listen 127.0.0.1:8080
              BATON_LISTEN=0.0.0.0:8080 baton-server --log-format json
            """)

    @Option(help: "Read settings from this YAML file (default: BATON_CONFIG, then ./baton.yaml if it exists).") var config: String?
    @Option(help: "HOST:PORT to listen on (default: 127.0.0.1:8080).") var listen: String?
    @Option(name: .customLong("database-url"), help: "libpq URL or key=value string (default: DATABASE_URL, then libpq's PG* variables).")
    var databaseURL: String?
    @Option(name: .customLong("database-url-file"), help: "Read the database URL from this file (keeps it out of `ps`).")
    var databaseURLFile: String?
    @Option(help: "Database connections the server may hold (default: 10).") var poolSize: Int?
    @Option(help: "Largest request body accepted, in bytes (413 above; default: 10485760).") var maxBodyBytes: Int?
    @Option(help: "Largest attribute value accepted, in bytes (413 above; default: 65536).") var maxAttributeBytes: Int?
    @Option(help: "Serve this file at /v1/openapi.yaml instead of the built-in copy.") var openapi: String?
    @Option(help: "The URL clients (HubSpot) call this server at, e.g. https://baton.example.com (default: http://<listen>); part of what HubSpot signs.")
    var publicURL: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error (default: info).") var logLevel: String?
    @Option(help: "Log format: json or text (default: json unless standard error is a terminal).") var logFormat: String?
    @Option(help: "A connection pooler between Baton and PostgreSQL: none or pgbouncer (transaction mode; default: none).")
    var pooler: String?
    @Flag(help: "Print the settings this server would run with and where each comes from (as a configuration file; no secrets), and exit.")
    var printConfig = false

    /// The flags given, by setting key.
    var flags: [String: String] {
        let flags: [String: String?] = [
            "listen": listen, "database_url": databaseURL, "database_url_file": databaseURLFile,
            "pool_size": poolSize.map(String.init), "max_body_bytes": maxBodyBytes.map(String.init),
            "max_attribute_bytes": maxAttributeBytes.map(String.init), "openapi": openapi, "public_url": publicURL,
            "log_level": logLevel, "log_format": logFormat, "pooler": pooler,
        ]
        return flags.compactMapValues { $0 }
    }

    /// Every setting from the flags, then the environment, then the configuration file, then the defaults.
    func settings() throws -> Settings {
        try Settings.resolve(SettingsCatalogue.server, otherKeys: SettingsCatalogue.allKeys, flags: flags,
                             configFlag: config, environment: ProcessInfo.processInfo.environment)
    }

    func validate() throws {
        do {
            _ = try settings()
        } catch let error as BatonError {
            throw ValidationError(error.description)
        }
    }

    func run() async throws {
        let settings = try settings()
        (settings["log_format"].flatMap(LogFormat.init(rawValue:)) ?? .automatic)
            .bootstrap(level: settings["log_level"].flatMap(Logger.Level.init(rawValue:)) ?? .info)
        let (host, port) = listenAddress(settings["listen"]!)!
        var config = try ConnectionConfig.fromEnvironment(
            url: try Baton.databaseURL(flag: settings["database_url"], file: settings["database_url_file"]), applicationName: "baton-server")
        // Through PgBouncer in transaction mode (--pooler pgbouncer): nothing outlives a transaction.
        config.pooling = try Baton.pooling(flag: settings["pooler"], environment: [:])
        let publicBase = settings["public_url"] ?? "http://\(settings["listen"]!)"
        if printConfig {
            print(settings.yaml(program: "baton-server", notes: [
                "database: \(config.description)", "address: \(host):\(port)", "public_url: \(publicBase)",
            ]))
            return
        }
        PrometheusExport.bootstrap()
        let logger = Logger(label: "baton.server")
        let pool = ConnectionPool(config, maxConnections: settings.int("pool_size")!, logger: logger,
                                  onCheckout: { BatonMetrics.poolWait("baton-server", $0) })
        let store = Store(pool: pool, logger: logger)
        // A database that is down or not yet migrated at start is not fatal (/readyz says so until
        // `batonctl migrate` has run); one newer than this binary is: it would write rows the newer
        // release does not expect.
        do {
            try await store.requireKnownSchema(program: "baton-server")
        } catch let error as SchemaMismatch where error.database < error.known {
            logger.warning("\(error); /readyz reports not ready until then")
        } catch let error as SchemaMismatch {
            await pool.close()
            FileHandle.standardError.write(Data("baton-server: \(error)\n".utf8))
            throw ExitCode(1)
        } catch {
            logger.warning("database not reachable at start; /readyz reports not ready until it is", metadata: ["error": "\(error)"])
        }
        let environment = ProcessInfo.processInfo.environment
        let serverSettings = ServerSettings(
            maxBodyBytes: settings.int("max_body_bytes")!, maxAttributeBytes: settings.int("max_attribute_bytes")!,
            openAPIPath: settings["openapi"], publicBaseURL: publicBase, environment: environment)
        let sampler = SamplerService(sampler: MetricsSampler(store: store, logger: logger))
        let app = buildApplication(store: store, host: host, port: port, settings: serverSettings, services: [sampler], logger: logger)
        logger.info("listening", metadata: ["address": "\(host):\(port)"])
        try await app.runService()
        await pool.close()
        logger.info("stopped")
    }
}

/// The metrics sampler as a service of the server's ServiceGroup: it stops when the group shuts down.
struct SamplerService: Service {
    let sampler: MetricsSampler
    func run() async throws {
        await cancelWhenGracefulShutdown { await sampler.run() }
    }
}
