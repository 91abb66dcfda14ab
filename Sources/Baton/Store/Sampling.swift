import Foundation
import Postgres

/// What the metrics sampler reads from the database every few seconds.
public struct RuntimeSample: Sendable, Equatable {
    /// Live instances by state (ready, running, waiting) and failed ones.
    public var states: [String: Int]
    /// Instances due now and not claimed (ready and due, waits past their deadline).
    public var due: Int
    /// Seconds since the oldest due instance became due (0 when nothing is due).
    public var oldestDueSeconds: Double
    /// Outbox rows by status (pending, dead).
    public var outbox: [String: Int]
}

extension Store {
    /// One round trip over the partial indexes of live work; finished states are not counted (they
    /// only grow, and counting them would scan the table).
    static let sampleRuntime = """
        SELECT (SELECT count(*) FROM workflow_instances WHERE state = 'ready') AS ready,
               (SELECT count(*) FROM workflow_instances WHERE state = 'running') AS running,
               (SELECT count(*) FROM workflow_instances WHERE state = 'waiting') AS waiting,
               (SELECT count(*) FROM workflow_instances WHERE state = 'failed') AS failed,
               (SELECT count(*) FROM workflow_instances WHERE state IN ('ready', 'waiting') AND run_at <= now()) AS due,
               (SELECT coalesce(extract(epoch FROM now() - min(run_at)), 0)::float8
                  FROM workflow_instances WHERE state IN ('ready', 'waiting') AND run_at <= now()) AS oldest_due_s,
               (SELECT count(*) FROM outbox WHERE status IN ('pending', 'delivering')) AS outbox_pending,
               (SELECT count(*) FROM outbox WHERE status = 'dead') AS outbox_dead
        """

    /// Reads the gauges of `BatonMetrics` that come from the database.
    public func sampleRuntime() async throws -> RuntimeSample {
        try await pool.withConnection { connection in
            let row = try await connection.query(Self.sampleRuntime)[0]
            var states: [String: Int] = [:]
            for state in ["ready", "running", "waiting", "failed"] { states[state] = try row.decode(Int.self, state) }
            return RuntimeSample(
                states: states, due: try row.decode("due"), oldestDueSeconds: try row.decode("oldest_due_s"),
                outbox: ["pending": try row.decode("outbox_pending"), "dead": try row.decode("outbox_dead")])
        }
    }
}
