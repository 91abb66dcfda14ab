import Foundation
import Synchronization
import Testing
import Baton

/// Shared values (`Refreshing`: the console's counts, a worker's open work): recomputed while viewers wait while cheap, served
/// as kept and refreshed in the background once a computation was slow.
@Suite("Shared counts")
struct RefreshingTests {
    @Test func aCheapValueIsRecomputedOnceItIsOlderThanItsMaximumAge() async throws {
        let counter = Counter()
        let always = Refreshing(maximumAge: .zero, expensive: .seconds(3600)) { counter.next() }
        #expect(try await always.current() == 1)
        #expect(try await always.current() == 2)
        let kept = Refreshing(maximumAge: .seconds(3600), expensive: .seconds(3600)) { counter.next() }
        #expect(try await kept.current() == 3)
        #expect(try await kept.current() == 3)
    }

    @Test func aSlowValueIsServedAsKeptWhileAFreshOneIsComputedInTheBackground() async throws {
        let counter = Counter()
        // Every computation counts as slow: kept for ten times its cost, then refreshed behind the viewer.
        let slow = Refreshing(maximumAge: .zero, expensive: .zero) { counter.next() }
        #expect(try await slow.current() == 1)
        try await Task.sleep(for: .milliseconds(100))
        // Past ten times its cost: the viewer gets the kept value at once, a refresh starts.
        #expect(try await slow.current() == 1)
        var seen = 1
        let deadline = ContinuousClock.now + .seconds(30)
        while seen == 1 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            seen = try await slow.current()
        }
        #expect(seen == 2)
    }

    @Test func aKeptValueCanBeAdjustedUntilItIsComputedAgain() async throws {
        let counter = Counter()
        let kept = Refreshing(maximumAge: .seconds(3600), expensive: .seconds(3600)) { [counter.next()] }
        await kept.adjust { $0.append(99) }  // nothing kept yet: no change
        #expect(try await kept.current() == [1])
        await kept.adjust { $0.append(2) }
        #expect(try await kept.current() == [1, 2])
    }

    @Test func aValueOlderThanTheStaleLimitIsNeverServed() async throws {
        let counter = Counter()
        let slow = Refreshing(maximumAge: .zero, expensive: .zero, staleLimit: .zero) { counter.next() }
        #expect(try await slow.current() == 1)
        try await Task.sleep(for: .milliseconds(10))
        #expect(try await slow.current() == 2)
    }
}

private final class Counter: Sendable {
    private let value = Mutex(0)
    func next() -> Int { value.withLock { $0 += 1; return $0 } }
}
