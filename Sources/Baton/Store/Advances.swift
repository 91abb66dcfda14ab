import BatonCore
import Foundation
import Postgres

extension Store {
    /// Applies many instances' advances in one statement (one round trip, one commit).
    ///
    /// Fencing: an instance's row is updated only if it is still `running` under this worker with
    /// the fence the claim returned; a worker whose lease expired and was reclaimed matches nothing.
    /// Every other write (timeline, contact, ownership history, outbox) is filtered to the instances
    /// that `moved`, so each instance's effects are applied entirely or not at all, and instances
    /// that lost their lease leave no trace. Lock order: workflow_instances rows, then contacts rows
    /// (then the instances' own sla_pauses rows, which only the fence holder writes).
    /// When notifications were written, `NOTIFY baton_outbox` (sent at commit, and only then) wakes
    /// the outbox relays at once instead of at their next poll.
    static let commitAdvances = PreparedStatement(name: "baton_commit_advances_v4", sql: """
        WITH input AS (
            SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::int[], $6::int[], $7::int[],
                                 $8::timestamptz[], $9::text[], $10::timestamptz[], $11::timestamptz[], $12::text[],
                                 $13::text[], $49::text[])
                AS u(id, fence, state, step, seq, attempt, priority, run_at, wait_event, wait_started_at, deadline,
                     last_error, outcome, pause_events)
        ), moved AS (
            UPDATE workflow_instances i SET
                state = u.state, step = u.step, seq = u.seq, attempt = u.attempt, priority = u.priority,
                run_at = u.run_at, wait_event = u.wait_event, wait_started_at = u.wait_started_at,
                deadline = u.deadline, last_error = u.last_error, outcome = u.outcome,
                pause_events = CASE WHEN u.pause_events IS NOT NULL
                                    THEN ARRAY(SELECT jsonb_array_elements_text(u.pause_events::jsonb)) END,
                lease_owner = NULL, lease_expires_at = NULL,
                used_signals = i.used_signals || coalesce(
                    (SELECT array_agg(x.signal) FROM unnest($14::bigint[], $15::bigint[]) AS x(instance, signal)
                     WHERE x.instance = u.id), '{}'),
                updated_at = $16,
                finished_at = CASE WHEN u.state IN ('completed', 'failed', 'cancelled') THEN $16 END
            FROM input u
            WHERE i.id = u.id AND i.fence = u.fence AND i.state = 'running' AND i.lease_owner = $17
            RETURNING i.id, i.workflow, i.contact
        ), events AS (
            INSERT INTO instance_events (instance, seq, step, from_state, to_state, owner, worker, attempt, detail, error, at)
            SELECT e.instance, e.seq, e.step, e.from_state, e.to_state, e.owner, $17, e.attempt, e.detail, e.error, $16
            FROM unnest($18::bigint[], $19::int[], $20::text[], $21::text[], $22::text[], $23::text[], $24::int[],
                        $25::text[], $26::text[])
                AS e(instance, seq, step, from_state, to_state, owner, attempt, detail, error)
            WHERE e.instance IN (SELECT id FROM moved)
        ), owners AS (
            UPDATE contacts c SET owner = x.owner, backup_owner = x.backup, team = x.team,
                previous_owner = x.previous, lifecycle_stage = coalesce(x.lifecycle, c.lifecycle_stage),
                queued_since = CASE WHEN x.queued THEN coalesce(c.queued_since, $16) END, updated_at = $16
            FROM unnest($27::bigint[], $28::text[], $29::text[], $30::text[], $31::text[], $32::text[], $33::bool[],
                        $48::text[])
                AS x(instance, contact, owner, backup, team, previous, queued, lifecycle)
            WHERE c.id = x.contact AND x.instance IN (SELECT id FROM moved)
        ), history AS (
            INSERT INTO ownership_history (contact, from_owner, to_owner, team, reason, instance, at)
            SELECT h.contact, h.from_owner, h.to_owner, h.team, h.reason, h.instance, $16
            FROM unnest($34::bigint[], $35::text[], $36::text[], $37::text[], $38::text[], $39::text[])
                WITH ORDINALITY AS h(instance, contact, from_owner, to_owner, team, reason, n)
            WHERE h.instance IN (SELECT id FROM moved)
            ORDER BY h.n
        ), messages AS (
            INSERT INTO outbox (idempotency_key, instance, workflow, step, contact, channel, recipient, recipient_email,
                                message, subject, status, created_at, next_attempt_at)
            SELECT m.key, m.instance, mv.workflow, m.step, mv.contact, m.channel, m.recipient, m.email, m.message, m.subject,
                   CASE WHEN m.suppressed THEN 'suppressed' ELSE 'pending' END, $16, $16
            FROM unnest($40::bigint[], $41::text[], $42::text[], $43::text[], $44::text[], $45::text[], $46::text[],
                        $47::bool[], $61::text[])
                AS m(instance, key, step, channel, recipient, email, message, suppressed, subject)
            JOIN moved mv ON mv.id = m.instance
            ON CONFLICT (idempotency_key) DO NOTHING
            RETURNING 1
        ), pause_input AS (
            SELECT * FROM unnest($50::bigint[], $51::text[], $52::timestamptz[], $53::timestamptz[], $54::timestamptz[],
                                 $55::text[], $56::text[], $57::float8[], $58::timestamptz[], $59::timestamptz[], $60::bool[])
                AS x(instance, step, wait_started_at, started_at, ended_at, pause_event, resume_event, paused_s,
                     deadline_before, deadline_after, existing)
            WHERE x.instance IN (SELECT id FROM moved)
        ), pauses_ended AS (
            -- A pause an earlier advance began: its open row ends.
            UPDATE sla_pauses p SET ended_at = x.ended_at, resume_event = x.resume_event, paused_s = x.paused_s,
                deadline_after = x.deadline_after
            FROM pause_input x
            WHERE x.existing AND p.instance = x.instance AND p.step = x.step AND p.wait_started_at = x.wait_started_at
              AND p.ended_at IS NULL
        ), pauses_begun AS (
            INSERT INTO sla_pauses (instance, step, wait_started_at, started_at, ended_at, pause_event, resume_event, paused_s,
                                    deadline_before, deadline_after)
            SELECT x.instance, x.step, x.wait_started_at, x.started_at, x.ended_at, x.pause_event, x.resume_event, x.paused_s,
                   x.deadline_before, x.deadline_after
            FROM pause_input x WHERE NOT x.existing
        ), woken AS (
            SELECT pg_notify('baton_outbox', '') WHERE EXISTS (SELECT 1 FROM messages)
        )
        -- The count only makes the query read `woken` (a plain SELECT in WITH runs only when read).
        SELECT id FROM moved WHERE (SELECT count(*) FROM woken) >= 0
        """)

