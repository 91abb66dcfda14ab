import BatonCore
import Foundation
import Postgres

/// A batch of claimed instances and the database time of the claim.
public struct ClaimedBatch: Sendable {
    public var now: Date
    public var instances: [InstanceSnapshot]
    /// Claimed rows that could not be read (a contact attribute that is not text, a value this
    /// version cannot decode): each fails on its own through the retry path; the rest run.
    public var unreadable: [UnreadableInstance] = []
    /// How many of the claimed rows were another worker's whose lease had expired.
    public var reclaimed = 0
}

/// A claimed instance whose row could not be turned into a snapshot, with what is known of it.
public struct UnreadableInstance: Sendable, Hashable {
    public var id: Int
    public var fence: Int
    public var workflow: String
    public var version: Int
    public var step: String
    public var attempt: Int
    public var priorState: InstanceState
    /// One line saying what could not be read (no values).
    public var error: String
}

extension Store {
    /// Claims up to $3 due instances for worker $2 at time $1 (NULL: the server's now()).
    ///
    /// Three sources of due work, each through its own partial index and locked with SKIP LOCKED, so
    /// parallel workers never block each other: `running` rows whose lease expired (a dead worker's),
    /// `waiting` rows whose deadline passed or that a signal woke (run_at set to now), and `ready`
    /// rows (highest priority first, then oldest). They are taken in that order: reclaims and
    /// deadlines never wait behind a backlog of new work, which a bulk enrollment can make
    /// arbitrarily long; each source is bounded by its own timers, so ready work is never starved
    /// for long. Lock order: only workflow_instances rows are locked.
    /// The UPDATE bumps `fence`: every later write by this claimer must present it (see commitAdvances).
    /// The contact and the signals the instance has not consumed come back with each row, and the
    /// pauses of its current wait (the open one, the paused total; see sql/0010_sla_pauses.sql).
    /// The due conditions compare with `coalesce($1, now())` itself, not with the `clock` CTE: a join
    /// with the CTE is no index condition in the prepared statement's generic plan, which then
    /// walked every waiting row (1.2 s a claim with a million waiting instances).
    static let claimInstances = PreparedStatement(name: "baton_claim_instances_v6", sql: """
        WITH clock AS (SELECT coalesce($1::timestamptz, now()) AS now),
        expired AS (
            SELECT id, state, priority, lease_expires_at AS due, 0 AS source FROM workflow_instances
            WHERE state = 'running' AND lease_expires_at < coalesce($1::timestamptz, now())
            ORDER BY lease_expires_at LIMIT $3 FOR UPDATE OF workflow_instances SKIP LOCKED
        ), waits AS (
            SELECT id, state, priority, run_at AS due, 1 AS source FROM workflow_instances
            WHERE state = 'waiting' AND run_at <= coalesce($1::timestamptz, now())
            ORDER BY run_at LIMIT $3 FOR UPDATE OF workflow_instances SKIP LOCKED
        ), ready AS (
            SELECT id, state, priority, run_at AS due, 2 AS source FROM workflow_instances
            WHERE state = 'ready' AND run_at <= coalesce($1::timestamptz, now())
            ORDER BY priority DESC, run_at LIMIT $3 FOR UPDATE OF workflow_instances SKIP LOCKED
        ), picked AS (
            SELECT id, state FROM (
                SELECT * FROM expired UNION ALL SELECT * FROM waits UNION ALL SELECT * FROM ready
            ) due_work
            ORDER BY source, priority DESC, due LIMIT $3
        )
        UPDATE workflow_instances i
        SET state = 'running', lease_owner = $2, lease_expires_at = clock.now + $4 * interval '1 millisecond',
            fence = i.fence + 1, updated_at = clock.now
        FROM picked p, clock, contacts c
        WHERE i.id = p.id AND c.id = i.contact
        RETURNING i.id, i.workflow, i.version,
            -- A reclaimed row is still 'running': its step starts where its timeline last ended.
            CASE WHEN p.state = 'running'
                 THEN coalesce((SELECT e.to_state FROM instance_events e WHERE e.instance = i.id ORDER BY e.seq DESC LIMIT 1), 'ready')
                 ELSE p.state END AS prior_state,
            p.state = 'running' AS reclaimed, i.step, i.seq, i.attempt, i.fence, i.priority,
            i.wait_started_at, i.deadline, i.created_at, clock.now AS now,
            c.id AS contact, c.attributes, c.owner, c.backup_owner, c.team, c.previous_owner, c.lifecycle_stage,
            (SELECT co.owner FROM contacts co WHERE co.id = \(Self.companyKey("c")) AND c.id NOT LIKE 'company:%') AS company_owner,
            (SELECT coalesce(jsonb_agg(jsonb_build_object('id', s.id, 'name', s.name,
                                                          'at', extract(epoch FROM s.received_at)) ORDER BY s.id), '[]')
             FROM signals s
             WHERE s.contact = i.contact AND s.received_at >= i.created_at
               AND NOT (s.id = ANY (i.used_signals))) AS signals,
            \(Self.waitPauses("i")) AS pauses
        """)

