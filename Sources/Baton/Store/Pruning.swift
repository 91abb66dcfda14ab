import Foundation
import Postgres

/// What one `prune` run removed (or, dry, would remove).
public struct PruneReport: Sendable, Codable, Equatable {
    public var instances: Int
    public var events: Int
    public var signals: Int
    public var outbox: Int
    public var batches: Int
    /// Finished outbox rows of no instance: CRM owner write-backs and `owner.changed` events of
    /// reassignments made outside a workflow (admin, API, console, CRM).
    public var write_backs: Int = 0
    /// Ids of inbound events (the sources' dedupe keys) past `Store.inboundEventRetention`.
    public var inbound_events: Int = 0
}

/// What `contacts erase` removed.
public struct EraseReport: Sendable, Codable, Equatable {
    public var contact: String
    public var cancelled: Int
    public var signals: Int
    public var messages: Int
}

extension Store {
    /// Counts what a prune would remove: finished (completed, cancelled) instances older than $1
    /// seconds with no delivery still to make, their timeline, consumed signals and outbox rows.
    static let countPrunable = """
        WITH doomed AS (
            SELECT i.id, i.used_signals FROM workflow_instances i
            WHERE i.state IN ('completed', 'cancelled') AND i.finished_at < now() - $1 * interval '1 second'
              AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.instance = i.id AND o.status IN ('pending', 'delivering'))
        )
        SELECT (SELECT count(*) FROM doomed) AS instances,
               (SELECT count(*) FROM instance_events e JOIN doomed d ON d.id = e.instance) AS events,
               (SELECT count(DISTINCT s) FROM doomed d, unnest(d.used_signals) s) AS signals,
               (SELECT count(*) FROM outbox o JOIN doomed d ON d.id = o.instance) AS outbox
        """

    /// Deletes one batch of at most $2 prunable instances with their timeline, consumed signals and
    /// outbox rows, in one short transaction. Rows are locked with SKIP LOCKED, so a prune never
    /// waits on (or blocks) a worker or an admin; ownership history is never touched (it is the
    /// audit trail and refers to instances by id only). A consumed signal stays while another
    /// instance used it; only instances of the signal's own contact can have (the claim reads a
    /// contact's signals only), so that check reads them, per signal, through
    /// `workflow_instances_contact` instead of every instance (scripts/bench-prune, docs/operations.md).
    static let pruneBatch = """
        WITH doomed AS (
            SELECT i.id, i.used_signals FROM workflow_instances i
            WHERE i.state IN ('completed', 'cancelled') AND i.finished_at < now() - $1 * interval '1 second'
              AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.instance = i.id AND o.status IN ('pending', 'delivering'))
            ORDER BY i.finished_at LIMIT $2
            FOR UPDATE SKIP LOCKED
        ), outbox_gone AS (
            DELETE FROM outbox o USING doomed d WHERE o.instance = d.id RETURNING o.id
        ), events_gone AS (
            DELETE FROM instance_events e USING doomed d WHERE e.instance = d.id RETURNING e.seq
        ), signals_gone AS (
            DELETE FROM signals s WHERE s.id IN (SELECT unnest(d.used_signals) FROM doomed d)
              -- A scalar subquery, run per signal through workflow_instances_contact: as NOT EXISTS
              -- the planner may hash every instance (at 1,000,000: 4 s per batch).
              AND (SELECT count(*) FROM workflow_instances w WHERE w.contact = s.contact AND s.id = ANY (w.used_signals)
                   AND w.id NOT IN (SELECT id FROM doomed)) = 0
            RETURNING s.id
        ), instances_gone AS (
            DELETE FROM workflow_instances w USING doomed d WHERE w.id = d.id
              AND (SELECT count(*) FROM outbox_gone) >= 0 AND (SELECT count(*) FROM events_gone) >= 0
            RETURNING w.id
        )
        SELECT (SELECT count(*) FROM instances_gone) AS instances, (SELECT count(*) FROM events_gone) AS events,
               (SELECT count(*) FROM signals_gone) AS signals, (SELECT count(*) FROM outbox_gone) AS outbox
        """