    /// Applies `advances` made by `worker` at `now`; returns the ids whose fence still held.
    public func commit(_ advances: [Advance], worker: String, now: Date) async throws -> Set<Int> {
        guard !advances.isEmpty else { return [] }
        return try await pool.withConnection { connection in
            try await commit(advances, worker: worker, now: now, on: connection)
        }
    }

    /// `commit` on a given connection (inside the caller's transaction, if any).
    public func commit(_ advances: [Advance], worker: String, now: Date, on connection: Connection) async throws -> Set<Int> {
        guard !advances.isEmpty else { return [] }
        var usedInstance: [Int] = [], usedSignal: [Int] = []
        var ev = (instance: [Int](), seq: [Int](), step: [String](), from: [String](), to: [String](),
                  owner: [String?](), attempt: [Int](), detail: [String](), error: [String?]())
        var ct = (instance: [Int](), contact: [String](), owner: [String?](), backup: [String?](), team: [String?](),
                  previous: [String?](), queued: [Bool](), lifecycle: [String?]())
        var hi = (instance: [Int](), contact: [String](), from: [String?](), to: [String?](), team: [String?](),
                  reason: [String]())
        var ms = (instance: [Int](), key: [String](), step: [String](), channel: [String](), recipient: [String](),
                  email: [String?](), message: [String](), suppressed: [Bool](), subject: [String?]())
        var pauses = PauseArrays()
        var pauseEvents: [String?] = []
        for advance in advances {
            for pause in advance.pauses { pauses.append(pause, of: advance.instance) }
            pauseEvents.append(try advance.pauseEvents.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) })
            for signal in advance.usedSignals {
                usedInstance.append(advance.instance)
                usedSignal.append(signal)
            }
            for event in advance.events {
                ev.instance.append(advance.instance); ev.seq.append(event.seq); ev.step.append(event.step)
                ev.from.append(event.fromState.rawValue); ev.to.append(event.toState.rawValue)
                ev.owner.append(event.owner); ev.attempt.append(event.attempt); ev.detail.append(event.detail)
                ev.error.append(event.error)
            }
            if let contact = advance.contact {
                // Two instances of one contact in a batch: the later one ran on the earlier one's
                // result (see `advanceLocked`), so its ownership is the one to keep. An UPDATE ... FROM
                // with two rows for one target row would apply an arbitrary one of them.
                if let earlier = ct.contact.firstIndex(of: contact.id) {
                    ct.instance.remove(at: earlier); ct.contact.remove(at: earlier); ct.owner.remove(at: earlier)
                    ct.backup.remove(at: earlier); ct.team.remove(at: earlier); ct.previous.remove(at: earlier)
                    ct.queued.remove(at: earlier); ct.lifecycle.remove(at: earlier)
                }
                ct.instance.append(advance.instance); ct.contact.append(contact.id); ct.owner.append(contact.owner)
                ct.backup.append(contact.backupOwner); ct.team.append(contact.team)
                ct.previous.append(contact.previousOwner); ct.queued.append(advance.queued)
                ct.lifecycle.append(contact.lifecycle)
            }
            for change in advance.ownerChanges {
                hi.instance.append(advance.instance); hi.contact.append(change.contact); hi.from.append(change.from)
                hi.to.append(change.to); hi.team.append(change.team); hi.reason.append(change.reason)
            }
            for message in advance.notifications {
                ms.instance.append(advance.instance); ms.key.append(message.key)
                ms.step.append(message.step)
                ms.channel.append(message.channel); ms.recipient.append(message.recipient)
                ms.email.append(message.email); ms.message.append(message.message)
                ms.suppressed.append(message.suppressed); ms.subject.append(message.subject)
            }
        }
        typealias A = PostgresArrayLiteral
        let parameters: [(any PostgresEncodable)?] = [
            A(advances.map(\.instance)), A(advances.map(\.fence)), A(advances.map(\.state.rawValue)),
            A(advances.map(\.step)), A(advances.map(\.seq)), A(advances.map(\.attempt)), A(advances.map(\.priority)),
            A(advances.map(\.runAt)), A(advances.map(\.waitEvent)), A(advances.map(\.waitStartedAt)),
            A(advances.map(\.deadline)), A(advances.map(\.lastError)), A(advances.map(\.outcome)),
            A(usedInstance), A(usedSignal), now, worker,
            A(ev.instance), A(ev.seq), A(ev.step), A(ev.from), A(ev.to), A(ev.owner), A(ev.attempt), A(ev.detail),
            A(ev.error),
            A(ct.instance), A(ct.contact), A(ct.owner), A(ct.backup), A(ct.team), A(ct.previous), A(ct.queued),
            A(hi.instance), A(hi.contact), A(hi.from), A(hi.to), A(hi.team), A(hi.reason),
            A(ms.instance), A(ms.key), A(ms.step), A(ms.channel), A(ms.recipient), A(ms.email), A(ms.message),
            A(ms.suppressed), A(ct.lifecycle), A(pauseEvents),
        ] + pauses.parameters + [A(ms.subject)]  // $61
        return Set(try await connection.query(Self.commitAdvances, parameters).map { try $0.decode(Int.self, at: 0) })
    }

    /// Locks the given members in id order, so concurrent batches cannot deadlock: a transaction-scoped
    /// advisory lock per member id, not a row lock, because a row lock needs UPDATE on `members` and
    /// the worker's role may only read it (sql/roles.sql). Only assignments under a capacity take it.
    static let lockMembers = """
        SELECT pg_advisory_xact_lock(hashtext('baton.member:' || id))
        FROM (SELECT id FROM unnest($1::text[]) AS id ORDER BY id) AS sorted
        """
    /// Capacity and open work (contacts owned with a live instance). Run after `lockMembers`, as its
    /// own statement: in READ COMMITTED a statement's snapshot is taken when it starts, so counting
    /// in the locking statement would miss what the previous lock holder committed.
    static let memberLoads = """
        SELECT m.id, m.capacity,
               (SELECT count(*) FROM contacts c WHERE c.owner = m.id AND EXISTS (
                   SELECT 1 FROM workflow_instances i WHERE i.contact = c.id AND i.state IN ('ready', 'running', 'waiting')))
               AS open
        FROM members m WHERE m.id = ANY($1::text[])
        """
}

