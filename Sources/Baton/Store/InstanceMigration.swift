import BatonCore
import Foundation
import Postgres

/// Which instances of a version `instances migrate` selects.
public struct MigrationSelection: Sendable, Hashable {
    public var workflow: String
    public var fromVersion: Int
    /// States to move; `running` ones are moved only when their lease has expired.
    public var states: [String]
    /// Only instances at these steps of the old version (nil: every step).
    public var steps: [String]?

    /// Every live state, and failed (a failed instance moved can be retried on the new version).
    public static let defaultStates = ["ready", "waiting", "running", "failed"]

    public init(workflow: String, fromVersion: Int, states: [String] = MigrationSelection.defaultStates, steps: [String]? = nil) {
        self.workflow = workflow
        self.fromVersion = fromVersion
        self.states = states
        self.steps = steps
    }
}

/// Where the selected instances of a version stand now.
public struct MigrationStanding: Sendable, Hashable {
    public var groups: [StandingInstances]
    /// Of those, held by a worker right now (running under a lease that has not expired).
    public var held: Int
}

/// What one run of `instances migrate` did.
public struct MigrationProgress: Sendable, Hashable {
    public var moved = 0
    public var batches = 0
    /// Still on the old version afterwards: held by a worker all along, or moved on by a worker to a
    /// step with no counterpart. Re-running finishes them.
    public var remaining: MigrationStanding = MigrationStanding(groups: [], held: 0)
}

/// How to apply a plan.
public struct MigrationOptions: Sendable {
    /// Recorded in each moved instance's timeline.
    public var actor: String
    public var batchSize: Int
    /// Count each moved wait's duration again from when it began, on the new wait's clock.
    public var recomputeDeadlines: Bool
    /// Stop after this many batches (an interrupted run; the next run finishes the rest).
    public var maxBatches: Int?
    /// How long to keep retrying instances a worker holds (or is claiming) before leaving them for the next run.
    public var heldWait: Duration

    public init(actor: String, batchSize: Int = 200, recomputeDeadlines: Bool = false, maxBatches: Int? = nil,
                heldWait: Duration = .seconds(10)) {
        self.actor = actor
        self.batchSize = max(1, batchSize)
        self.recomputeDeadlines = recomputeDeadlines
        self.maxBatches = maxBatches
        self.heldWait = heldWait
    }
}

extension Store {
    /// A stored version's spec as text, for a loose outline of its steps even when this build cannot
    /// decode it in full.
    static let selectWorkflowSpecText = "SELECT spec::text AS spec FROM workflow_definitions WHERE name = $1 AND version = $2"

    /// Selected instances of a version grouped by step, with the first ids and how many a worker holds.
    /// Reads only; takes no locks.
    static let selectMigrationStanding = """
        SELECT step, count(*) AS n, (array_agg(id ORDER BY id))[1:5] AS sample,
               count(*) FILTER (WHERE state = 'running' AND lease_expires_at >= now()) AS held
        FROM workflow_instances
        WHERE workflow = $1 AND version = $2 AND state = ANY($3::text[]) AND ($4::text[] IS NULL OR step = ANY($4::text[]))
        GROUP BY step ORDER BY step
        """

    /// Locks the next batch to move: selected instances standing at a mapped step, never one a worker
    /// holds (running under an unexpired lease). SKIP LOCKED: a row a worker is claiming right now is
    /// left for a later pass, and the claim skips rows this locks, so neither waits on the other.
    /// Lock order: only workflow_instances rows, by id.
    static let lockMigrationBatch = """
        SELECT id, fence, state, step, wait_event, wait_started_at, deadline, run_at
        FROM workflow_instances
        WHERE workflow = $1 AND version = $2 AND state = ANY($3::text[]) AND step = ANY($4::text[])
          AND (state <> 'running' OR lease_expires_at < now())
        ORDER BY id LIMIT $5
        FOR UPDATE SKIP LOCKED
        """

