import Foundation

/// A PostgreSQL type OID.
public typealias OID = UInt32

/// Type OIDs this module knows by name.
public enum PostgresType {
    public static let unspecified: OID = 0
    public static let bool: OID = 16
    public static let bytea: OID = 17
    public static let name: OID = 19
    public static let int8: OID = 20
    public static let int2: OID = 21
    public static let int4: OID = 23
    public static let text: OID = 25
    public static let oid: OID = 26
    public static let json: OID = 114
    public static let float4: OID = 700
    public static let float8: OID = 701
    public static let unknown: OID = 705
    public static let boolArray: OID = 1000
    public static let int2Array: OID = 1005
    public static let int4Array: OID = 1007
    public static let textArray: OID = 1009
    public static let varcharArray: OID = 1015
    public static let int8Array: OID = 1016
    public static let float8Array: OID = 1022
    public static let bpchar: OID = 1042
    public static let varchar: OID = 1043
    public static let date: OID = 1082
    public static let timestamp: OID = 1114
    public static let timestampArray: OID = 1115
    public static let timestamptz: OID = 1184
    public static let timestamptzArray: OID = 1185
    public static let numeric: OID = 1700
    public static let uuid: OID = 2950
    public static let uuidArray: OID = 2951
    public static let jsonb: OID = 3802
}

/// A value that can be bound as a statement parameter. Values are sent in text format, separately
/// from the SQL text: there is no way to splice a value into a statement.
public protocol PostgresEncodable: Sendable {
    /// The parameter's type OID; `0` lets the server infer it from context.
    static var postgresType: OID { get }
    /// The value's text representation.
    var postgresText: String { get }
}

/// One cell of a result: its text (nil for NULL), type and column name.
public struct PostgresCell: Sendable {
    /// The text representation, or nil for NULL.
    public let text: String?
    /// The column's type OID.
    public let type: OID
    /// The column's name, for error messages.
    public let column: String

    public init(text: String?, type: OID, column: String) {
        self.text = text
        self.type = type
        self.column = column
    }

    /// The text of a non-NULL cell whose type is one of `types` (nil accepts any type).
    public func require<T>(_: T.Type, types: Set<OID>?) throws -> String {
        guard let text else {
            throw PostgresError(.decoding, "column \"\(column)\": NULL cannot be decoded as \(T.self); decode an Optional")
        }
        if let types, !types.contains(type) {
            throw PostgresError(
                .decoding, "column \"\(column)\": a value of type oid \(type) cannot be decoded as \(T.self)")
        }
        return text
    }

    /// A decoding error naming this column.
    public func invalid<T>(_: T.Type) -> PostgresError {
        PostgresError(.decoding, "column \"\(column)\": the value cannot be decoded as \(T.self)")
    }
}

/// A type that a result cell decodes into.
public protocol PostgresDecodable: Sendable {
    /// Decodes a cell; throws a `.decoding` error naming the column for NULL or a type mismatch.
    static func decode(_ cell: PostgresCell) throws -> Self
}

// MARK: - Strings

extension String: PostgresEncodable, PostgresDecodable {
    public static var postgresType: OID { PostgresType.unspecified }
    public var postgresText: String { self }
    /// Any column decodes as its text representation.
    public static func decode(_ cell: PostgresCell) throws -> String { try cell.require(String.self, types: nil) }
}

extension Substring: PostgresEncodable {
    public static var postgresType: OID { PostgresType.unspecified }
    public var postgresText: String { String(self) }
}

// MARK: - Integers

private let integerTypes: Set<OID> = [PostgresType.int2, PostgresType.int4, PostgresType.int8, PostgresType.oid]

// Integers, floats and booleans are sent untyped: the server infers the type from where the
// parameter is used (an int4 argument, an int8 column), exactly as for a literal.
extension Int: PostgresEncodable, PostgresDecodable {
    public static var postgresType: OID { PostgresType.unspecified }
    public var postgresText: String { String(self) }
    public static func decode(_ cell: PostgresCell) throws -> Int {
        guard let value = Int(try cell.require(Int.self, types: integerTypes)) else { throw cell.invalid(Int.self) }
        return value
    }
}

