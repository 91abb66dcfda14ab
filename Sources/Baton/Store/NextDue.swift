import BatonCore
import Postgres

extension Store {
    /// Milliseconds until the earliest moment work falls due that no worker could claim just now: a
    /// deadline or a woken wait (`waiting`), a backoff or a delayed start (`ready`, per priority), a
    /// lease that expires (`running`); negative when something is due already (another worker holds
    /// it), nil when there is nothing at all. Each term is one probe of its partial index (the
    /// `ready` index is ordered by priority first, so it is probed once per priority rank).
    /// An idle worker waits this long instead of its whole poll interval, so a deadline is handled
    /// when it passes, not at the next poll.
    public func millisecondsUntilNextDue() async throws -> Double? {
        try await pool.withConnection { connection in
            try await connection.query(Self.selectNextDue, [Priority.allCases.map(\.rank)])[0].decode(Double?.self, at: 0)
        }
    }

    static let selectNextDue = """
        SELECT extract(epoch FROM least(
                   (SELECT min(run_at) FROM workflow_instances WHERE state = 'waiting'),
                   (SELECT min(first.run_at) FROM unnest($1::int[]) AS rank,
                        LATERAL (SELECT run_at FROM workflow_instances WHERE state = 'ready' AND priority = rank
                                 ORDER BY run_at LIMIT 1) AS first),
                   (SELECT min(lease_expires_at) FROM workflow_instances WHERE state = 'running')
               ) - clock_timestamp())::float8 * 1000
        """
}
