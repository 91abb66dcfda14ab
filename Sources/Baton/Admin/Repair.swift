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

/// One reason's stuck work as the console shows it: how many, and the oldest few.
public struct StuckGroup: Sendable, Equatable {
    public var reason: String
    /// How many instances are stuck for this reason, counted up to `capped` (then "more than").
    public var count: Int
    /// True when there are more than `count`.
    public var capped: Bool
    /// The oldest, at most the limit asked for.
    public var items: [StuckItem]
}

extension Store {
    /// Each kind of stuck work, as one SELECT with the same columns. $1 = how long past due before
    /// it counts. Every branch is served by an index (state, lease, run_at, contact owner, outbox status).
    static let stuckBranches: [(reason: String, sql: String)] = [
        ("failed", """
            SELECT i.id, i.workflow, i.contact, 'failed' AS reason, coalesce(i.finished_at, i.updated_at) AS since,
                   coalesce(i.last_error, 'failed') AS detail
            FROM workflow_instances i WHERE i.state = 'failed' AND $1::int IS NOT NULL
            """),
        ("lease_expired", """
            SELECT i.id, i.workflow, i.contact, 'lease_expired' AS reason, i.lease_expires_at AS since,
                   'worker ' || i.lease_owner || ' stopped holding it at step ' || i.step AS detail
            FROM workflow_instances i
            WHERE i.state = 'running' AND i.lease_expires_at < now() - $1 * interval '1 second'
            """),
        ("overdue", """
            SELECT i.id, i.workflow, i.contact, 'overdue' AS reason, i.run_at AS since,
                   CASE WHEN i.state = 'waiting' THEN 'deadline of ' || i.step || ' passed; no worker has looked at it'
                        ELSE 'due at step ' || i.step || ' but no worker has run it' END AS detail
            FROM workflow_instances i
            WHERE i.state IN ('ready', 'waiting') AND i.run_at < now() - $1 * interval '1 second'
            """),
        ("unowned", """
            SELECT i.id, i.workflow, i.contact, 'unowned' AS reason, c.queued_since AS since,
                   'queued in team ' || coalesce(c.team, '?') || ': nobody was eligible' AS detail
            FROM workflow_instances i JOIN contacts c ON c.id = i.contact
            WHERE c.owner IS NULL AND c.queued_since < now() - $1 * interval '1 second'
              AND i.state IN ('ready', 'running', 'waiting')
            """),
        ("delivery_failed", """
            SELECT o.instance AS id, coalesce(o.workflow, '') AS workflow, coalesce(o.contact, '') AS contact,
                   'delivery_failed' AS reason, o.created_at AS since,
                   'outbox ' || o.id || ' via ' || o.channel || ' to ' || coalesce(o.recipient, '?') || ': '
                   || coalesce(o.last_error, 'dead') AS detail
            FROM outbox o WHERE o.status = 'dead' AND $1::int IS NOT NULL
            """),
    ]

    /// Every kind of stuck work, oldest first. $1 = how long past due before it counts.
    static let selectStuck = stuckBranches.map(\.sql).joined(separator: "\nUNION ALL\n") + "\nORDER BY since"

    /// Every stored definition with the newest version of its workflow: the stuck check decodes
    /// each to find versions this build cannot load (few rows; no instance is read).
    static let selectDefinitionSpecs = """
        SELECT d.name, d.version, d.spec::text AS spec,
               (SELECT max(n.version) FROM workflow_definitions n WHERE n.name = d.name) AS newest
        FROM workflow_definitions d ORDER BY d.name, d.version
        """
    /// The live or failed instances pinned to one version, oldest id first, at most $3.
    static let selectPinnedInstances = """
        SELECT id, contact, updated_at FROM workflow_instances
        WHERE workflow = $1 AND version = $2 AND state IN ('ready', 'running', 'waiting', 'failed')
        ORDER BY id LIMIT $3
        """

