import Foundation
import Postgres

extension Store {
    /// How many instances a listing's filters match (the console's "all N matching"), counting no
    /// further than $10 rows (NULL: all of them).
    static let countInstances = """
        SELECT count(*) FROM (SELECT 1 FROM workflow_instances i JOIN contacts c ON c.id = i.contact

        """ + instanceFilters + """

        LIMIT $10) s
        """

    /// The number of instances `query`'s filters match (its cursor and limit are ignored). With
    /// `upTo`, counting stops there (at most `upTo` + 1 is returned: "more than upTo"): a listing's
    /// header need not read a million rows.
    public func countInstances(_ query: InstanceQuery, upTo: Int? = nil) async throws -> Int {
        if let state = query.state, !instanceStates.contains(state) {
            throw BatonError.invalid("unknown state \(state): one of \(instanceStates.joined(separator: ", "))")
        }
        return try await pool.withConnection { connection in
            try await connection.query(Self.countInstances, Self.filterParameters(query) + [upTo.map { $0 + 1 }])[0]
                .decode(Int.self, at: 0)
        }
    }

    /// The ids a bulk action targets: among those the filters ($1..$9, `instanceFilters`) match,
    /// the given ids ($10) or, when $10 is NULL, all. Rows are locked in id order, so two bulk
    /// actions never deadlock.
    private static let bulkTarget = """
        SELECT i.id, i.state FROM workflow_instances i JOIN contacts c ON c.id = i.contact

        """ + instanceFilters + """
          AND ($10::bigint[] IS NULL OR i.id = ANY($10))
        ORDER BY i.id FOR UPDATE OF i
        """
    /// Cancels every live or failed target, as `cancelInstance` does one: the fence bump makes a
    /// worker that holds one commit nothing. $11 = actor, $12 = reason.
    static let cancelInstancesInBulk = "WITH target AS (" + bulkTarget + """
        ), moved AS (
            UPDATE workflow_instances i SET state = 'cancelled', finished_at = now(), lease_owner = NULL,
                lease_expires_at = NULL, fence = i.fence + 1, seq = i.seq + 1, outcome = 'cancelled',
                last_error = NULL, updated_at = now()
            FROM target t WHERE i.id = t.id AND t.state NOT IN ('completed', 'cancelled')
            RETURNING i.id, i.seq, i.step, t.state AS from_state
        ), paused AS (
            -- A pause of the wait it left ends here (see sql/0013_sla_pauses_ended_by.sql).
            UPDATE sla_pauses p SET ended_at = greatest(p.started_at, now()), ended_by = 'cancelled'
            FROM moved m WHERE p.instance = m.id AND p.ended_at IS NULL
        ), events AS (
            INSERT INTO instance_events (instance, seq, step, from_state, to_state, worker, attempt, detail)
            SELECT id, seq, step, from_state, 'cancelled', $11, 0, 'cancelled by ' || $11 || coalesce(': ' || $12, '')
            FROM moved
        )
        SELECT count(*) FROM moved
        """
    /// Retries every failed target from the step it failed at, as `retryInstances` does, and wakes workers. $11 = actor.
    static let retryInstancesInBulk = "WITH target AS (" + bulkTarget + """
        ), moved AS (
            UPDATE workflow_instances i SET state = 'ready', attempt = 0, run_at = now(), finished_at = NULL,
                seq = i.seq + 1, fence = i.fence + 1, updated_at = now()
            FROM target t WHERE i.id = t.id AND t.state = 'failed'
            RETURNING i.id, i.seq, i.step
        ), events AS (
            INSERT INTO instance_events (instance, seq, step, from_state, to_state, worker, attempt, detail)
            SELECT id, seq, step, 'failed', 'ready', $11, 0, 'manual retry by ' || $11 FROM moved
        ), woken AS (
            SELECT pg_notify('baton_wake', 'retry') WHERE EXISTS (SELECT 1 FROM moved)
        )
        SELECT count(*) FROM moved, (SELECT count(*) FROM woken) w
        """

    /// Cancels the instances with these ids (or, with `ids` nil, all that `query` matches); returns
    /// how many were cancelled (finished ones are left alone).
    public func cancelInstances(ids: [Int]?, matching query: InstanceQuery, by actor: String, reason: String?) async throws -> Int {
        try await bulk(Self.cancelInstancesInBulk, ids: ids, query: query, extra: [actor, reason])
    }

    /// Retries the failed instances among these ids (or all failed ones `query` matches); returns how many.
    public func retryInstances(ids: [Int]?, matching query: InstanceQuery, by actor: String) async throws -> Int {
        try await bulk(Self.retryInstancesInBulk, ids: ids, query: query, extra: [actor])
    }

    private func bulk(_ sql: String, ids: [Int]?, query: InstanceQuery, extra: [(any PostgresEncodable)?]) async throws -> Int {
        if let state = query.state, !instanceStates.contains(state) {
            throw BatonError.invalid("unknown state \(state): one of \(instanceStates.joined(separator: ", "))")
        }
        let parameters: [(any PostgresEncodable)?] = Self.filterParameters(query) + [ids] + extra
        return try await pool.withConnection { connection in
            try await connection.query(sql, parameters)[0].decode(Int.self, at: 0)
        }
    }
}
