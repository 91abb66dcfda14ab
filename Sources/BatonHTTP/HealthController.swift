import Baton
import Foundation
import Hummingbird

/// `GET /healthz` (the process answers), `GET /readyz` (the database answers and its schema is the
/// one these binaries know), `GET /metrics` (Prometheus text) and `GET /v1/openapi.yaml` (the
/// contract): none needs a token.
struct HealthController {
    let store: Store
    let settings: ServerSettings

    struct Status: Codable {
        var status: String
        var schema_version: Int?
        var expected_schema_version: Int?
    }

    func register(on router: Router<BatonRequestContext>) {
        router.get("healthz", use: healthz)
        router.get("readyz", use: readyz)
        router.get("v1/openapi.yaml", use: openAPI)
        router.get("metrics") { _, _ in PrometheusExport.response() }
    }

    @Sendable func healthz(_ request: Request, context: BatonRequestContext) async throws -> Response {
        JSON.response(Status(status: "ok"))
    }

    @Sendable func readyz(_ request: Request, context: BatonRequestContext) async throws -> Response {
        try await Self.readiness(store)
    }

    /// Ready: the database answers and its schema is the version these binaries know.
    static func readiness(_ store: Store) async throws -> Response {
        let expected = Store.knownSchemaVersion
        let version: Int
        do {
            version = try await store.schemaVersion()
        } catch {
            throw Problem(.unavailable, .serviceUnavailable, "not ready: the database cannot be reached")
        }
        guard version == expected else {
            let advice = version < expected ? "run `batonctl migrate`" : "upgrade this binary"
            throw Problem(.unavailable, .serviceUnavailable,
                          "not ready: the database schema is at version \(version), this binary needs \(expected): \(advice)")
        }
        return JSON.response(Status(status: "ready", schema_version: version, expected_schema_version: expected))
    }

    @Sendable func openAPI(_ request: Request, context: BatonRequestContext) async throws -> Response {
        var text = OpenAPIDocument.text
        if let path = settings.openAPIPath, let data = FileManager.default.contents(atPath: path) {
            text = String(decoding: data, as: UTF8.self)
        }
        var headers = HTTPFields()
        headers[.contentType] = "application/yaml"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
