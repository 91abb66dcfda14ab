import BatonCore
import Foundation
import Hummingbird

/// An RFC 9457 problem: every error the API returns, as `application/problem+json`.
/// The `type`s are a contract (scripts match on them); all of them are listed here.
public struct Problem: Error, Sendable, Encodable {
    /// The catalogue of problem types.
    public enum Kind: String, Sendable, CaseIterable {
        case malformed = "malformed-request"            // 400: not JSON, a missing or mistyped field
        case invalid = "invalid-request"                // 400: well-formed but not acceptable (bad state name, limit…)
        case validation = "validation-failed"           // 422: a workflow or team file with mistakes (`errors` lists them)
        case unauthorized = "unauthorized"              // 401: no token, an unknown or revoked one
        case forbidden = "forbidden"                    // 403: the token's role may not do this
        case notFound = "not-found"                     // 404: no such route, instance, contact, workflow…
        case methodNotAllowed = "method-not-allowed"    // 405
        case conflict = "conflict"                      // 409: the thing is in a state that forbids this
        case idempotencyMismatch = "idempotency-key-reused"  // 422: the key was used for another request
        case tooLarge = "too-large"                     // 413: body or attribute over the limit
        case unsupportedMediaType = "unsupported-media-type"  // 415
        case unavailable = "database-unavailable"       // 503: the database cannot be reached; try again
        case internalFault = "internal-error"           // 500: a fault of ours; `error_id` is in the server log

        /// The URI reference of the type, relative to the API (documented in docs/api.md).
        public var uri: String { "/problems/\(rawValue)" }
    }

    /// One mistake in a file sent for validation.
    public struct FieldError: Sendable, Encodable, Equatable {
        public var file: String
        public var line: Int
        public var column: Int
        public var field: String
        public var message: String
    }

    public var kind: Kind
    public var status: HTTPResponse.Status
    public var title: String
    public var detail: String
    public var errors: [FieldError]?
    public var errorID: String?

    public init(_ kind: Kind, _ status: HTTPResponse.Status, _ detail: String, errors: [FieldError]? = nil, errorID: String? = nil) {
        self.kind = kind
        self.status = status
        self.title = status.reasonPhrase
        self.detail = detail
        self.errors = errors
        self.errorID = errorID
    }

    enum CodingKeys: String, CodingKey { case type, title, status, detail, errors, error_id }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind.uri, forKey: .type)
        try c.encode(title, forKey: .title)
        try c.encode(status.code, forKey: .status)
        try c.encode(detail, forKey: .detail)
        try c.encodeIfPresent(errors, forKey: .errors)
        try c.encodeIfPresent(errorID, forKey: .error_id)
    }

    /// The problem as an HTTP response.
    public var response: Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/problem+json"
        if status == .unauthorized { headers[.wwwAuthenticate] = #"Bearer realm="baton""# }
        if status == .serviceUnavailable { headers[.retryAfter] = "5" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(data: JSON.encode(self))))
    }
}

extension Problem {
    static func malformed(_ detail: String) -> Problem { Problem(.malformed, .badRequest, detail) }
    static func invalid(_ detail: String) -> Problem { Problem(.invalid, .badRequest, detail) }
    static func notFound(_ detail: String) -> Problem { Problem(.notFound, .notFound, detail) }
    static func forbidden(_ detail: String) -> Problem { Problem(.forbidden, .forbidden, detail) }
    static func unauthorized(_ detail: String) -> Problem { Problem(.unauthorized, .unauthorized, detail) }
    static func tooLarge(_ detail: String) -> Problem { Problem(.tooLarge, .contentTooLarge, detail) }

    /// Every mistake of a file, as a 422 with the validator's lines.
    static func validation(_ errors: DefinitionErrors) -> Problem {
        let fields = errors.issues.map {
            FieldError(file: $0.file, line: $0.line, column: $0.column, field: $0.path, message: $0.message)
        }
        let first = errors.issues.first.map(\.description) ?? "the file has mistakes"
        let more = errors.issues.count > 1 ? " (and \(errors.issues.count - 1) more)" : ""
        return Problem(.validation, .unprocessableContent, first + more, errors: fields)
    }
}