    /// Moves locked instances to the new version, fenced like a worker's commit: only a row still on
    /// the old version with the fence that was read moves, and the fence is bumped, so a worker whose
    /// lease expired (a running row is only taken then) commits nothing afterwards. A running row is
    /// released as the worker's graceful stop would (waiting if it has a wait, else ready, due now).
    /// Each moved instance gets one timeline entry naming the actor; its current wait's SLA pauses
    /// move to the new step with it.
    static let moveInstances = """
        WITH input AS (
            SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::timestamptz[],
                                 $6::timestamptz[], $7::text[], $8::text[])
                AS u(id, fence, step, wait_event, deadline, run_at, from_state, detail)
        ), moved AS (
            UPDATE workflow_instances i SET
                version = $9, step = u.step, wait_event = u.wait_event, deadline = u.deadline,
                run_at = coalesce(u.run_at, now()),
                state = CASE WHEN i.state <> 'running' THEN i.state
                             WHEN u.wait_event IS NOT NULL AND u.deadline IS NOT NULL THEN 'waiting' ELSE 'ready' END,
                lease_owner = NULL, lease_expires_at = NULL, fence = i.fence + 1, seq = i.seq + 1, updated_at = now()
            FROM input u
            WHERE i.id = u.id AND i.fence = u.fence AND i.workflow = $10 AND i.version = $11
              AND (i.state <> 'running' OR i.lease_expires_at < now())
            RETURNING i.id, i.contact, i.seq, i.step, i.state, i.attempt, i.wait_started_at, u.from_state, u.detail
        ), pauses AS (
            -- The wait's SLA pauses move with it (a paused wait stays paused on its new step).
            UPDATE sla_pauses p SET step = m.step FROM moved m
            WHERE p.instance = m.id AND p.wait_started_at = m.wait_started_at
        ), events AS (
            INSERT INTO instance_events (instance, seq, step, from_state, to_state, owner, worker, attempt, detail)
            SELECT m.id, m.seq, m.step, m.from_state, m.state, c.owner, $12, m.attempt, m.detail
            FROM moved m JOIN contacts c ON c.id = m.contact
        )
        SELECT id FROM moved ORDER BY id
        """

    /// The steps of a stored version as id and kind; nil when there is no such version.
    public func stepOutline(_ workflow: String, version: Int) async throws -> StepOutline? {
        try await pool.withConnection { connection in
            guard let row = try await connection.query(Self.selectWorkflowSpecText, [workflow, version]).first else { return nil }
            let spec: String = try row.decode("spec")
            guard let outline = StepOutline(specJSON: Data(spec.utf8)) else {
                throw BatonError.invalid("\(workflow) v\(version) has no readable steps")
            }
            return outline
        }
    }

    /// Where the selected instances stand now.
    public func migrationStanding(_ selection: MigrationSelection) async throws -> MigrationStanding {
        try await pool.withConnection { connection in
            var groups: [StandingInstances] = []
            var held = 0
            for row in try await connection.query(
                Self.selectMigrationStanding, [selection.workflow, selection.fromVersion, selection.states, selection.steps])
            {
                groups.append(StandingInstances(step: try row.decode("step"), count: try row.decode("n"),
                                                sample: try row.decode("sample")))
                held += try row.decode(Int.self, "held")
            }
            return MigrationStanding(groups: groups, held: held)
        }
    }