extension Int64: PostgresEncodable, PostgresDecodable {
    public static var postgresType: OID { PostgresType.unspecified }
    public var postgresText: String { String(self) }
    public static func decode(_ cell: PostgresCell) throws -> Int64 {
        guard let value = Int64(try cell.require(Int64.self, types: integerTypes)) else { throw cell.invalid(Int64.self) }
        return value
    }
}

extension Int32: PostgresEncodable, PostgresDecodable {
    public static var postgresType: OID { PostgresType.unspecified }
    public var postgresText: String { String(self) }
    public static func decode(_ cell: PostgresCell) throws -> Int32 {
        // An int8 that fits decodes too; one that does not is an error, never a truncation.
        guard let value = Int32(try cell.require(Int32.self, types: integerTypes)) else { throw cell.invalid(Int32.self) }
        return value
    }
}

// MARK: - Floating point, Bool

extension Double: PostgresEncodable, PostgresDecodable {
    public static var postgresType: OID { PostgresType.unspecified }
    public var postgresText: String {
        if isNaN { return "NaN" }
        if isInfinite { return self < 0 ? "-Infinity" : "Infinity" }
        return String(self)
    }
    public static func decode(_ cell: PostgresCell) throws -> Double {
        let text = try cell.require(
            Double.self, types: integerTypes.union([PostgresType.float4, PostgresType.float8, PostgresType.numeric]))
        switch text {
        case "NaN": return .nan
        case "Infinity": return .infinity
        case "-Infinity": return -.infinity
        default:
            guard let value = Double(text) else { throw cell.invalid(Double.self) }
            return value
        }
    }
}

extension Bool: PostgresEncodable, PostgresDecodable {
    public static var postgresType: OID { PostgresType.unspecified }
    public var postgresText: String { self ? "t" : "f" }
    public static func decode(_ cell: PostgresCell) throws -> Bool {
        switch try cell.require(Bool.self, types: [PostgresType.bool]) {
        case "t": return true
        case "f": return false
        default: throw cell.invalid(Bool.self)
        }
    }
}

// MARK: - Foundation types

extension UUID: PostgresEncodable, PostgresDecodable {
    public static var postgresType: OID { PostgresType.uuid }
    public var postgresText: String { uuidString.lowercased() }
    public static func decode(_ cell: PostgresCell) throws -> UUID {
        guard let value = UUID(uuidString: try cell.require(UUID.self, types: [PostgresType.uuid])) else {
            throw cell.invalid(UUID.self)
        }
        return value
    }
}

extension Date: PostgresEncodable, PostgresDecodable {
    public static var postgresType: OID { PostgresType.timestamptz }
    public var postgresText: String { TextFormat.formatTimestamp(self) }
    /// timestamptz, timestamp (read as UTC) and date (midnight UTC).
    public static func decode(_ cell: PostgresCell) throws -> Date {
        let text = try cell.require(
            Date.self, types: [PostgresType.timestamptz, PostgresType.timestamp, PostgresType.date])
        guard let value = TextFormat.parseTimestamp(text) else { throw cell.invalid(Date.self) }
        return value
    }
}

extension Data: PostgresEncodable, PostgresDecodable {
    public static var postgresType: OID { PostgresType.bytea }
    public var postgresText: String { TextFormat.formatBytea(self) }
    public static func decode(_ cell: PostgresCell) throws -> Data {
        guard let value = TextFormat.parseBytea(try cell.require(Data.self, types: [PostgresType.bytea])) else {
            throw cell.invalid(Data.self)
        }
        return value
    }
}

// MARK: - JSON

/// A Codable value stored as `jsonb` (bound) and read from `json` or `jsonb`.
public struct PostgresJSON<Value: Codable & Sendable>: PostgresEncodable, PostgresDecodable {
    public var value: Value
    public init(_ value: Value) { self.value = value }

