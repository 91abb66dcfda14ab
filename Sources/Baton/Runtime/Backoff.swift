import Foundation

/// Exponential backoff with jitter: the one rule every retry loop of Baton uses (worker loops,
/// commit failures, outbox deliveries, reconnects).
///
/// Pure and overflow-safe: the delay before retry `n` is `base * multiplier^(n-1)`, capped at
/// `cap`, then scaled by a jitter factor drawn from `[1 - jitter, 1]` with a random value the caller
/// injects (a generator, or a fixed fraction for deterministic runs and tests). No attempt number,
/// multiplier or cap can trap: every product is computed in floating point and clamped to `cap`
/// before it becomes a `Duration` again.
public struct Backoff: Sendable, Hashable, CustomStringConvertible {
    /// The delay before the first retry (before jitter).
    public var base: Duration
    /// The longest delay ever returned.
    public var cap: Duration
    /// Growth per attempt (2: doubling). Values below 1 are treated as 1.
    public var multiplier: Double
    /// How much of each delay is random, 0...1: 0 = none, 0.5 = between half and all of it,
    /// 1 = anywhere from zero to all of it ("full jitter").
    public var jitter: Double

    /// - Parameters: see the properties; `cap` below `base` is raised to `base`, `jitter` is clamped to 0...1.
    public init(base: Duration, cap: Duration, multiplier: Double = 2, jitter: Double = 0.5) {
        self.base = max(base, .zero)
        self.cap = max(cap, self.base)
        self.multiplier = multiplier.isFinite ? max(1, multiplier) : 1
        self.jitter = jitter.isFinite ? min(1, max(0, jitter)) : 0
    }

    /// The delay before retry number `attempt` (1 = the first retry; 0 and below count as 1),
    /// with `unit` a random value in 0..<1 (values outside are clamped). `unit` 1 gives the
    /// undiminished delay, 0 the most-reduced one.
    public func delay(attempt: Int, unit: Double) -> Duration {
        if base == .zero { return .zero }
        let exponent = Double(max(0, attempt - 1))
        let capSeconds = Self.seconds(cap)
        var raw = Self.seconds(base) * pow(multiplier, exponent)  // +inf when huge, never a trap
        if !raw.isFinite || raw > capSeconds { raw = capSeconds }
        let u = unit.isFinite ? min(1, max(0, unit)) : 1
        let scaled = raw * (1 - jitter + jitter * u)
        if scaled >= capSeconds { return cap }
        if scaled <= 0 { return .zero }
        // Below the cap, which is itself a Duration: whole seconds fit in Int64 unless the cap is
        // within rounding of Int64.max seconds, where the cap is the answer anyway.
        guard scaled < 9e18 else { return cap }
        let whole = scaled.rounded(.down)
        return .seconds(Int64(whole)) + .nanoseconds(Int64((scaled - whole) * 1e9))
    }

    /// The delay before retry number `attempt`, with jitter drawn from `generator`.
    public func delay<G: RandomNumberGenerator>(attempt: Int, using generator: inout G) -> Duration {
        delay(attempt: attempt, unit: Double.random(in: 0..<1, using: &generator))
    }

    /// The delay before retry number `attempt`, with jitter from the system's random source.
    public func delay(attempt: Int) -> Duration {
        var generator = SystemRandomNumberGenerator()
        return delay(attempt: attempt, using: &generator)
    }

    public var description: String { "\(base) doubling×\(multiplier) up to \(cap), jitter \(jitter)" }

    /// A duration in seconds as a Double (finite for every Duration).
    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
