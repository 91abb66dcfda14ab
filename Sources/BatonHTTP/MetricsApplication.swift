import Baton
import Hummingbird
import Logging

/// The small HTTP server `baton-worker --metrics-port` runs: `/metrics` (Prometheus text),
/// `/healthz` (the process answers) and `/readyz` (connected, schema known, not draining).
public func buildMetricsApplication(store: Store, host: String, port: Int, draining: @escaping @Sendable () -> Bool,
                                    logger: Logger) -> some ApplicationProtocol {
    let router = Router(context: BatonRequestContext.self)
    router.add(middleware: ProblemMiddleware())
    router.get("metrics") { _, _ in PrometheusExport.response() }
    router.get("healthz") { _, _ in JSON.response(HealthController.Status(status: "ok")) }
    router.get("readyz") { _, _ -> Response in
        if draining() { throw Problem(.unavailable, .serviceUnavailable, "not ready: draining (stopping)") }
        return try await HealthController.readiness(store)
    }
    return Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "baton-worker"),
                       logger: logger)
}
