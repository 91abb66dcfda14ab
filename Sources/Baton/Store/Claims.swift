import BatonCore
import Foundation
import Postgres

/// A batch of claimed instances and the database time of the claim.
public struct ClaimedBatch: Sendable {
    public var now: Date
    public var instances: [InstanceSnapshot]
}

extension Store {
    /// Claims up to $3 due instances for worker $2 at time $1 (NULL: the server's now()).
    ///
    /// Three sources of due work, each through its own partial index and locked with SKIP LOCKED, so
    /// parallel workers never block each other: `ready` rows (highest priority first, then oldest),
    /// `waiting` rows whose deadline passed or that a signal woke (run_at set to now), and `running`
    /// rows whose lease expired (a dead worker's). Lock order: only workflow_instances rows are locked.
    /// The UPDATE bumps `fence`: every later write by this claimer must present it (see commitAdvances).
    /// The contact and the signals the instance has not consumed come back with each row.
    static let claimInstances = PreparedStatement(name: "baton_claim_instances", sql: """
        WITH clock AS (SELECT coalesce($1::timestamptz, now()) AS now),
        ready AS (
            SELECT id, state FROM workflow_instances, clock
            WHERE state = 'ready' AND run_at <= clock.now
            ORDER BY priority DESC, run_at LIMIT $3 FOR UPDATE OF workflow_instances SKIP LOCKED
        ), waits AS (
            SELECT id, state FROM workflow_instances, clock
            WHERE state = 'waiting' AND run_at <= clock.now
            ORDER BY run_at LIMIT $3 FOR UPDATE OF workflow_instances SKIP LOCKED
        ), expired AS (
            SELECT id, state FROM workflow_instances, clock
            WHERE state = 'running' AND lease_expires_at < clock.now
            ORDER BY lease_expires_at LIMIT $3 FOR UPDATE OF workflow_instances SKIP LOCKED
        ), picked AS (
            SELECT * FROM ready UNION ALL SELECT * FROM waits UNION ALL SELECT * FROM expired LIMIT $3
        )
        UPDATE workflow_instances i
        SET state = 'running', lease_owner = $2, lease_expires_at = clock.now + $4 * interval '1 millisecond',
            fence = i.fence + 1, updated_at = clock.now
        FROM picked p, clock, contacts c
        WHERE i.id = p.id AND c.id = i.contact
        RETURNING i.id, i.workflow, i.version, p.state AS prior_state, i.step, i.seq, i.attempt, i.fence, i.priority,
            i.wait_started_at, i.deadline, i.created_at, clock.now AS now,
            c.id AS contact, c.attributes, c.owner, c.backup_owner, c.team, c.previous_owner,
            (SELECT coalesce(jsonb_agg(jsonb_build_object('id', s.id, 'name', s.name,
                                                          'at', extract(epoch FROM s.received_at)) ORDER BY s.id), '[]')
             FROM signals s
             WHERE s.contact = i.contact AND s.received_at >= i.created_at
               AND NOT (s.id = ANY (i.used_signals))) AS signals
        """)

    private struct SignalRow: Codable, Sendable {
        var id: Int
        var name: String
        var at: Double
    }