    public static var postgresType: OID { PostgresType.jsonb }
    public var postgresText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding plain Codable values into JSON does not fail for the types we store.
        let data = (try? encoder.encode(value)) ?? Data("null".utf8)
        return String(decoding: data, as: UTF8.self)
    }
    public static func decode(_ cell: PostgresCell) throws -> PostgresJSON<Value> {
        let text = try cell.require(Value.self, types: [PostgresType.json, PostgresType.jsonb])
        do {
            return PostgresJSON(try JSONDecoder().decode(Value.self, from: Data(text.utf8)))
        } catch {
            throw PostgresError(.decoding, "column \"\(cell.column)\": the JSON does not decode as \(Value.self)")
        }
    }
}

// MARK: - Arrays

/// An element type of a one-dimensional array parameter or column.
public protocol PostgresArrayElement: PostgresEncodable, PostgresDecodable {
    /// The OID of the array type whose elements are `Self`.
    static var postgresArrayType: OID { get }
}

extension String: PostgresArrayElement { public static var postgresArrayType: OID { PostgresType.textArray } }
extension Int: PostgresArrayElement { public static var postgresArrayType: OID { PostgresType.int8Array } }
extension Int64: PostgresArrayElement { public static var postgresArrayType: OID { PostgresType.int8Array } }
extension Int32: PostgresArrayElement { public static var postgresArrayType: OID { PostgresType.int4Array } }
extension Double: PostgresArrayElement { public static var postgresArrayType: OID { PostgresType.float8Array } }
extension Bool: PostgresArrayElement { public static var postgresArrayType: OID { PostgresType.boolArray } }
extension UUID: PostgresArrayElement { public static var postgresArrayType: OID { PostgresType.uuidArray } }
extension Date: PostgresArrayElement { public static var postgresArrayType: OID { PostgresType.timestamptzArray } }

private let arrayElementTypes: [OID: OID] = [
    PostgresType.textArray: PostgresType.text, PostgresType.varcharArray: PostgresType.varchar,
    PostgresType.int8Array: PostgresType.int8, PostgresType.int4Array: PostgresType.int4,
    PostgresType.int2Array: PostgresType.int2, PostgresType.float8Array: PostgresType.float8,
    PostgresType.boolArray: PostgresType.bool, PostgresType.uuidArray: PostgresType.uuid,
    PostgresType.timestamptzArray: PostgresType.timestamptz, PostgresType.timestampArray: PostgresType.timestamp,
]

extension Array: PostgresEncodable where Element: PostgresArrayElement {
    public static var postgresType: OID { Element.postgresArrayType }
    public var postgresText: String { TextFormat.formatArray(map { $0.postgresText }) }
}

extension Array: PostgresDecodable where Element: PostgresDecodable {
    public static func decode(_ cell: PostgresCell) throws -> [Element] {
        let text = try cell.require([Element].self, types: Set(arrayElementTypes.keys))
        guard let items = TextFormat.parseArray(text) else { throw cell.invalid([Element].self) }
        let elementType = arrayElementTypes[cell.type] ?? PostgresType.text
        return try items.map { try Element.decode(PostgresCell(text: $0, type: elementType, column: cell.column)) }
    }
}

// MARK: - Optionals

extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
    public static func decode(_ cell: PostgresCell) throws -> Wrapped? {
        guard cell.text != nil else { return nil }
        return try Wrapped.decode(cell)
    }
}

extension Optional: PostgresEncodable where Wrapped: PostgresEncodable {
    public static var postgresType: OID { Wrapped.postgresType }
    /// Never called for nil: parameters that are nil are sent as NULL.
    public var postgresText: String { self?.postgresText ?? "" }
}

// MARK: - Array literals with NULLs

/// A one-dimensional array parameter whose elements may be NULL, sent untyped: cast it in SQL
/// (`$1::text[]`, `unnest($1::bigint[], $2::text[])`). For batching many rows into one statement.
public struct PostgresArrayLiteral: PostgresEncodable {
    public let postgresText: String
    public static var postgresType: OID { PostgresType.unspecified }

    public init<T: PostgresEncodable>(_ values: [T?]) {
        postgresText = TextFormat.formatArray(values.map { $0?.postgresText })
    }

    public init<T: PostgresEncodable>(_ values: [T]) {
        postgresText = TextFormat.formatArray(values.map { $0.postgresText })
    }
}
