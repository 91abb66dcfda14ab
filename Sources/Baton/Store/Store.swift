import Logging
import Postgres

/// Every SQL statement of the engine, over a connection pool. Each statement is a named constant
/// next to the method that runs it, with a comment on what it guarantees.
public struct Store: Sendable {
    public let pool: ConnectionPool
    let logger: Logger

    public init(pool: ConnectionPool, logger: Logger = Logger(label: "baton.store")) {
        self.pool = pool
        self.logger = logger
    }
}

extension Duration {
    /// Whole milliseconds, for statements that take an interval as `$n * interval '1 millisecond'`.
    var wholeMilliseconds: Int { Int(components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000) }
}
