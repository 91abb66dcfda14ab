import BatonCore
import Foundation
import Postgres

/// One instance that needs a human (the `stuck --json` field names are a contract).
public struct StuckItem: Sendable, Codable, Equatable {
    public var instance: String
    public var workflow: String
    public var contact: String
    /// failed | lease_expired | overdue | unowned | delivery_failed | orphaned_version
    public var reason: String
    public var since: Date
    public var detail: String
    public var suggestion: String
}

extension Store {
    /// Every kind of stuck work, oldest first. $1 = how long past due before it counts.
    static let selectStuck = """
        SELECT i.id, i.workflow, i.contact, 'failed' AS reason, coalesce(i.finished_at, i.updated_at) AS since,
               coalesce(i.last_error, 'failed') AS detail
        FROM workflow_instances i WHERE i.state = 'failed'
        UNION ALL
        SELECT i.id, i.workflow, i.contact, 'lease_expired', i.lease_expires_at,
               'worker ' || i.lease_owner || ' stopped holding it at step ' || i.step
        FROM workflow_instances i
        WHERE i.state = 'running' AND i.lease_expires_at < now() - $1 * interval '1 second'
        UNION ALL
        SELECT i.id, i.workflow, i.contact, 'overdue', i.run_at,
               CASE WHEN i.state = 'waiting' THEN 'deadline of ' || i.step || ' passed; no worker has looked at it'
                    ELSE 'due at step ' || i.step || ' but no worker has run it' END
        FROM workflow_instances i
        WHERE i.state IN ('ready', 'waiting') AND i.run_at < now() - $1 * interval '1 second'
        UNION ALL
        SELECT i.id, i.workflow, i.contact, 'unowned', c.queued_since,
               'queued in team ' || coalesce(c.team, '?') || ': nobody was eligible'
        FROM workflow_instances i JOIN contacts c ON c.id = i.contact
        WHERE c.owner IS NULL AND c.queued_since < now() - $1 * interval '1 second'
          AND i.state IN ('ready', 'running', 'waiting')
        UNION ALL
        SELECT o.instance, o.workflow, o.contact, 'delivery_failed', o.created_at,
               'outbox ' || o.id || ' via ' || o.channel || ' to ' || coalesce(o.recipient, '?') || ': '
               || coalesce(o.last_error, 'dead')
        FROM outbox o WHERE o.status = 'dead'
        ORDER BY since
        """

    /// Versions live instances are pinned to, with their specs, to find ones this build cannot load.
    static let selectLiveVersions = """
        SELECT d.name, d.version, d.spec::text AS spec,
               (SELECT max(n.version) FROM workflow_definitions n WHERE n.name = d.name) AS newest,
               array_agg(i.id ORDER BY i.id) AS ids, array_agg(i.contact ORDER BY i.id) AS contacts,
               min(i.updated_at) AS since
        FROM workflow_instances i JOIN workflow_definitions d ON d.name = i.workflow AND d.version = i.version
        WHERE i.state IN ('ready', 'running', 'waiting', 'failed')
        GROUP BY d.name, d.version, d.spec::text
        """

    public func stuck(olderThan seconds: Int) async throws -> [StuckItem] {
        try await pool.withConnection { connection in
            var items = try await connection.query(Self.selectStuck, [seconds]).map { row -> StuckItem in
                let id = String(try row.decode(Int.self, "id"))
                let reason: String = try row.decode("reason")
                let suggestion: String
                switch reason {
                case "failed": suggestion = "fix the cause, then: batonctl retry \(id)"
                case "lease_expired", "overdue": suggestion = "start a worker: baton-worker (it resumes the instance by itself)"
                case "unowned": suggestion = "batonctl reassign --contact \(try row.decode(String.self, "contact")) --to MEMBER --reason TEXT"
                default: suggestion = "fix the channel, then: batonctl outbox retry --all-dead"
                }
                return StuckItem(
                    instance: id, workflow: try row.decode("workflow"), contact: try row.decode("contact"), reason: reason,
                    since: try row.decode("since"), detail: try row.decode("detail"), suggestion: suggestion)
            }
            for row in try await connection.query(Self.selectLiveVersions) {
                let spec: String = try row.decode("spec")
                if (try? JSONDecoder().decode(WorkflowDefinition.self, from: Data(spec.utf8))) != nil { continue }
                let name: String = try row.decode("name"), version: Int = try row.decode("version")
                let contacts: [String] = try row.decode("contacts")
                let newest: Int = try row.decode("newest")
                let migrate = newest > version
                    ? "batonctl instances migrate --workflow \(name) --from-version \(version) --to-version \(newest) --dry-run"
                    : "apply a new version, then batonctl instances migrate --workflow \(name) --from-version \(version) --to-version \(version + 1) --dry-run"
                for (index, id) in try row.decode([Int].self, "ids").enumerated() {
                    items.append(StuckItem(
                        instance: String(id), workflow: name, contact: contacts[index], reason: "orphaned_version",
                        since: try row.decode("since"), detail: "\(name) v\(version) cannot be loaded by this version of Baton",
                        suggestion: "\(migrate) (then without --dry-run), or batonctl cancel \(id)"))
                }
            }
            return items
        }
    }

