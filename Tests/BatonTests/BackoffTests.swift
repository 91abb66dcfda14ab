@testable import Baton
import BatonCore
import Testing

@Suite("Backoff")
struct BackoffTests {
    let backoff = Backoff(base: .seconds(1), cap: .seconds(300), multiplier: 2, jitter: 0.5)

    @Test func doublesFromTheBaseUpToTheCap() {
        #expect(backoff.delay(attempt: 1, unit: 1) == .seconds(1))
        #expect(backoff.delay(attempt: 2, unit: 1) == .seconds(2))
        #expect(backoff.delay(attempt: 5, unit: 1) == .seconds(16))
        #expect(backoff.delay(attempt: 9, unit: 1) == .seconds(256))
        #expect(backoff.delay(attempt: 10, unit: 1) == .seconds(300))
        #expect(backoff.delay(attempt: 0, unit: 1) == .seconds(1))
        #expect(backoff.delay(attempt: -7, unit: 1) == .seconds(1))
    }

    @Test func jitterTakesAtMostItsShareOff() {
        #expect(backoff.delay(attempt: 3, unit: 0) == .seconds(2))
        #expect(backoff.delay(attempt: 3, unit: 0.5) == .seconds(3))
        let full = Backoff(base: .seconds(1), cap: .seconds(60), jitter: 1)
        #expect(full.delay(attempt: 3, unit: 0) == .zero)
        let none = Backoff(base: .seconds(1), cap: .seconds(60), jitter: 0)
        #expect(none.delay(attempt: 3, unit: 0) == .seconds(4))
    }

    @Test func drawsFromTheInjectedGenerator() {
        var generator = SplitMix(seed: 42)
        var seen = Set<Duration>()
        for _ in 0..<50 {
            let delay = backoff.delay(attempt: 4, using: &generator)
            #expect(delay >= .seconds(4) && delay <= .seconds(8))
            seen.insert(delay)
        }
        #expect(seen.count > 10, "jitter spreads the delays")
        var again = SplitMix(seed: 42)
        var replay = SplitMix(seed: 42)
        #expect(backoff.delay(attempt: 4, using: &again) == backoff.delay(attempt: 4, using: &replay))
    }

    @Test func hugeAttemptsMultipliersAndCapsNeverTrap() {
        #expect(backoff.delay(attempt: .max, unit: 1) == .seconds(300))
        #expect(backoff.delay(attempt: 64, unit: 0.999) <= .seconds(300))
        let wild = Backoff(base: .seconds(Int64.max / 2), cap: .seconds(Int64.max), multiplier: 1e300, jitter: 0.3)
        #expect(wild.delay(attempt: .max, unit: 1) == .seconds(Int64.max))
        #expect(wild.delay(attempt: 3, unit: 0.5) > .zero)
        let odd = Backoff(base: .seconds(5), cap: .seconds(1), multiplier: .nan, jitter: .infinity)
        #expect(odd.cap == .seconds(5))
        #expect(odd.delay(attempt: 3, unit: .nan) == .seconds(5))
        #expect(Backoff(base: .zero, cap: .seconds(1)).delay(attempt: .max, unit: 1) == .zero)
    }

    @Test func durationsBecomeMillisecondsWithoutOverflow() {
        #expect(Duration.milliseconds(1500).wholeMilliseconds == 1500)
        #expect(Duration.seconds(-5).wholeMilliseconds == 0)
        // A Retry-After of 9,300,000,000,000,000 seconds used to overflow here.
        #expect(Duration.seconds(9_300_000_000_000_000).wholeMilliseconds == Duration.longestStored.wholeMilliseconds)
        #expect(Duration.seconds(Int64.max).wholeMilliseconds > 3_000_000_000_000)
    }
}

/// A small deterministic generator for tests (SplitMix64).
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E4B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Durations that sum past the largest integer")
struct DurationOverflowTests {
    @Test func aSumOfDurationsThatOverflowsIsRejectedNotATrap() {
        #expect(TimeSpan(parsing: "9223372036854775807s1s") == nil)
        #expect(TimeSpan(parsing: "1h30m")?.seconds == 5400)
    }
}