    /// Counts the finished (delivered or suppressed) outbox rows of no instance — CRM owner
    /// write-backs, `owner.changed` events of reassignments outside a workflow — that finished
    /// more than $1 seconds ago, and the inbound event ids received more than greatest($1, $2)
    /// seconds ago.
    static let countPrunableBookkeeping = """
        SELECT (SELECT count(*) FROM outbox WHERE instance IS NULL AND status IN ('delivered', 'suppressed')
                  AND coalesce(delivered_at, created_at) < now() - $1::float8 * interval '1 second') AS write_backs,
               (SELECT count(*) FROM inbound_events
                WHERE received_at < now() - greatest($1::float8, $2::float8) * interval '1 second') AS inbound_events
        """

    /// Deletes at most $2 finished outbox rows of no instance that finished more than $1 seconds
    /// ago (a pending or in-flight row is never touched: only delivered and suppressed rows go;
    /// SKIP LOCKED, so a relay never waits on a prune). Uses `outbox_detached_finished`.
    static let pruneWriteBacksBatch = """
        DELETE FROM outbox WHERE id IN (
            SELECT id FROM outbox WHERE instance IS NULL AND status IN ('delivered', 'suppressed')
              AND coalesce(delivered_at, created_at) < now() - $1::float8 * interval '1 second'
            ORDER BY coalesce(delivered_at, created_at) LIMIT $2 FOR UPDATE SKIP LOCKED)
        """

    /// Deletes at most $3 inbound event ids received more than greatest($1, $2) seconds ago: an
    /// event redelivered after that would be processed again, so $2 outlasts the senders' retries.
    static let pruneInboundEventsBatch = """
        DELETE FROM inbound_events WHERE (source, event_id) IN (
            SELECT source, event_id FROM inbound_events WHERE received_at < now() - greatest($1::float8, $2::float8) * interval '1 second'
            ORDER BY received_at LIMIT $3 FOR UPDATE SKIP LOCKED)
        """

    /// How long an inbound event's id is kept at least, whatever `prune`'s age: a redelivery finds
    /// it and does nothing twice. HubSpot retries a webhook it could not deliver up to 10 times
    /// over 24 hours; 3 days outlast that with room for a sender's manual replay.
    public static let inboundEventRetention = 3 * 86_400

    /// Removes finished instances older than `olderThan` seconds in batches of `batchSize`;
    /// with `dryRun`, only counts. Returns what was (or would be) removed.
    public func prune(olderThan seconds: Int, batchSize: Int = 1000, dryRun: Bool) async throws -> PruneReport {
        guard seconds >= 0 else { throw BatonError.invalid("the age must not be negative") }
        if dryRun {
            return try await pool.withConnection { connection in
                let row = try await connection.query(Self.countPrunable, [seconds])[0]
                let more = try await connection.query(Self.countPrunableBookkeeping, [seconds, Self.inboundEventRetention])[0]
                return PruneReport(instances: try row.decode("instances"), events: try row.decode("events"),
                                   signals: try row.decode("signals"), outbox: try row.decode("outbox"), batches: 0,
                                   write_backs: try more.decode("write_backs"), inbound_events: try more.decode("inbound_events"))
            }
        }
        var report = PruneReport(instances: 0, events: 0, signals: 0, outbox: 0, batches: 0)
        while true {
            let row = try await pool.transaction { try await $0.query(Self.pruneBatch, [seconds, batchSize])[0] }
            let instances: Int = try row.decode("instances")
            report.instances += instances
            report.events += try row.decode(Int.self, "events")
            report.signals += try row.decode(Int.self, "signals")
            report.outbox += try row.decode(Int.self, "outbox")
            report.batches += 1
            if instances < batchSize { break }
        }
        report.write_backs = try await deleteInBatches(batchSize) { try await $0.query(Self.pruneWriteBacksBatch, [seconds, batchSize]) }
        report.inbound_events = try await deleteInBatches(batchSize) {
            try await $0.query(Self.pruneInboundEventsBatch, [seconds, Self.inboundEventRetention, batchSize])
        }
        return report
    }

