import BatonCore
import Foundation
import Hummingbird

/// JSON as the API writes it: sorted keys, RFC 3339 UTC times, slashes unescaped — the same
/// bytes `batonctl … --json` prints, minus the indentation.
enum JSON {
    /// A fresh encoder per call: JSONEncoder is not Sendable, and making one is cheap next to a request.
    static func encode<T: Encodable>(_ value: T) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        // Encoding our own value types cannot fail; a failure would be a programming error.
        return (try? encoder.encode(value)) ?? Data(#"{"error":"encoding failed"}"#.utf8)
    }

    /// A JSON response with `status`.
    static func response<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(data: encode(value))))
    }

    /// Parses a request body that must be one JSON object; a one-line 400 otherwise.
    static func object(_ body: ByteBuffer) throws -> [String: JSONValue] {
        guard body.readableBytes > 0 else { throw Problem.malformed("the request body is empty: send a JSON object") }
        guard let parsed = JSONValue.parse(Data(buffer: body)) else { throw Problem.malformed("the request body is not valid JSON") }
        guard case .object(let object) = parsed else { throw Problem.malformed("the request body must be a JSON object") }
        return object
    }
}

/// Reading typed fields out of a parsed JSON object, with messages that name the field.
struct JSONFields {
    let object: [String: JSONValue]
    /// Where the object came from, for messages: "" for a body, "line 7: " in a bulk request.
    let prefix: String

    init(_ object: [String: JSONValue], prefix: String = "") {
        self.object = object
        self.prefix = prefix
    }

    /// A required non-empty string.
    func string(_ key: String) throws -> String {
        guard let value = object[key], value != .null else { throw Problem.malformed("\(prefix)\(key) is required") }
        guard case .string(let text) = value else { throw Problem.malformed("\(prefix)\(key) must be a string") }
        guard !text.isEmpty else { throw Problem.malformed("\(prefix)\(key) must not be empty") }
        guard !text.contains("\u{0}") else { throw Problem.malformed("\(prefix)\(key) contains a NUL character") }
        return text
    }

    /// An optional string.
    func optionalString(_ key: String) throws -> String? {
        guard let value = object[key], value != .null else { return nil }
        guard case .string(let text) = value else { throw Problem.malformed("\(prefix)\(key) must be a string") }
        guard !text.contains("\u{0}") else { throw Problem.malformed("\(prefix)\(key) contains a NUL character") }
        return text
    }

    /// An optional object of attributes: strings, numbers and booleans, stored as text.
    func attributes(_ key: String, maxValueBytes: Int) throws -> [String: String] {
        guard let value = object[key], value != .null else { return [:] }
        guard case .object(let map) = value else { throw Problem.malformed("\(prefix)\(key) must be an object of names to values") }
        var result: [String: String] = [:]
        for (name, raw) in map where raw != .null {
            let shown = OneLine.shown(name)  // the name as typed, its line breaks and NULs escaped
            guard let text = raw.scalarText else {
                throw Problem.malformed("\(prefix)\(key).\(shown) must be a string, number or boolean")
            }
            guard text.utf8.count <= maxValueBytes else {
                throw Problem.tooLarge("\(prefix)\(key).\(shown) is \(text.utf8.count) bytes; values are limited to \(maxValueBytes) bytes")
            }
            guard !text.contains("\u{0}") && !name.contains("\u{0}") else {
                throw Problem.malformed("\(prefix)\(key).\(shown) contains a NUL character")
            }
            guard !name.isEmpty else { throw Problem.malformed("\(prefix)\(key) has an attribute with an empty name") }
            result[name] = text
        }
        return result
    }

    /// An optional JSON value of any kind, re-encoded as text (a signal's payload).
    func rawJSON(_ key: String) throws -> String? {
        guard let value = object[key], value != .null else { return nil }
        let text = String(decoding: JSON.encode(value), as: UTF8.self)
        guard !text.contains("\\u0000") else { throw Problem.malformed("\(prefix)\(key) contains a NUL character") }
        return text
    }
}
