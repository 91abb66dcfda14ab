import BatonCore
import Foundation
import Postgres

/// What `records merge` did.
public struct MergeReport: Sendable, Codable, Equatable {
    public var kept: String
    public var dropped: String
    /// Instances that now belong to the kept record (ids as strings, like every id in JSON).
    public var movedInstances: [String]
    /// The dropped record's live instances of a workflow the kept one also runs: cancelled.
    public var cancelledInstances: [String]
    public var movedSignals: Int
    /// The dropped record's ownership history rows, shown with the kept record's history.
    public var history: Int

    enum CodingKeys: String, CodingKey {
        case kept, dropped, history
        case movedInstances = "moved_instances", cancelledInstances = "cancelled_instances", movedSignals = "moved_signals"
    }
}

extension Store {
    /// Locks both records' instances (in id order) before the records themselves: the lock order of
    /// every writer is workflow_instances, then contacts.
    static let lockMergeInstances = """
        SELECT id FROM workflow_instances WHERE contact IN ($1, $2) ORDER BY id FOR UPDATE
        """
    /// Locks both records in id order and reads what merging checks.
    static let lockMergeRecords = """
        SELECT id, owner, merged_into FROM contacts WHERE id IN ($1, $2) ORDER BY id FOR UPDATE
        """
    /// Cancels the dropped record's ($2) live or failed instances of workflows the kept record ($1)
    /// also has live, with a timeline entry naming the instance it duplicated. The fence is bumped,
    /// so a worker holding one commits nothing.
    static let cancelMergeDuplicates = """
        WITH moved AS (
            UPDATE workflow_instances i SET state = 'cancelled', finished_at = now(), lease_owner = NULL,
                lease_expires_at = NULL, fence = i.fence + 1, seq = i.seq + 1, outcome = 'cancelled',
                last_error = NULL, updated_at = now()
            FROM (SELECT d.id, d.state, k.id AS kept FROM workflow_instances d
                  JOIN workflow_instances k ON k.workflow = d.workflow AND k.contact = $1
                       AND k.state NOT IN ('completed', 'cancelled')
                  WHERE d.contact = $2 AND d.state NOT IN ('completed', 'cancelled')) dup
            WHERE i.id = dup.id
            RETURNING i.id, i.seq, i.step, dup.state AS from_state, dup.kept
        ), paused AS (
            -- A pause of the wait it left ends here (see sql/0013_sla_pauses_ended_by.sql).
            UPDATE sla_pauses p SET ended_at = greatest(p.started_at, now()), ended_by = 'cancelled'
            FROM moved m WHERE p.instance = m.id AND p.ended_at IS NULL
        ), events AS (
            INSERT INTO instance_events (instance, seq, step, from_state, to_state, worker, attempt, detail)
            SELECT id, seq, step, from_state, 'cancelled', $3, 0,
                   'cancelled by ' || $3 || ': ' || $2 || ' merged into ' || $1 || ', which has instance ' || kept
                   || ' of this workflow: ' || $4
            FROM moved
        )
        SELECT id FROM moved ORDER BY id
        """
    /// Gives the dropped record's instances to the kept one (after `cancelMergeDuplicates`, so at most
    /// one live instance per workflow remains).
    static let moveMergeInstances = """
        UPDATE workflow_instances SET contact = $1, updated_at = now() WHERE contact = $2 RETURNING id
        """
    /// Gives the dropped record's signals to the kept one and wakes the kept record's waits for them.
    static let moveMergeSignals = """
        WITH moved AS (
            UPDATE signals SET contact = $1 WHERE contact = $2 RETURNING name
        ), woken AS (
            UPDATE workflow_instances SET run_at = now(), updated_at = now()
            WHERE contact = $1 AND state = 'waiting'
              AND (wait_event IN (SELECT name FROM moved) OR pause_events && ARRAY(SELECT name FROM moved))
            RETURNING id
        )
        SELECT (SELECT count(*) FROM moved) AS moved, (SELECT count(*) FROM woken) AS woken
        """
    /// The kept record ($1) takes the dropped one's ($2) attributes where it has none of its own, and
    /// its owner when it has none; the dropped one names the kept one (as do records merged into it
    /// before) and keeps its id, attributes and history. One history row on each says what happened.
    static let finishMerge = """
        WITH dropped AS (
            SELECT id, attributes, owner, backup_owner, team FROM contacts WHERE id = $2
        ), kept AS (
            UPDATE contacts k SET attributes = d.attributes || k.attributes,
                owner = coalesce(k.owner, d.owner), backup_owner = CASE WHEN k.owner IS NULL THEN d.backup_owner ELSE k.backup_owner END,
                team = CASE WHEN k.owner IS NULL THEN coalesce(d.team, k.team) ELSE k.team END,
                updated_at = now()
            FROM dropped d WHERE k.id = $1
            RETURNING k.id, k.owner, k.team
        ), marked AS (
            UPDATE contacts SET merged_into = $1, updated_at = now() WHERE id = $2 OR merged_into = $2
            RETURNING id
        ), history AS (
            INSERT INTO ownership_history (contact, from_owner, to_owner, team, reason)
            SELECT $1, (SELECT owner FROM contacts WHERE id = $1), k.owner, k.team, 'merged ' || $2 || ' into ' || $1 || ': ' || $3
            FROM kept k
            UNION ALL
            SELECT $2, d.owner, d.owner, d.team, 'merged into ' || $1 || ': ' || $3 FROM dropped d
        )
        SELECT (SELECT count(*) FROM ownership_history WHERE contact = $2) AS history,
               (SELECT count(*) FROM marked) AS marked
        """

