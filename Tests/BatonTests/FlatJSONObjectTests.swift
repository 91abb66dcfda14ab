import Foundation
import Testing
@testable import Baton

/// The claim's fast reader of contact attributes must agree with JSONDecoder (the general path)
/// on every object it accepts, and decline what it does not handle.
@Suite struct FlatJSONObjectTests {
    func decoded(_ text: String) -> [String: ContactAttributes.Value]? {
        try? JSONDecoder().decode([String: ContactAttributes.Value].self, from: Data(text.utf8))
    }

    @Test(arguments: [
        #"{}"#, #"{"country": "DE", "tier": "smb"}"#, #"{"seats": 40, "ratio": 0.25, "neg": -3, "big": 12345678901234}"#,
        #"{"vip": true, "churned": false, "gone": null}"#, #"{"quote": "say \"hi\"", "slash": "a\\b\/c", "nl": "x\ny\tz"}"#,
        #"{"name": "J\u00fcrgen", "emoji": "\ud83c\udf89", "raw": "Zoë 東京"}"#, #"{"one": 1.0, "half": 1.50, "zero": -0}"#,
        #"{"e": 1e2, "E": 2.5E-3}"#, #"  { "spaced" :"yes" , "b":1 }  "#, #"{"": ""}"#,
    ])
    func agreesWithJSONDecoder(_ text: String) throws {
        let fast = try #require(FlatJSONObject.scalars(text), "declined \(text)")
        #expect(fast == decoded(text))
    }

    @Test(arguments: [
        #"{"list": [1, 2]}"#, #"{"nested": {"a": 1}}"#, #"{"a": "unterminated}"#, #"{"a": "bad \q escape"}"#,
        #"{"a": 1,}"#, #"[1]"#, #"{"a": "\ud83c"}"#, #"{"a": tru}"#, #"{"a": 1} trailing"#, "{\"a\": \"raw\u{01}control\"}",
        #"{"a": 1e999}"#,
    ])
    func declinesWhatItDoesNotRead(_ text: String) {
        #expect(FlatJSONObject.scalars(text) == nil)
    }

    /// Random flat objects as PostgreSQL prints them (fixed seed): both paths agree on each.
    @Test func randomObjectsAgree() throws {
        var rng = SplitMix(seed: 20261126)
        let alphabet: [String] = ["a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "é", "東", "🎉", "\u{7F}", "{", "}", ":", ","]
        for _ in 0..<2_000 {
            var object: [String: Any] = [:]
            for _ in 0..<Int.random(in: 0...6, using: &rng) {
                let key = (0..<Int.random(in: 0...5, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }.joined()
                switch Int.random(in: 0...4, using: &rng) {
                case 0: object[key] = (0..<Int.random(in: 0...8, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }.joined()
                case 1: object[key] = Int.random(in: -1_000_000...1_000_000, using: &rng)
                case 2: object[key] = Double(Int.random(in: -100_000...100_000, using: &rng)) / 64
                case 3: object[key] = Bool.random(using: &rng)
                default: object[key] = NSNull()
                }
            }
            let text = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
            let fast = try #require(FlatJSONObject.scalars(text), "declined \(text)")
            #expect(fast == decoded(text), "\(text)")
        }
    }
}