    /// Runs a batch delete, one short transaction each, until a batch deletes fewer than `size` rows; returns the total.
    private func deleteInBatches(_ size: Int, _ batch: (Connection) async throws -> QueryResult) async throws -> Int {
        var total = 0
        while true {
            let deleted = try await pool.transaction { try await batch($0).affectedRows }
            total += deleted
            if deleted < size { return total }
        }
    }

    /// Erases a contact's personal data for a privacy request: live instances are cancelled (the
    /// fence bump makes a worker's commit match nothing), its signals are deleted, the messages
    /// about it are redacted, its attributes are emptied and `erased_at` is set. Its id, owner and
    /// ownership history stay, as the anonymised audit trail.
    static let eraseContact = """
        WITH contact AS (
            SELECT id FROM contacts WHERE id = $1 FOR UPDATE
        ), cancelled AS (
            UPDATE workflow_instances i SET state = 'cancelled', finished_at = now(), lease_owner = NULL,
                lease_expires_at = NULL, fence = i.fence + 1, seq = i.seq + 1, outcome = 'erased', last_error = NULL,
                updated_at = now()
            FROM (SELECT id, state FROM workflow_instances WHERE contact IN (SELECT id FROM contact)
                    AND state NOT IN ('completed', 'cancelled') FOR UPDATE) before
            WHERE i.id = before.id
            RETURNING i.id, i.seq, i.step, before.state AS from_state
        ), paused AS (
            -- A pause of the wait it left ends here (see sql/0013_sla_pauses_ended_by.sql).
            UPDATE sla_pauses p SET ended_at = greatest(p.started_at, now()), ended_by = 'cancelled'
            FROM cancelled m WHERE p.instance = m.id AND p.ended_at IS NULL
        ), events AS (
            INSERT INTO instance_events (instance, seq, step, from_state, to_state, worker, attempt, detail)
            SELECT id, seq, step, from_state, 'cancelled', $2, 0, 'contact data erased by ' || $2 FROM cancelled
        ), signals_gone AS (
            DELETE FROM signals WHERE contact IN (SELECT id FROM contact) RETURNING id
        ), redacted AS (
            UPDATE outbox SET message = '[erased]', subject = NULL, recipient_email = CASE WHEN recipient = 'contact' THEN NULL ELSE recipient_email END,
                status = CASE WHEN status IN ('pending', 'delivering') THEN 'suppressed' ELSE status END
            WHERE contact IN (SELECT id FROM contact) RETURNING id
        ), erased AS (
            UPDATE contacts SET attributes = '{}', erased_at = now(), updated_at = now()
            WHERE id IN (SELECT id FROM contact) RETURNING id
        )
        SELECT (SELECT count(*) FROM erased) AS erased, (SELECT count(*) FROM cancelled) AS cancelled,
               (SELECT count(*) FROM signals_gone) AS signals, (SELECT count(*) FROM redacted) AS messages
        """

    /// Erases a contact (see `eraseContact`); throws `BatonError.notFound` for an unknown id.
    public func eraseContact(_ id: String, by actor: String) async throws -> EraseReport {
        let row = try await pool.transaction { try await $0.query(Self.eraseContact, [id, actor])[0] }
        guard try row.decode(Int.self, "erased") == 1 else { throw BatonError.notFound("no contact \(id)") }
        return EraseReport(contact: id, cancelled: try row.decode("cancelled"), signals: try row.decode("signals"),
                           messages: try row.decode("messages"))
    }
}