    /// Puts failed instances back to work at their current step; appends a timeline entry.
    static let retryInstances = """
        WITH target AS (
            SELECT id FROM workflow_instances
            WHERE state = 'failed' AND ($1::bigint IS NULL OR id = $1) AND ($2::text IS NULL OR workflow = $2)
            FOR UPDATE
        ), moved AS (
            UPDATE workflow_instances i SET state = 'ready', attempt = 0, run_at = now(), finished_at = NULL,
                seq = i.seq + 1, fence = i.fence + 1, updated_at = now()
            FROM target t WHERE i.id = t.id
            RETURNING i.id, i.seq, i.step
        ), events AS (
            INSERT INTO instance_events (instance, seq, step, from_state, to_state, worker, attempt, detail)
            SELECT id, seq, step, 'failed', 'ready', $3, 0, 'manual retry by ' || $3 FROM moved
        ), woken AS (
            SELECT pg_notify('baton_wake', 'retry') WHERE EXISTS (SELECT 1 FROM moved)
        )
        SELECT id FROM moved, (SELECT count(*) FROM woken) w ORDER BY id
        """

    public func retry(instance: Int?, workflow: String?, by who: String) async throws -> [Int] {
        try await pool.withConnection { connection in
            try await connection.query(Self.retryInstances, [instance, workflow, who]).map { try $0.decode(Int.self, at: 0) }
        }
    }

    /// Cancels a live instance, also one leased by a running worker: bumping the fence makes that
    /// worker's commit match nothing. A pause of the wait it stood in ends (`ended_by` cancelled).
    static let cancelInstance = """
        WITH moved AS (
            UPDATE workflow_instances i SET state = 'cancelled', finished_at = now(), lease_owner = NULL,
                lease_expires_at = NULL, fence = i.fence + 1, seq = i.seq + 1, outcome = 'cancelled',
                last_error = NULL, updated_at = now()
            FROM (SELECT id, state FROM workflow_instances WHERE id = $1 FOR UPDATE) before
            WHERE i.id = before.id AND before.state NOT IN ('completed', 'cancelled')
            RETURNING i.id, i.seq, i.step, before.state AS from_state
        ), paused AS (
            -- A pause of the wait it left ends here (see sql/0013_sla_pauses_ended_by.sql).
            UPDATE sla_pauses p SET ended_at = greatest(p.started_at, now()), ended_by = 'cancelled'
            FROM moved m WHERE p.instance = m.id AND p.ended_at IS NULL
        ), events AS (
            INSERT INTO instance_events (instance, seq, step, from_state, to_state, worker, attempt, detail)
            SELECT id, seq, step, from_state, 'cancelled', $2, 0, 'cancelled by ' || $2 || coalesce(': ' || $3, '')
            FROM moved
        )
        SELECT (SELECT count(*) FROM moved) AS cancelled, (SELECT state FROM workflow_instances WHERE id = $1) AS state
        """

    /// Returns the state the instance is in afterwards; throws when there is no such instance or it already ended.
    public func cancel(instance: Int, by who: String, reason: String?) async throws {
        try await pool.withConnection { connection in
            let row = try await connection.query(Self.cancelInstance, [instance, who, reason])[0]
            guard let state = try row.decode(String?.self, "state") else { throw BatonError.notFound("no instance \(instance)") }
            if try row.decode(Int.self, "cancelled") == 0 {
                throw BatonError.invalid("instance \(instance) is already \(state); only live or failed instances can be cancelled")
            }
        }
    }

    /// Moves an instance to a named step of its version, ready to run now (a pause of the wait it
    /// left ends, `ended_by` moved). Only live and failed
    /// instances: a completed or cancelled one has ended (and another live instance of the same
    /// workflow may exist for its contact); start a new one instead.
    static let resumeInstance = """
        WITH moved AS (
            UPDATE workflow_instances i SET state = 'ready', step = $2, attempt = 0, run_at = now(), finished_at = NULL,
                lease_owner = NULL, lease_expires_at = NULL, wait_event = NULL, wait_started_at = NULL, deadline = NULL,
                fence = i.fence + 1, seq = i.seq + 1, updated_at = now()
            FROM (SELECT id, state, step FROM workflow_instances WHERE id = $1 FOR UPDATE) before
            WHERE i.id = before.id AND before.state NOT IN ('completed', 'cancelled')
            RETURNING i.id, i.seq, before.step AS from_step, before.state AS from_state
        ), paused AS (
            -- A pause of the wait it left ends here (see sql/0013_sla_pauses_ended_by.sql).
            UPDATE sla_pauses p SET ended_at = greatest(p.started_at, now()), ended_by = 'moved'
            FROM moved m WHERE p.instance = m.id AND p.ended_at IS NULL
        ), events AS (
            INSERT INTO instance_events (instance, seq, step, from_state, to_state, worker, attempt, detail)
            SELECT id, seq, $2, from_state, 'ready', $3, 0, 'manual resume at ' || $2 || ' (from ' || from_step || ') by ' || $3
            FROM moved
        ), woken AS (SELECT pg_notify('baton_wake', 'resume') FROM moved)
        SELECT (SELECT count(*) FROM moved) AS resumed, (SELECT count(*) FROM woken) AS woken,
               (SELECT state FROM workflow_instances WHERE id = $1) AS state
        """

    public func resume(instance: Int, at step: String, by who: String) async throws {
        guard let summary = try await self.instance(instance)?.0 else { throw BatonError.notFound("no instance \(instance)") }
        guard let stored = try await workflow(summary.workflow, version: summary.version), stored.version == summary.version else {
            throw BatonError.notFound("\(summary.workflow) v\(summary.version) is not stored")
        }
        let steps = stored.definition.steps.map(\.id)
        guard steps.contains(step) else {
            throw BatonError.invalid("\(summary.workflow) v\(summary.version) has no step \(step); steps: \(steps.joined(separator: ", "))")
        }
        try await pool.withConnection { connection in
            let row = try await connection.query(Self.resumeInstance, [instance, step, who])[0]
            if try row.decode(Int.self, "resumed") == 0 {
                let state = try row.decode(String?.self, "state") ?? "gone"
                throw BatonError.invalid(
                    "instance \(instance) is \(state); only live or failed instances can be resumed: start a new one instead")
            }
        }
    }
}