    /// Claims a batch for `worker` under a lease of `lease`.
    public func claim(worker: String, limit: Int, lease: Duration, at time: Date? = nil) async throws -> ClaimedBatch {
        let leaseMillis = lease.wholeMilliseconds
        return try await pool.withConnection { connection in
            let rows = try await connection.query(Self.claimInstances, [time, worker, limit, leaseMillis])
            var now = time ?? Date()
            var instances: [InstanceSnapshot] = []
            instances.reserveCapacity(rows.count)
            for row in rows {
                now = try row.decode(Date.self, "now")
                let contact = ContactSnapshot(
                    id: try row.decode("contact"),
                    attributes: try row.decode(PostgresJSON<[String: String]>.self, "attributes").value,
                    owner: try row.decode("owner"), backupOwner: try row.decode("backup_owner"),
                    team: try row.decode("team"), previousOwner: try row.decode("previous_owner"))
                let signals = try row.decode(PostgresJSON<[SignalRow]>.self, "signals").value.map {
                    PendingSignal(id: $0.id, name: $0.name, receivedAt: Date(timeIntervalSince1970: $0.at))
                }
                instances.append(InstanceSnapshot(
                    id: try row.decode("id"), workflow: try row.decode("workflow"), version: try row.decode("version"),
                    contact: contact,
                    state: InstanceState(rawValue: try row.decode("prior_state")) ?? .ready,
                    step: try row.decode("step"), seq: try row.decode("seq"), attempt: try row.decode("attempt"),
                    fence: try row.decode("fence"), priority: try row.decode("priority"),
                    waitStartedAt: try row.decode("wait_started_at"), deadline: try row.decode("deadline"),
                    createdAt: try row.decode("created_at"), pendingSignals: signals))
            }
            return ClaimedBatch(now: now, instances: instances)
        }
    }

    /// Extends the lease of instances this worker still holds (fence must match).
    static let renewLeases = """
        UPDATE workflow_instances i SET lease_expires_at = now() + $3 * interval '1 millisecond'
        FROM unnest($1::bigint[], $2::bigint[]) AS l(id, fence)
        WHERE i.id = l.id AND i.fence = l.fence AND i.state = 'running' AND i.lease_owner = $4
        """

    public func renewLeases(_ held: [(id: Int, fence: Int)], worker: String, lease: Duration) async throws {
        guard !held.isEmpty else { return }
        let leaseMillis = lease.wholeMilliseconds
        try await pool.withConnection { connection in
            try await connection.query(
                Self.renewLeases,
                [PostgresArrayLiteral(held.map(\.id)), PostgresArrayLiteral(held.map(\.fence)), leaseMillis, worker])
        }
    }

    /// Gives back instances this worker holds without running them (graceful stop): ready again at once.
    static let releaseInstances = """
        UPDATE workflow_instances i
        SET state = CASE WHEN i.deadline IS NOT NULL AND i.wait_event IS NOT NULL THEN 'waiting' ELSE 'ready' END,
            lease_owner = NULL, lease_expires_at = NULL, run_at = now(), updated_at = now()
        FROM unnest($1::bigint[], $2::bigint[]) AS l(id, fence)
        WHERE i.id = l.id AND i.fence = l.fence AND i.state = 'running' AND i.lease_owner = $3
        """

    public func release(_ held: [(id: Int, fence: Int)], worker: String) async throws {
        guard !held.isEmpty else { return }
        try await pool.withConnection { connection in
            try await connection.query(
                Self.releaseInstances,
                [PostgresArrayLiteral(held.map(\.id)), PostgresArrayLiteral(held.map(\.fence)), worker])
        }
    }

    /// Takes `count` consecutive round-robin positions per team with one statement. Rows are locked
    /// in team-name order, so two workers reserving for overlapping teams cannot deadlock.
    static let reserveRotation = """
        WITH wanted AS (
            SELECT team, n FROM unnest($1::text[], $2::int[]) AS w(team, n)
        ), locked AS (
            SELECT r.team FROM routing_cursors r JOIN wanted w USING (team) ORDER BY r.team FOR UPDATE OF r
        )
        UPDATE routing_cursors r SET position = r.position + w.n
        FROM wanted w
        WHERE r.team = w.team AND r.team IN (SELECT team FROM locked)
        RETURNING r.team, r.position - w.n AS start
        """

    public func reserveRotation(_ demand: [String: Int]) async throws -> [String: Int] {
        let wanted = demand.filter { $0.value > 0 }.sorted { $0.key < $1.key }
        guard !wanted.isEmpty else { return [:] }
        return try await pool.withConnection { connection in
            var starts: [String: Int] = [:]
            for row in try await connection.query(
                Self.reserveRotation, [wanted.map(\.key), wanted.map(\.value)])
            {
                starts[try row.decode("team")] = try row.decode("start")
            }
            return starts
        }
    }
}
