import Baton
import Crypto
import Foundation
import HTTPTypes
import Hummingbird

/// A response whose bytes are kept, so a POST with an `Idempotency-Key` can answer a repeat with it.
struct Reply: Sendable {
    var status: HTTPResponse.Status
    var body: Data
    var location: String?

    init<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok, location: String? = nil) {
        self.status = status
        self.body = JSON.encode(value)
        self.location = location
    }

    init(status: HTTPResponse.Status, body: Data) {
        self.status = status
        self.body = body
    }

    var response: Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if let location { headers[.location] = location }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(data: body)))
    }
}

extension HTTPField.Name {
    /// The header that makes a POST safe to repeat.
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    /// Set on a response replayed for a repeated Idempotency-Key.
    static let idempotentReplayed = HTTPField.Name("Idempotent-Replayed")!
}

/// Runs a POST once per (token, `Idempotency-Key`): the first request acts and its response is
/// stored in the same transaction as its effects; a repeat with the same method, path and body gets
/// that response again (with `Idempotent-Replayed: true`), and one that arrives while the first
/// still runs waits for it; the same key on another request is a 422. Without the header the work
/// simply runs. A request that fails (a bad request, the database restarting) commits nothing,
/// key included, so it can be sent again.
func idempotent(_ request: Request, _ context: BatonRequestContext, store: Store, body: ByteBuffer,
                _ work: () async throws -> Reply) async throws -> Response {
    guard let key = request.headers[.idempotencyKey] else { return try await work().response }
    guard !key.isEmpty, key.utf8.count <= 255 else {
        throw Problem.invalid("Idempotency-Key must be 1 to 255 characters")
    }
    let caller = try context.caller()
    var hasher = SHA256()
    hasher.update(data: Data(request.method.rawValue.utf8))
    hasher.update(data: Data([0]))
    hasher.update(data: Data(request.uri.description.utf8))
    hasher.update(data: Data([0]))
    // A JSON body is compared as canonical JSON (keys sorted), so a client that re-serialises the
    // same object in another key order is still "the same request"; anything else byte for byte.
    let raw = Data(buffer: body)
    hasher.update(data: JSONValue.parse(raw).map { JSON.encode($0) } ?? raw)
    let hash = Data(hasher.finalize())
    switch try await store.idempotent(token: caller.name, key: key, method: request.method.rawValue, path: request.uri.path,
                                       requestHash: hash, work, response: { (status: $0.status.code, body: $0.body) }) {
    case .ran(let reply):
        return reply.response
    case .replay(let status, let body):
        var response = Reply(status: HTTPResponse.Status(code: status), body: body).response
        response.headers[.idempotentReplayed] = "true"
        return response
    case .mismatch:
        throw Problem(.idempotencyMismatch, .unprocessableContent,
                      "Idempotency-Key \(key) was used for a different request; use a new key for a new request")
    }
}
