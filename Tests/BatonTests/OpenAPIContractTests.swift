import Baton
import BatonHTTP
import BatonTesting
import Foundation
import Hummingbird
import Postgres
import Testing
import Yams

/// openapi.yaml and the server's routes describe the same API.
@Suite("OpenAPI contract")
struct OpenAPIContractTests {
    static func document() throws -> [String: Any] {
        let text = try String(contentsOf: packageRoot.appendingPathComponent("openapi.yaml"), encoding: .utf8)
        return try #require(try Yams.load(yaml: text) as? [String: Any])
    }

    /// Every (METHOD, path) the document describes, paths in the router's `{name}` form.
    static func documented() throws -> Set<String> {
        let paths = try #require(try document()["paths"] as? [String: Any])
        var result: Set<String> = []
        for (path, value) in paths {
            let operations = try #require(value as? [String: Any])
            for method in operations.keys where ["get", "post", "put", "patch", "delete"].contains(method) {
                result.insert("\(method.uppercased()) \(path)")
            }
        }
        return result
    }

    /// Every route the server has. The store is never used: nothing is requested.
    static func routed() throws -> Set<String> {
        let config = try ConnectionConfig("postgresql://unused@127.0.0.1:1/unused?sslmode=disable")
        let router = buildRouter(store: Store(pool: ConnectionPool(config, maxConnections: 1)))
        return Set(router.routes.map { route in
            let path = "/" + route.path.description.split(separator: "/").joined(separator: "/")
            return "\(route.method.rawValue) \(path)"
        })
    }

    @Test("every route is documented and every documented route exists")
    func routesMatch() throws {
        let documented = try Self.documented()
        let routed = try Self.routed()
        #expect(routed.subtracting(documented).sorted() == [], "routes missing from openapi.yaml")
        #expect(documented.subtracting(routed).sorted() == [], "documented routes the server lacks")
    }

    @Test("the embedded copy equals openapi.yaml (run scripts/gen-openapi after editing it)")
    func embeddedCopy() throws {
        let text = try String(contentsOf: packageRoot.appendingPathComponent("openapi.yaml"), encoding: .utf8)
        #expect(OpenAPIDocument.text + "\n" == text || OpenAPIDocument.text == text)
    }

    @Test("the document is OpenAPI 3.1 and every problem type is described in docs/api.md")
    func problemTypes() throws {
        #expect(try Self.document()["openapi"] as? String == "3.1.0")
        let docs = (try? String(contentsOf: packageRoot.appendingPathComponent("docs/api.md"), encoding: .utf8)) ?? ""
        for kind in Problem.Kind.allCases {
            #expect(docs.contains(kind.uri), "docs/api.md does not describe \(kind.uri)")
        }
    }
}
