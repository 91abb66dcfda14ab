import Foundation
import Testing

@testable import BatonHTTP

/// `JSONParser` (what the HTTP layer parses request bodies with) gives the same answer as
/// `JSONDecoder` into `JSONValue`, on valid and invalid input alike.
@Suite("JSON parser")
struct JSONParserTests {
    static func decoded(_ text: [UInt8]) -> JSONValue? { try? JSONDecoder().decode(JSONValue.self, from: Data(text)) }

    static let valid = [
        #"{"eventId": 1, "subscriptionType": "contact.creation", "objectId": 5000001, "occurredAt": 1700000000000, "changeSource": "CRM_UI"}"#,
        #"[{"a": [1, -2.5, 3e2, 0, -0, 1E-3, 12.25e+1]}, true, false, null, "", "x"]"#,
        #"  "caf\u00e9 \ud83d\ude00 \n\t\"\\\/ \b\f\r"  "#, "0", "-12", "1.5", "true", "null", "[]", "{}", " [ ] ",
        #"{"dup": 1, "dup": 2}"#, #"{"nested": {"deeper": {"deepest": [[], {}]}}}"#, "\"Grüße, 東京 🎉\"",
        #"{"big": 123456789012345678901234567890, "tiny": 1e-300}"#, "[0e-9991, -0.0e-400, 4.9e-324, 1e-320]",
        // JSONDecoder's leniencies, kept: a trailing comma, a byte order mark.
        #"{"a": 1,}"#, "[1,]", "[[1, 2,], {\"b\": [],},]", "\u{FEFF}{}",
    ]
    static let invalid = [
        "", " ", "[", "]", "{", #"{"a"}"#, #"{"a": }"#, "[,]", "{,}", "[1,,]", "[1 2]", "01", "1.", ".5", "-", "+1", "1e",
        "tru", "nul", "True", "NaN", "Infinity", "1e400", "1e-9991", "-1e-9991", "[-1e-400]", "2e-324", #""abc"#, #""\x""#, #""\ud800""#, #""\udc00 x""#, #""\u12""#,
        "\"a\u{01}b\"", "[1] [2]", "{} x", #"{1: 2}"#, "'a'", "[\"\\",
    ]

    @Test("valid JSON parses as JSONDecoder decodes it")
    func valid() {
        for text in Self.valid {
            let parsed = JSONParser.parse(Data(text.utf8))
            #expect(parsed != nil, "\(text)")
            #expect(parsed == Self.decoded(Array(text.utf8)), "\(text)")
        }
    }

    @Test("invalid JSON, invalid UTF-8 and nesting deeper than 512 are refused, as JSONDecoder refuses them")
    func invalid() {
        for text in Self.invalid {
            #expect(JSONParser.parse(Data(text.utf8)) == nil, "\(text)")
            #expect(Self.decoded(Array(text.utf8)) == nil, "JSONDecoder accepts \(text)")
        }
        let badUTF8: [UInt8] = [0x22, 0xC3, 0x28, 0x22]
        #expect(JSONParser.parse(Data(badUTF8)) == nil)
        #expect(Self.decoded(badUTF8) == nil)
        let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        #expect(JSONParser.parse(Data(deep.utf8)) == nil)
        let fine = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(JSONParser.parse(Data(fine.utf8)) == Self.decoded(Array(fine.utf8)))
    }
}
