import BatonCore
import Testing

@Suite struct TimeSpanTests {
    @Test(arguments: [("90s", 90), ("15m", 900), ("4h", 14400), ("3d", 259_200), ("1h30m", 5400), ("2w", 1_209_600)])
    func parses(text: String, seconds: Int) {
        #expect(TimeSpan(parsing: text)?.seconds == seconds)
    }

    @Test(arguments: ["", "4", "h", "4x", "-4h", "0s", "4 h", "1.5h", "h4"])
    func rejects(text: String) {
        #expect(TimeSpan(parsing: text) == nil)
    }

    @Test func printsShortestForm() {
        #expect(TimeSpan(seconds: 90).description == "1m30s")
        #expect(TimeSpan(seconds: 3600).description == "1h")
        #expect(TimeSpan(seconds: 259_200).description == "3d")
    }
}