    struct SignalRow: Codable, Sendable {
        var id: Int
        var name: String
        var at: Double
    }

    /// Claims a batch for `worker` under a lease of `lease`. A row that cannot be read does not
    /// fail the batch: it comes back in `unreadable`, to be failed on its own.
    public func claim(worker: String, limit: Int, lease: Duration, at time: Date? = nil) async throws -> ClaimedBatch {
        let leaseMillis = lease.wholeMilliseconds
        return try await pool.withConnection { connection in
            let rows = try await connection.query(Self.claimInstances, [time, worker, limit, leaseMillis])
            var batch = ClaimedBatch(now: time ?? Date(), instances: [])
            batch.instances.reserveCapacity(rows.count)
            for row in rows {
                batch.now = try row.decode(Date.self, "now")
                if try row.decode(Bool.self, "reclaimed") { batch.reclaimed += 1 }
                do {
                    batch.instances.append(try Self.snapshot(row))
                } catch {
                    batch.unreadable.append(UnreadableInstance(
                        id: try row.decode("id"), fence: try row.decode("fence"), workflow: try row.decode("workflow"),
                        version: try row.decode("version"), step: try row.decode("step"), attempt: try row.decode("attempt"),
                        priorState: InstanceState(rawValue: try row.decode("prior_state")) ?? .ready,
                        error: "\(error)"))
                }
            }
            return batch
        }
    }

    /// An instance row with its contact and pending signals, as the claim and the commit's
    /// re-read return it.
    static func snapshot(_ row: Row) throws -> InstanceSnapshot {
        let (contact, signals) = try contactAndSignals(row)
        let pauses = try row.decode(PostgresJSON<WaitPausesRow>.self, "pauses").value
        return InstanceSnapshot(
            id: try row.decode("id"), workflow: try row.decode("workflow"), version: try row.decode("version"),
            contact: contact,
            state: InstanceState(rawValue: try row.decode("prior_state")) ?? .ready,
            step: try row.decode("step"), seq: try row.decode("seq"), attempt: try row.decode("attempt"),
            fence: try row.decode("fence"), priority: try row.decode("priority"),
            waitStartedAt: try row.decode("wait_started_at"), deadline: try row.decode("deadline"),
            createdAt: try row.decode("created_at"), pendingSignals: signals,
            pausedAt: pauses.open_at.map { Date(timeIntervalSince1970: $0) }, pausedBy: pauses.open_event,
            pausedSeconds: pauses.paused_s)
    }

    /// SQL for the id of the company that record `alias` names (its `company` attribute, with or
    /// without the `company:` prefix). A fixed fragment of statements, never a value.
    static func companyKey(_ alias: String) -> String {
        let company = "(\(alias).attributes ->> 'company')"
        return "CASE WHEN \(company) LIKE 'company:%' THEN \(company) ELSE 'company:' || \(company) END"
    }