    /// Merges record `drop` into `keep` (storage keys of the same kind), in one transaction: the
    /// dropped record's duplicate instances are cancelled, its other instances and its signals move
    /// to the kept record, its history stays under its own id and is shown with the kept record's.
    public func merge(keep: String, drop: String, reason: String, by actor: String) async throws -> MergeReport {
        let keepRef = RecordRef(storageKey: keep), dropRef = RecordRef(storageKey: drop)
        guard keepRef.kind == dropRef.kind else {
            throw BatonError.invalid("cannot merge a \(dropRef.kind.rawValue) into a \(keepRef.kind.rawValue): both records must be of one kind")
        }
        guard keep != drop else { throw BatonError.invalid("\(keepRef) cannot be merged into itself") }
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw BatonError.invalid("a merge needs a reason (it goes into both records' history)") }
        return try await pool.transaction { connection in
            try await connection.query(Self.lockMergeInstances, [keep, drop])
            var found: [String: String?] = [:]
            for row in try await connection.query(Self.lockMergeRecords, [keep, drop]) {
                found[try row.decode("id")] = .some(try row.decode(String?.self, "merged_into"))
            }
            for (key, ref) in [(keep, keepRef), (drop, dropRef)] {
                guard let mergedInto = found[key] else { throw BatonError.notFound("no record \(ref)") }
                if let target = mergedInto {
                    throw BatonError.conflict("\(ref) was already merged into \(RecordRef(storageKey: target))")
                }
            }
            let cancelled = try await connection.query(Self.cancelMergeDuplicates, [keep, drop, actor, reason])
                .map { String(try $0.decode(Int.self, at: 0)) }
            let moved = try await connection.query(Self.moveMergeInstances, [keep, drop])
                .map { try $0.decode(Int.self, at: 0) }.sorted().map(String.init)
            let signals = try await connection.query(Self.moveMergeSignals, [keep, drop])[0]
            let finished = try await connection.query(Self.finishMerge, [keep, drop, "\(reason) (by \(actor))"])[0]
            return MergeReport(
                kept: keepRef.description, dropped: dropRef.description, movedInstances: moved,
                cancelledInstances: cancelled, movedSignals: try signals.decode(Int.self, "moved"),
                history: try finished.decode(Int.self, "history"))
        }
    }
}