    public func stuck(olderThan seconds: Int) async throws -> [StuckItem] {
        try await pool.withConnection { connection in
            var items = try await connection.query(Self.selectStuck, [seconds]).map(Self.stuckItem)
            for orphaned in try await Self.orphanedVersions(connection) {
                items += try await Self.orphanedItems(orphaned, limit: Int(Int32.max), connection)
            }
            return items
        }
    }

    /// Stuck work reason by reason, in `stuckBranches` order then orphaned versions: each reason's
    /// count up to `cap` and its `limit` oldest items. Cheap at any table size: the console's page.
    public func stuckGroups(olderThan seconds: Int, limit: Int, cap: Int = 10_000) async throws -> [StuckGroup] {
        try await pool.withConnection { connection in
            var groups: [StuckGroup] = []
            for (reason, sql) in Self.stuckBranches {
                let count = try await connection.query(
                    "SELECT count(*) FROM (" + sql + " LIMIT $2) s", [seconds, cap + 1])[0].decode(Int.self, at: 0)
                guard count > 0 else { continue }
                let items = limit == 0 ? [] : try await connection.query(
                    "SELECT * FROM (" + sql + ") s ORDER BY since LIMIT $2", [seconds, limit]).map(Self.stuckItem)
                groups.append(StuckGroup(reason: reason, count: min(count, cap), capped: count > cap, items: items))
            }
            var orphanedItems: [StuckItem] = []
            var orphanedCount = 0
            for orphaned in try await Self.orphanedVersions(connection) {
                let some = try await Self.orphanedItems(orphaned, limit: cap + 1, connection)
                orphanedCount += some.count
                orphanedItems += some.prefix(max(0, limit - orphanedItems.count))
            }
            if orphanedCount > 0 {
                groups.append(StuckGroup(reason: "orphaned_version", count: min(orphanedCount, cap), capped: orphanedCount > cap,
                                         items: orphanedItems))
            }
            return groups
        }
    }

    /// A dead delivery of no instance (a CRM write-back, a scheduled report) has an empty `instance`
    /// (and `workflow`, `contact` when it has none): its detail names the outbox row to retry.
    private static func stuckItem(_ row: Row) throws -> StuckItem {
        let id = try row.decode(Int?.self, "id").map(String.init) ?? ""
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

    /// A stored version this build cannot decode.
    private struct OrphanedVersion { var name: String, version: Int, newest: Int }

    private static func orphanedVersions(_ connection: Connection) async throws -> [OrphanedVersion] {
        try await connection.query(selectDefinitionSpecs).compactMap { row in
            let spec: String = try row.decode("spec")
            if (try? JSONDecoder().decode(WorkflowDefinition.self, from: Data(spec.utf8))) != nil { return nil }
            return OrphanedVersion(name: try row.decode("name"), version: try row.decode("version"), newest: try row.decode("newest"))
        }
    }

    private static func orphanedItems(_ orphaned: OrphanedVersion, limit: Int, _ connection: Connection) async throws -> [StuckItem] {
        let (name, version) = (orphaned.name, orphaned.version)
        let migrate = orphaned.newest > version
            ? "batonctl instances migrate --workflow \(name) --from-version \(version) --to-version \(orphaned.newest) --dry-run"
            : "apply a new version, then batonctl instances migrate --workflow \(name) --from-version \(version) --to-version \(version + 1) --dry-run"
        let rows = try await connection.query(selectPinnedInstances, [name, version, limit])
        // The version's oldest pinned instance dates them all, as one group.
        let since: Date = try rows.map { try $0.decode(Date.self, "updated_at") }.min() ?? Date()
        return try rows.map { row in
            let id = String(try row.decode(Int.self, "id"))
            return StuckItem(
                instance: id, workflow: name, contact: try row.decode("contact"), reason: "orphaned_version",
                since: since, detail: "\(name) v\(version) cannot be loaded by this version of Baton",
                suggestion: "\(migrate) (then without --dry-run), or batonctl cancel \(id)")
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