    /// The contact columns (`contact`, `attributes`, `owner`, …) and `signals` of a row.
    static func contactAndSignals(_ row: Row) throws -> (ContactSnapshot, [PendingSignal]) {
        let id: String = try row.decode("contact")
        // Most attribute objects are flat scalars: read those without JSONDecoder (a fifth of a
        // worker's CPU went to decoding them); anything else takes the general path.
        let attributesText: String = try row.decode("attributes")
        let attributes = try FlatJSONObject.scalars(attributesText)
            ?? row.decode(PostgresJSON<[String: ContactAttributes.Value]>.self, "attributes").value
        let contact = ContactSnapshot(
            id: id, attributes: try ContactAttributes.decode(attributes, contact: id),
            owner: try row.decode("owner"), backupOwner: try row.decode("backup_owner"),
            team: try row.decode("team"), previousOwner: try row.decode("previous_owner"),
            companyOwner: try row.decode("company_owner"), lifecycle: try row.decode("lifecycle_stage"))
        let signalsText: String = try row.decode("signals")
        let signals = try signalsText == "[]" ? [] : row.decode(PostgresJSON<[SignalRow]>.self, "signals").value.map {
            PendingSignal(id: $0.id, name: $0.name, receivedAt: Date(timeIntervalSince1970: $0.at))
        }
        return (contact, signals)
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

    /// Gives back instances this worker holds without running them: due again after $4 ms (0 on a
    /// graceful stop; a short pause when their contact was busy, so they are not re-claimed in a spin).
    /// The pause counts from the statement's clock, not the transaction's start (`now()`), which
    /// may already be that long ago inside a commit transaction.
    static let releaseInstances = """
        UPDATE workflow_instances i
        SET state = CASE WHEN i.deadline IS NOT NULL AND i.wait_event IS NOT NULL THEN 'waiting' ELSE 'ready' END,
            lease_owner = NULL, lease_expires_at = NULL,
            run_at = clock_timestamp() + $4 * interval '1 millisecond', updated_at = now()
        FROM unnest($1::bigint[], $2::bigint[]) AS l(id, fence)
        WHERE i.id = l.id AND i.fence = l.fence AND i.state = 'running' AND i.lease_owner = $3
        """

    /// Releases `held` (fence must match) to be due again after `delay`.
    public func release(_ held: [(id: Int, fence: Int)], worker: String, after delay: Duration = .zero) async throws {
        guard !held.isEmpty else { return }
        try await pool.withConnection { connection in
            try await release(held, worker: worker, after: delay, on: connection)
        }
    }

    func release(_ held: [(id: Int, fence: Int)], worker: String, after delay: Duration, on connection: Connection) async throws {
        guard !held.isEmpty else { return }
        try await connection.query(
            Self.releaseInstances,
            [PostgresArrayLiteral(held.map(\.id)), PostgresArrayLiteral(held.map(\.fence)), worker, delay.wholeMilliseconds])
    }

    /// Takes `count` consecutive round-robin positions per team with one statement. Rows are locked
    /// in team-name order, so two workers reserving for overlapping teams cannot deadlock. Run inside
    /// the transaction that commits the batch using them (see `advanceLocked`): a worker that dies
    /// before its commit rolls the reservation back with it, so a crash cannot skip positions.
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

    func reserveRotation(_ demand: [String: Int], on connection: Connection) async throws -> [String: Int] {
        let wanted = demand.filter { $0.value > 0 }.sorted { $0.key < $1.key }
        guard !wanted.isEmpty else { return [:] }
        var starts: [String: Int] = [:]
        for row in try await connection.query(Self.reserveRotation, [wanted.map(\.key), wanted.map(\.value)]) {
            starts[try row.decode("team")] = try row.decode("start")
        }
        return starts
    }
}

/// Reading a contact's stored attributes for the Machine, which sees text values only.
///
/// Text is taken as is; numbers and true/false become their JSON text (`42`, `4.5`, `true`), so an
/// attribute written by another system as a number still matches `gte`/`in` conditions. null,
/// arrays and objects have no text form: the instance fails with a line naming the attribute.
enum ContactAttributes {
    /// One attribute value as stored.
    enum Value: Codable, Sendable, Hashable {
        case text(String)
        case unsupported(String)

        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) {
                self = .text(text)
            } else if let flag = try? container.decode(Bool.self) {
                self = .text(flag ? "true" : "false")
            } else if let whole = try? container.decode(Int64.self) {
                self = .text(String(whole))
            } else if let number = try? container.decode(Double.self) {
                self = .text(String(number))
            } else if container.decodeNil() {
                self = .unsupported("null")
            } else {
                self = .unsupported("a list or an object")
            }
        }

        func encode(to encoder: Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .text(let text): try container.encode(text)
            case .unsupported: try container.encodeNil()
            }
        }
    }

    /// Text attributes, or an error naming the first attribute that has no text form.
    static func decode(_ values: [String: Value], contact: String) throws -> [String: String] {
        var attributes: [String: String] = [:]
        attributes.reserveCapacity(values.count)
        if values.values.allSatisfy({ if case .text = $0 { true } else { false } }) {
            for (key, value) in values { if case .text(let text) = value { attributes[key] = text } }
            return attributes
        }
        for key in values.keys.sorted() {
            switch values[key]! {
            case .text(let text): attributes[key] = text
            case .unsupported(let kind):
                throw BatonError.invalid(
                    "contact \(contact): attribute \"\(key)\" is \(kind); attributes must be text, numbers or true/false")
            }
        }
        return attributes
    }
}
