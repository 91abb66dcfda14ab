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

    /// Milliseconds until the first of `instances` (id and the fence it was put back with) that is
    /// still unclaimed falls due (negative: due already), nil when none is: each was claimed since
    /// (its fence moved on), by this worker or another, or is gone. A put-back instance is `ready`,
    /// or `waiting` again with its run_at a moment ahead.
    /// An until-idle worker asks this about the instances it put back (their contact was busy)
    /// before it exits, so a put-back instance is never left behind because the machine was slow
    /// between the claim that missed it and the check.
    public func millisecondsUntilReady(_ instances: [(id: Int, fence: Int)]) async throws -> Double? {
        guard !instances.isEmpty else { return nil }
        return try await pool.withConnection { connection in
            try await connection.query(Self.selectUntilReady, [
                PostgresArrayLiteral(instances.map(\.id)), PostgresArrayLiteral(instances.map(\.fence)),
            ])[0].decode(Double?.self, at: 0)
        }
    }

    static let selectUntilReady = """
        SELECT extract(epoch FROM min(i.run_at) - clock_timestamp())::float8 * 1000
        FROM unnest($1::bigint[], $2::bigint[]) AS p(id, fence)
        JOIN workflow_instances i ON i.id = p.id AND i.fence = p.fence
        WHERE i.state IN ('ready', 'waiting')
        """
}
