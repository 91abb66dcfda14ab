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
            The address comes from --listen, then BATON_LISTEN, then 127.0.0.1:8080. The database comes \
            from --database-url, then DATABASE_URL, then libpq's PG* variables. SIGTERM or SIGINT: stop \
            accepting, finish the requests in flight, exit 0.

            Examples:
              baton-server --listen 127.0.0.1:8080
              BATON_LISTEN=0.0.0.0:8080 baton-server --log-format json
            """)

    @Option(help: "HOST:PORT to listen on (default: BATON_LISTEN, then 127.0.0.1:8080).") var listen: String?
    @Option(name: .customLong("database-url"), help: "libpq URL or key=value string.") var databaseURL: String?
    @Option(name: .customLong("database-url-file"), help: "Read the database URL from this file (keeps it out of `ps`).")
    var databaseURLFile: String?
    @Option(help: "Database connections the server may hold.") var poolSize = 10
    @Option(help: "Largest request body accepted, in bytes (413 above).") var maxBodyBytes = 10 * 1024 * 1024
    @Option(help: "Largest attribute value accepted, in bytes (413 above).") var maxAttributeBytes = 64 * 1024
    @Option(help: "Serve this file at /v1/openapi.yaml instead of the built-in copy.") var openapi: String?
    @Option(help: "The URL clients (HubSpot) call this server at, e.g. https://baton.example.com (default: BATON_PUBLIC_URL, then http://<listen>); part of what HubSpot signs.")
    var publicURL: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error.") var logLevel = "info"
    @Option(help: "Log format: json or text (default: json unless standard error is a terminal).") var logFormat: String?

    func validate() throws {
        _ = try address()
        if poolSize < 1 { throw ValidationError("--pool-size must be at least 1") }
        if maxBodyBytes < 1024 { throw ValidationError("--max-body-bytes must be at least 1024") }
        if maxAttributeBytes < 1 { throw ValidationError("--max-attribute-bytes must be at least 1") }
        if Logger.Level(rawValue: logLevel) == nil { throw ValidationError("--log-level: one of trace, debug, info, notice, warning, error") }
        if let logFormat, LogFormat(rawValue: logFormat) == nil { throw ValidationError("--log-format: json or text") }
    }

    /// The address to listen on, from the flag, then BATON_LISTEN, then the default.
    func address() throws -> (host: String, port: Int) {
        let text = listen ?? ProcessInfo.processInfo.environment["BATON_LISTEN"] ?? "127.0.0.1:8080"
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw ValidationError("--listen: give HOST:PORT, e.g. 127.0.0.1:8080 (got \(text))")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty { host = "0.0.0.0" }
        return (host, port)
    }

    func run() async throws {
        (logFormat.flatMap(LogFormat.init(rawValue:)) ?? .automatic).bootstrap(level: Logger.Level(rawValue: logLevel) ?? .info)
        PrometheusExport.bootstrap()
        let logger = Logger(label: "baton.server")
        let (host, port) = try address()
        var config = try ConnectionConfig.fromEnvironment(url: try Baton.databaseURL(flag: databaseURL, file: databaseURLFile), applicationName: "baton-server")
        // Through PgBouncer in transaction mode (BATON_POOLER=pgbouncer): nothing outlives a transaction.
        config.pooling = try Baton.pooling(flag: nil)
        let pool = ConnectionPool(config, maxConnections: poolSize, logger: logger,
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
        let publicBase = publicURL ?? environment["BATON_PUBLIC_URL"] ?? "http://\(listen ?? environment["BATON_LISTEN"] ?? "127.0.0.1:8080")"
        let settings = ServerSettings(maxBodyBytes: maxBodyBytes, maxAttributeBytes: maxAttributeBytes, openAPIPath: openapi,
                                      publicBaseURL: publicBase, environment: environment)
        let sampler = SamplerService(sampler: MetricsSampler(store: store, logger: logger))
        let app = buildApplication(store: store, host: host, port: port, settings: settings, services: [sampler], logger: logger)
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
