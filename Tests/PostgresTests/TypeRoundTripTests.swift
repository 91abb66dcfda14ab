import BatonTesting
import Foundation
import Postgres
import Testing

@Suite("Values round-trip through the server")
struct TypeRoundTripTests {
    let config: ConnectionConfig
    init() async throws { config = try await TestDatabase.create("types") }

    func roundTrip<T: PostgresEncodable & PostgresDecodable>(_ value: T, as cast: String) async throws -> T {
        let connection = try await Connection.connect(config)
        defer { Task { await connection.close() } }
        let rows = try await connection.query("SELECT $1::\(cast) AS v", [value])
        return try rows[0].decode(T.self, "v")
    }

    @Test func integers() async throws {
        #expect(try await roundTrip(Int.max, as: "int8") == Int.max)
        #expect(try await roundTrip(Int.min, as: "int8") == Int.min)
        #expect(try await roundTrip(Int32.max, as: "int4") == Int32.max)
        #expect(try await roundTrip(Int64(-42), as: "int8") == -42)
        #expect(try await roundTrip(7, as: "int2") == 7)
    }

    @Test func doublesAndBools() async throws {
        #expect(try await roundTrip(3.141592653589793, as: "float8") == 3.141592653589793)
        #expect(try await roundTrip(-0.5e-300, as: "float8") == -0.5e-300)
        #expect(try await roundTrip(Double.infinity, as: "float8") == .infinity)
        #expect(try await roundTrip(Double.nan, as: "float8").isNaN)
        #expect(try await roundTrip(true, as: "bool") == true)
        #expect(try await roundTrip(false, as: "bool") == false)
    }

    @Test func stringsWithUnicode() async throws {
        let text = "Grüße, 東京, emoji 👩🏽‍💻, quote ' \" \\ and a newline\n"
        #expect(try await roundTrip(text, as: "text") == text)
        #expect(try await roundTrip("", as: "text") == "")
    }

    @Test func uuidDateAndData() async throws {
        let id = UUID()
        #expect(try await roundTrip(id, as: "uuid") == id)
        let date = Date(timeIntervalSince1970: 1_795_000_000.123456)
        let back = try await roundTrip(date, as: "timestamptz")
        #expect(abs(back.timeIntervalSince1970 - date.timeIntervalSince1970) < 0.000001)
        let old = Date(timeIntervalSince1970: -2_000_000_000.5)
        #expect(try await roundTrip(old, as: "timestamptz") == old)
        let bytes = Data((0...255).map { UInt8($0) })
        #expect(try await roundTrip(bytes, as: "bytea") == bytes)
        #expect(try await roundTrip(Data(), as: "bytea") == Data())
    }

    @Test func arrays() async throws {
        let texts = ["a", "b,c", "quote\"d", "back\\slash", "", "NULL", "{braces}", "Jürgen \"Zoë\" 東京 🎉\\"]
        #expect(try await roundTrip(texts, as: "text[]") == texts)
        #expect(try await roundTrip([1, -2, 3], as: "int8[]") == [1, -2, 3])
        #expect(try await roundTrip([Int32(5)], as: "int4[]") == [5])
        #expect(try await roundTrip([String](), as: "text[]") == [])
    }

    @Test func jsonIntoCodable() async throws {
        struct Contact: Codable, Equatable, Sendable {
            var id: String
            var attributes: [String: String]
        }
        let contact = Contact(id: "C-1", attributes: ["country": "DE", "name": "Jürgen"])
        let back = try await roundTrip(PostgresJSON(contact), as: "jsonb")
        #expect(back.value == contact)
    }

    @Test func nullsDecodeAsOptionals() async throws {
        let connection = try await Connection.connect(config)
        defer { Task { await connection.close() } }
        let row = try await connection.query(
            "SELECT $1::int8 AS i, $2::text AS t, $3::timestamptz AS d, $4::bytea AS b, $5::uuid AS u, $6::bool AS f",
            [nil, nil, nil, nil, nil, nil])[0]
        #expect(try row.decode(Int?.self, "i") == nil)
        #expect(try row.decode(String?.self, "t") == nil)
        #expect(try row.decode(Date?.self, "d") == nil)
        #expect(try row.decode(Data?.self, "b") == nil)
        #expect(try row.decode(UUID?.self, "u") == nil)
        #expect(try row.decode(Bool?.self, "f") == nil)
        let optional: Int? = 5
        #expect(try await connection.query("SELECT $1::int8", [optional])[0].decode(Int?.self, at: 0) == 5)
    }

    @Test func nullIntoNonOptionalNamesTheColumn() async throws {
        let connection = try await Connection.connect(config)
        defer { Task { await connection.close() } }
        let row = try await connection.query("SELECT NULL::int8 AS score")[0]
        let error = try #require(throws: PostgresError.self) { try row.decode(Int.self, "score") }
        #expect(error.code == .decoding)
        #expect(error.message.contains("\"score\""))
        #expect(error.message.contains("NULL"))
    }

    @Test func typeMismatchNamesTheColumn() async throws {
        let connection = try await Connection.connect(config)
        defer { Task { await connection.close() } }
        let row = try await connection.query("SELECT 'abc'::text AS name, 3000000000::int8 AS big")[0]
        let error = try #require(throws: PostgresError.self) { try row.decode(Int.self, "name") }
        #expect(error.code == .decoding)
        #expect(error.message.contains("\"name\""))
        let overflow = try #require(throws: PostgresError.self) { try row.decode(Int32.self, "big") }
        #expect(overflow.message.contains("\"big\""))
        #expect(throws: PostgresError.self) { try row.decode(Int.self, "missing") }
    }

    @Test func tenMegabytesOfTextAndBytea() async throws {
        let connection = try await Connection.connect(config)
        defer { Task { await connection.close() } }
        try await connection.query("CREATE TABLE blobs (id int PRIMARY KEY, t text, b bytea)")
        let text = String(repeating: "ünïcødé-0123456789", count: 10 * 1024 * 1024 / 20)
        var bytes = Data(count: 10 * 1024 * 1024)
        for i in stride(from: 0, to: bytes.count, by: 4099) { bytes[i] = UInt8(truncatingIfNeeded: i) }
        try await connection.query("INSERT INTO blobs VALUES (1, $1, $2)", [text, bytes])
        let row = try await connection.query("SELECT t, b, length(b) AS n FROM blobs WHERE id = $1", [1])[0]
        #expect(try row.decode(String.self, "t") == text)
        #expect(try row.decode(Data.self, "b") == bytes)
        #expect(try row.decode(Int.self, "n") == 10 * 1024 * 1024)
    }
}