    /// Applies `plan` to the selected instances in batches, one transaction each; instances a worker
    /// holds are retried for up to `options.heldWait`. Safe to interrupt and run again: an instance
    /// moves once (the next run selects only what is still on the old version).
    public func migrateInstances(_ plan: MigrationPlan, selection: MigrationSelection, options: MigrationOptions)
        async throws -> MigrationProgress
    {
        let fromSteps = plan.mapping.keys.filter { selection.steps?.contains($0) ?? true }.sorted()
        let calendars = options.recomputeDeadlines ? try await directory().calendars : [:]
        var progress = MigrationProgress()
        let giveUp = ContinuousClock.now + options.heldWait
        while true {
            if let max = options.maxBatches, progress.batches >= max { break }
            let moved = try await moveBatch(plan, selection: selection, fromSteps: fromSteps, calendars: calendars,
                                            options: options)
            if moved > 0 {
                progress.moved += moved
                progress.batches += 1
                continue
            }
            // Nothing left to lock: done, unless some at mapped steps were held by a worker or locked by
            // a claim in flight (SKIP LOCKED passed them over). Those are retried until `heldWait`.
            let standing = try await migrationStanding(selection)
            let movable = standing.groups.contains { plan.mapping[$0.step] != nil }
            guard movable, ContinuousClock.now < giveUp else { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        progress.remaining = try await migrationStanding(selection)
        return progress
    }

    private func moveBatch(
        _ plan: MigrationPlan, selection: MigrationSelection, fromSteps: [String], calendars: [String: BusinessCalendar],
        options: MigrationOptions
    ) async throws -> Int {
        guard !fromSteps.isEmpty else { return 0 }
        return try await pool.transaction { connection in
            let rows = try await connection.query(
                Self.lockMigrationBatch,
                [selection.workflow, selection.fromVersion, selection.states, fromSteps, options.batchSize])
            guard !rows.isEmpty else { return 0 }
            var u = (id: [Int](), fence: [Int](), step: [String](), event: [String?](), deadline: [Date?](),
                     runAt: [Date?](), from: [String](), detail: [String]())
            for row in rows {
                let step: String = try row.decode("step")
                let state: String = try row.decode("state")
                guard let to = plan.mapping[step] else { continue }
                let oldEvent: String? = try row.decode("wait_event")
                let oldDeadline: Date? = try row.decode("deadline")
                let runAt: Date = try row.decode("run_at")
                let event = oldEvent.map { plan.waitEvent(at: to) ?? $0 }
                let deadline = oldDeadline.flatMap { _ in
                    plan.deadline(at: to, waitStartedAt: try? row.decode(Date?.self, "wait_started_at"), kept: oldDeadline,
                                  recompute: options.recomputeDeadlines, calendars: calendars)
                }
                // Due when it was due before (woken by a signal, or a ready instance); a wait that is not
                // yet due is looked at when its deadline passes, or at once when it now waits for another event.
                var due: Date? = runAt
                if state == "running" {
                    due = nil  // released: due now
                } else if state == "waiting", runAt == Advance.neverDue {
                    due = event != oldEvent ? nil : runAt  // paused: still only a signal wakes it
                } else if state == "waiting", let old = oldDeadline, let deadline, runAt >= old {
                    due = event != oldEvent ? nil : deadline
                }
                var detail = "migrated by \(options.actor) from \(plan.workflow) v\(plan.fromVersion) step \(step)"
                    + " to v\(plan.toVersion) step \(to)"
                if let deadline {
                    detail += options.recomputeDeadlines && deadline != oldDeadline
                        ? "; deadline recomputed: \(rfc3339(deadline))" : "; deadline kept: \(rfc3339(deadline))"
                }
                if let event, event != oldEvent { detail += "; now waits for \(event)" }
                u.id.append(try row.decode("id")); u.fence.append(try row.decode("fence")); u.step.append(to)
                u.event.append(event); u.deadline.append(deadline); u.runAt.append(due); u.from.append(state)
                u.detail.append(detail)
            }
            typealias A = PostgresArrayLiteral
            let moved = try await connection.query(Self.moveInstances, [
                A(u.id), A(u.fence), A(u.step), A(u.event), A(u.deadline), A(u.runAt), A(u.from), A(u.detail),
                plan.toVersion, plan.workflow, plan.fromVersion, options.actor,
            ])
            return moved.count
        }
    }
}

private func rfc3339(_ date: Date) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    return formatter.string(from: date)
}
