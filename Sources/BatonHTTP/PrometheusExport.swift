import Baton
import Foundation
import Hummingbird
import Metrics
import Prometheus

/// The Prometheus exporter the executables install: swift-metrics handlers backed by one registry,
/// served as Prometheus text at `/metrics`. Names are sanitised to Prometheus' rules
/// (`[a-zA-Z_:][a-zA-Z0-9_:]*`), so library metrics with dotted names (Hummingbird's) are valid too.
public enum PrometheusExport {
    /// The registry `/metrics` renders.
    public static let registry = PrometheusCollectorRegistry()

    /// Installs the exporter as the process's metrics backend. Call once, early in `main`.
    public static func bootstrap() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.nameAndLabelSanitizer = { name, labels in
            (sanitize(name), labels.map { (sanitize($0.0), $0.1) })
        }
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
        ]
        factory.defaultValueHistogramBuckets = [1, 5, 10, 25, 50, 100, 250, 500, 1000]
        MetricsSystem.bootstrap(factory)
    }

    /// `name` with every character Prometheus does not allow replaced by `_`.
    public static func sanitize(_ name: String) -> String {
        var result = ""
        for (i, scalar) in name.unicodeScalars.enumerated() {
            let ok = scalar == "_" || scalar == ":" || ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
                || (i > 0 && ("0"..."9").contains(scalar))
            result.unicodeScalars.append(ok ? scalar : "_")
        }
        return result
    }

    /// The `/metrics` response.
    static func response() -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
    }
}
