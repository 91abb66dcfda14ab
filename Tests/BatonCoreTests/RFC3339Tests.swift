@testable import BatonCore
import BatonTesting
import Foundation
import Testing

@Suite("RFC 3339 timestamps without a formatter")
struct RFC3339Tests {
    @Test func knownInstants() {
        #expect(RFC3339.string(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00Z")
        #expect(RFC3339.string(t0) == "2026-03-02T10:00:00Z")
        #expect(RFC3339.string(instant("2024-02-29T23:59:59Z")) == "2024-02-29T23:59:59Z")
        #expect(RFC3339.string(Date(timeIntervalSince1970: -0.5)) == "1969-12-31T23:59:59Z")  // rounded down
        #expect(RFC3339.string(Date(timeIntervalSince1970: 1.999)) == "1970-01-01T00:00:01Z")
        #expect(RFC3339.string(.distantFuture) == "4001-01-01T00:00:00Z")
        #expect(RFC3339.string(Date(timeIntervalSince1970: 1e15)) == "9999-12-31T23:59:59Z")  // clamped, same shape
        #expect(RFC3339.string(Date(timeIntervalSince1970: -1e15)) == "0000-01-01T00:00:00Z")
    }

    /// A few thousand instants from 1900 to 2200 (fixed seed): the same text as ISO8601DateFormatter, and
    /// that text parses back to the instant rounded down to the second.
    @Test func matchesTheFoundationFormatterAndRoundTrips() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        var random = SplitMix64(seed: 0x5EED)
        for _ in 0..<5000 {
            let seconds = Double(Int64(random.next() % 9_467_280_000) - 2_208_988_800) + Double(random.next() % 1000) / 1000
            let date = Date(timeIntervalSince1970: seconds)
            let text = RFC3339.string(date)
            #expect(text == formatter.string(from: date), "\(seconds)")
            #expect(formatter.date(from: text)?.timeIntervalSince1970 == seconds.rounded(.down), "\(text)")
        }
    }

    @Test func jsonUsesTheSameForm() throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .rfc3339
        #expect(String(decoding: try encoder.encode([t0]), as: UTF8.self) == #"["2026-03-02T10:00:00Z"]"#)
    }
}