extension Store {
    /// Records a failure the Machine did not see (the row could not be read, the definition could
    /// not be loaded, the commit itself failed): one more attempt, then `failed` once it reaches $5
    /// (the step's max_attempts), else due again after the backoff of $6 ms; the timeline entry is
    /// appended in the same statement. Fenced like every write of a claimer.
    static let recordInstanceFailure = """
        WITH moved AS (
            UPDATE workflow_instances i SET
                attempt = i.attempt + 1, last_error = $4, lease_owner = NULL, lease_expires_at = NULL,
                seq = i.seq + 1, updated_at = now(),
                state = CASE WHEN i.attempt + 1 >= $5 THEN 'failed' ELSE 'ready' END,
                finished_at = CASE WHEN i.attempt + 1 >= $5 THEN now() END,
                run_at = now() + $6 * interval '1 millisecond'
            WHERE i.id = $1 AND i.fence = $2 AND i.state = 'running' AND i.lease_owner = $3
            RETURNING i.id, i.seq, i.step, i.state, i.attempt, i.contact
        ), events AS (
            INSERT INTO instance_events (instance, seq, step, from_state, to_state, owner, worker, attempt, detail, error)
            SELECT m.id, m.seq, m.step, $7, m.state, (SELECT owner FROM contacts WHERE id = m.contact), $3, m.attempt,
                   CASE WHEN m.state = 'failed' THEN 'failed after ' || m.attempt || ' attempt(s)'
                        ELSE 'retry ' || m.attempt || ' of ' || ($5 - 1) || ' in ' || round($6 / 1000.0) || 's' END,
                   $4
            FROM moved m
        )
        SELECT count(*) FROM moved
        """

    /// Fails one attempt of `instance` (held by `worker` under `fence`) with `error`: `failed` at
    /// `maxAttempts`, else ready again after `retryIn`. `from` is the state the claim found it in.
    public func recordFailure(instance: Int, fence: Int, worker: String, error: String, maxAttempts: Int,
                              retryIn: Duration, from: InstanceState = .running) async throws {
        try await pool.withConnection { connection in
            try await connection.query(
                Self.recordInstanceFailure,
                [instance, fence, worker, error, max(1, maxAttempts), retryIn.wholeMilliseconds, from.rawValue])
        }
    }
}
