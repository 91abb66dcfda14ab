import Foundation
import Postgres

extension Store {
    /// How many instances a listing's filters match (the console's "all N matching").
    static let countInstances = """
        SELECT count(*) FROM workflow_instances i JOIN contacts c ON c.id = i.contact
        WHERE ($1::text IS NULL OR i.workflow = $1) AND ($2::text IS NULL OR i.state = $2)
          AND ($3::text IS NULL OR c.owner = $3) AND ($4::text IS NULL OR c.team = $4)
          AND ($5::text IS NULL OR i.step = $5) AND ($6::text IS NULL OR i.contact = $6)
        """

    /// The number of instances `query`'s filters match (its cursor and limit are ignored).
    public func countInstances(_ query: InstanceQuery) async throws -> Int {
        if let state = query.state, !instanceStates.contains(state) {
            throw BatonError.invalid("unknown state \(state): one of \(instanceStates.joined(separator: ", "))")
        }
        return try await pool.withConnection { connection in
            try await connection.query(Self.countInstances, [
                query.workflow, query.state, query.owner, query.team, query.step, query.contact,
            ])[0].decode(Int.self, at: 0)
        }
    }

    /// The ids a bulk action targets: the given ids ($1) or, when $1 is NULL, every instance the
    /// filters ($2..$7) match. Rows are locked in id order, so two bulk actions never deadlock.
    private static let bulkTarget = """
        SELECT i.id, i.state FROM workflow_instances i JOIN contacts c ON c.id = i.contact
        WHERE ($1::bigint[] IS NULL OR i.id = ANY($1))
          AND ($2::text IS NULL OR i.workflow = $2) AND ($3::text IS NULL OR i.state = $3)
          AND ($4::text IS NULL OR c.owner = $4) AND ($5::text IS NULL OR c.team = $5)
          AND ($6::text IS NULL OR i.step = $6) AND ($7::text IS NULL OR i.contact = $7)
        ORDER BY i.id FOR UPDATE OF i
        """
    /// Cancels every live or failed target, as `cancelInstance` does one: the fence bump makes a
    /// worker that holds one commit nothing. $8 = actor, $9 = reason.
    static let cancelInstancesInBulk = "WITH target AS (" + bulkTarget + """
        ), moved AS (
            UPDATE workflow_instances i SET state = 'cancelled', finished_at = now(), lease_owner = NULL,
                lease_expires_at = NULL, fence = i.fence + 1, seq = i.seq + 1, outcome = 'cancelled',
                last_error = NULL, updated_at = now()
            FROM target t WHERE i.id = t.id AND t.state NOT IN ('completed', 'cancelled')
            RETURNING i.id, i.seq, i.step, t.state AS from_state
        ), events AS (
            INSERT INTO instance_events (instance, seq, step, from_state, to_state, worker, attempt, detail)
            SELECT id, seq, step, from_state, 'cancelled', $8, 0, 'cancelled by ' || $8 || coalesce(': ' || $9, '')
            FROM moved
        )
        SELECT count(*) FROM moved
        """
    /// Retries every failed target from the step it failed at, as `retryInstances` does, and wakes workers. $8 = actor.
    static let retryInstancesInBulk = "WITH target AS (" + bulkTarget + """
        ), moved AS (
            UPDATE workflow_instances i SET state = 'ready', attempt = 0, run_at = now(), finished_at = NULL,
                seq = i.seq + 1, fence = i.fence + 1, updated_at = now()
            FROM target t WHERE i.id = t.id AND t.state = 'failed'
            RETURNING i.id, i.seq, i.step
        ), events AS (
            INSERT INTO instance_events (instance, seq, step, from_state, to_state, worker, attempt, detail)
            SELECT id, seq, step, 'failed', 'ready', $8, 0, 'manual retry by ' || $8 FROM moved
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
        let parameters: [(any PostgresEncodable)?] = [
            ids, query.workflow, query.state, query.owner, query.team, query.step, query.contact,
        ] + extra
        return try await pool.withConnection { connection in
            try await connection.query(sql, parameters)[0].decode(Int.self, at: 0)
        }
    }
}
