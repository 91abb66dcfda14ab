import Logging
import Postgres

/// Every SQL statement of the engine, over a connection pool. Each statement is a named constant
/// next to the method that runs it, with a comment on what it guarantees.
public struct Store: Sendable {
    public let pool: ConnectionPool
    let logger: Logger
    /// Workflow versions this process has decoded (they never change once stored).
    let definitionCache = DefinitionCache()

    public init(pool: ConnectionPool, logger: Logger = Logger(label: "baton.store")) {
        self.pool = pool
        self.logger = logger
    }
}

extension Duration {
    /// The longest interval Baton writes to the database: about 100 years. Anything longer (a
    /// hostile `Retry-After`, a mistyped lease) is clamped to it rather than overflowing.
    static let longestStored: Duration = .seconds(100 * 366 * 86_400)

    /// Whole milliseconds, for statements that take an interval as `$n * interval '1 millisecond'`.
    /// Saturating: a negative duration gives 0 and anything above `longestStored` gives its value,
    /// so no duration can trap here or reach the server as an out-of-range interval.
    var wholeMilliseconds: Int {
        if self <= .zero { return 0 }
        let (seconds, attoseconds) = min(self, Duration.longestStored).components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}
