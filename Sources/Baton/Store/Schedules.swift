import BatonCore
import Foundation
import Postgres

/// A schedule as `schedules list` shows it (the `--json` field names are a contract).
public struct ScheduleSummary: Sendable, Codable, Hashable {
    public var name: String
    public var cron: String
    public var timezone: String
    public var action: String
    public var channel: String
    public var next_run_at: Date
    public var last_period: Date?
    public var last_run_at: Date?
    public var runs: Int
    /// The worker holding it now (running), or nil.
    public var running_on: String?
}

/// A due schedule claimed by a worker: run it for `period`, then commit with `fence`.
public struct ClaimedSchedule: Sendable, Hashable {
    public var schedule: Schedule
    /// The scheduled time this run is for (the row's `next_run_at` when claimed).
    public var period: Date
    public var fence: Int
    /// The database's time at the claim.
    public var now: Date
}

/// One message a schedule run sends (written to the outbox with the run).
public struct ScheduledMessage: Sendable, Hashable {
    /// Unique per schedule, period and recipient group: a repeated run can never send it twice.
    public var key: String
    public var channel: String
    public var recipient: String?
    public var recipientEmail: String?
    public var message: String
    public init(key: String, channel: String, recipient: String?, recipientEmail: String?, message: String) {
        self.key = key
        self.channel = channel
        self.recipient = recipient
        self.recipientEmail = recipientEmail
        self.message = message
    }
}

/// What `schedules apply` did to one schedule.
public struct ScheduleApplyResult: Sendable, Hashable {
    public var name: String
    /// created | changed | unchanged
    public var outcome: String
    public var nextRunAt: Date
}

extension Store {
    /// Creates or updates a schedule by name. The next run is kept when cron and time zone are
    /// unchanged (a re-apply never skips or repeats a period), else it is `$6` (computed from now).
    /// Returns nothing when nothing changed.
    static let upsertSchedule = """
        INSERT INTO schedules (name, cron, timezone, action, spec, next_run_at) VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (name) DO UPDATE SET
            cron = EXCLUDED.cron, timezone = EXCLUDED.timezone, action = EXCLUDED.action, spec = EXCLUDED.spec,
            next_run_at = CASE WHEN schedules.cron = EXCLUDED.cron AND schedules.timezone = EXCLUDED.timezone
                               THEN schedules.next_run_at ELSE EXCLUDED.next_run_at END,
            updated_at = now()
        WHERE (schedules.cron, schedules.timezone, schedules.action, schedules.spec)
              IS DISTINCT FROM (EXCLUDED.cron, EXCLUDED.timezone, EXCLUDED.action, EXCLUDED.spec)
        RETURNING (xmax = 0) AS created, next_run_at
        """
    static let selectScheduleNextRun = "SELECT next_run_at FROM schedules WHERE name = $1"

    /// Validates nothing (the loader did); stores each schedule of the file.
    public func applySchedules(_ file: SchedulesFile, now: Date = Date()) async throws -> [ScheduleApplyResult] {
        try await pool.withConnection { connection in
            try await connection.transaction { connection in
                var results: [ScheduleApplyResult] = []
                for schedule in file.schedules {
                    guard let next = try schedule.expression().next(after: now) else {
                        throw BatonError.invalid("schedule \(schedule.name): \"\(schedule.cron)\" never runs")
                    }
                    let spec = PostgresJSON(schedule)
                    if let row = try await connection.query(Self.upsertSchedule, [
                        schedule.name, schedule.cron, schedule.timezone, schedule.action.rawValue, spec, next,
                    ]).first {
                        results.append(ScheduleApplyResult(
                            name: schedule.name, outcome: try row.decode(Bool.self, "created") ? "created" : "changed",
                            nextRunAt: try row.decode("next_run_at")))
                    } else {
                        let kept: Date = try await connection.query(Self.selectScheduleNextRun, [schedule.name])[0].decode(Date.self, at: 0)
                        results.append(ScheduleApplyResult(name: schedule.name, outcome: "unchanged", nextRunAt: kept))
                    }
                }
                return results
            }
        }
    }

    /// Deletes a schedule and its run records; a run in flight then commits nothing (its fenced
    /// update finds no row).
    static let deleteSchedule = "DELETE FROM schedules WHERE name = $1 RETURNING name"

    /// Removes schedule `name`; false when there is none.
    public func removeSchedule(_ name: String) async throws -> Bool {
        try await pool.withConnection { connection in
            !(try await connection.query(Self.deleteSchedule, [name]).isEmpty)
        }
    }

    static let selectSchedules = """
        SELECT name, cron, timezone, action, spec->>'channel' AS channel, next_run_at, last_period, last_run_at, runs,
               CASE WHEN lease_expires_at > now() THEN lease_owner END AS running_on
        FROM schedules ORDER BY name
        """

    /// Every schedule with its next and last run.
    public func schedules() async throws -> [ScheduleSummary] {
        try await pool.withConnection { connection in
            try await connection.query(Self.selectSchedules).map { row in
                ScheduleSummary(
                    name: try row.decode("name"), cron: try row.decode("cron"), timezone: try row.decode("timezone"),
                    action: try row.decode("action"), channel: try row.decode(String?.self, "channel") ?? "log",
                    next_run_at: try row.decode("next_run_at"), last_period: try row.decode("last_period"),
                    last_run_at: try row.decode("last_run_at"), runs: try row.decode("runs"),
                    running_on: try row.decode("running_on"))
            }
        }
    }

    /// Claims up to $3 due schedules for worker $1 under a lease of $2 ms: due (next_run_at passed)
    /// and not leased, or leased by a worker whose lease ran out (a killed one). SKIP LOCKED, so
    /// workers never wait on each other; the UPDATE bumps `fence`, which the run's commit must present.
    /// Lock order: only schedules rows are locked.
    static let claimSchedules = """
        WITH due AS (
            SELECT name FROM schedules
            WHERE next_run_at <= now() AND (lease_expires_at IS NULL OR lease_expires_at < now())
            ORDER BY next_run_at LIMIT $3 FOR UPDATE SKIP LOCKED
        )
        UPDATE schedules s SET lease_owner = $1, lease_expires_at = now() + $2 * interval '1 millisecond',
            fence = s.fence + 1
        FROM due WHERE s.name = due.name
        RETURNING s.spec, s.next_run_at, s.fence, now() AS now
        """

    /// The due schedules this worker now holds.
    public func claimSchedules(worker: String, lease: Duration, limit: Int = 10) async throws -> [ClaimedSchedule] {
        let millis = lease.wholeMilliseconds
        return try await pool.withConnection { connection in
            try await connection.query(Self.claimSchedules, [worker, millis, limit]).map { row in
                ClaimedSchedule(
                    schedule: try row.decode(PostgresJSON<Schedule>.self, "spec").value, period: try row.decode("next_run_at"),
                    fence: try row.decode("fence"), now: try row.decode("now"))
            }
        }
    }

    /// Ends a run: advances the schedule to $5 and releases it, only while the claim still holds
    /// (same fence, same worker, same period): a worker whose lease ran out and was taken over
    /// changes nothing. Runs first in the run's transaction, so the row lock it takes keeps any
    /// other claim out until the commit.
    static let advanceSchedule = """
        UPDATE schedules SET next_run_at = $5, last_period = $4, last_run_at = now(), runs = runs + 1,
            lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
        WHERE name = $1 AND fence = $2 AND lease_owner = $3 AND next_run_at = $4
        RETURNING name
        """
    /// The run's messages; the key (schedule, period, group) makes a second insert of one a no-op.
    /// When any was written, `NOTIFY baton_outbox` (at commit) wakes the outbox relays.
    static let insertScheduledMessages = """
        WITH inserted AS (
            INSERT INTO outbox (idempotency_key, step, channel, recipient, recipient_email, message)
            SELECT m.key, $1, m.channel, nullif(m.recipient, ''), nullif(m.email, ''), m.message
            FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY
                AS m(key, channel, recipient, email, message, n)
            ORDER BY m.n
            ON CONFLICT (idempotency_key) DO NOTHING
            RETURNING 1
        )
        SELECT pg_notify('baton_outbox', '') WHERE EXISTS (SELECT 1 FROM inserted)
        """
    /// The run's record; its primary key (schedule, period) refuses a second run of a period.
    static let insertScheduleRun = """
        INSERT INTO schedule_runs (schedule, period, worker, messages) VALUES ($1, $2, $3, $4)
        """

    /// Commits a run of `claim` by `worker`: next run `next`, the messages to the outbox, the run
    /// recorded, all in one transaction. Returns false (and writes nothing) when the claim no
    /// longer holds.
    public func finishScheduleRun(_ claim: ClaimedSchedule, worker: String, next: Date, messages: [ScheduledMessage]) async throws -> Bool {
        try await pool.withConnection { connection in
            try await connection.transaction { connection in
                let advanced = try await connection.query(Self.advanceSchedule, [
                    claim.schedule.name, claim.fence, worker, claim.period, next,
                ])
                guard !advanced.isEmpty else { return false }
                try await connection.query(Self.insertScheduledMessages, [
                    "schedule:\(claim.schedule.name)", messages.map(\.key), messages.map(\.channel),
                    messages.map { $0.recipient ?? "" }, messages.map { $0.recipientEmail ?? "" }, messages.map(\.message),
                ])
                try await connection.query(Self.insertScheduleRun, [claim.schedule.name, claim.period, worker, messages.count])
                return true
            }
        }
    }

    /// Lets go of a claim after a failed run, so the schedule is tried again after `retryAfter`
    /// rather than after the lease (only while the claim holds).
    static let releaseSchedule = """
        UPDATE schedules SET lease_owner = $3, lease_expires_at = now() + $4 * interval '1 millisecond'
        WHERE name = $1 AND fence = $2 AND lease_owner = $3
        """

    public func releaseSchedule(_ claim: ClaimedSchedule, worker: String, retryAfter: Duration) async throws {
        try await pool.withConnection { connection in
            try await connection.query(Self.releaseSchedule, [claim.schedule.name, claim.fence, worker, retryAfter.wholeMilliseconds])
        }
    }

    static let selectScheduleLastPeriod = "SELECT last_period FROM schedules WHERE name = $1"

    /// The messages of a schedule's last run, in the order written: outbox rows of the schedule
    /// created in the run's transaction (`created_at` and `last_run_at` are both its now()).
    static let selectLastScheduleMessages = """
        SELECT o.channel, o.recipient, o.recipient_email, o.status, o.message
        FROM schedules s JOIN outbox o ON o.step = 'schedule:' || s.name AND o.created_at = s.last_run_at
        WHERE s.name = $1 ORDER BY o.id
        """

    /// What the last run of schedule `name` sent; nil when there is no such schedule.
    public func lastScheduleMessages(_ name: String) async throws -> (period: Date?, messages: [ScheduledMessage])? {
        try await pool.withConnection { connection in
            guard let period = try await connection.query(Self.selectScheduleLastPeriod, [name]).first
            else { return nil }
            let messages = try await connection.query(Self.selectLastScheduleMessages, [name]).map { row in
                ScheduledMessage(key: "", channel: try row.decode("channel"), recipient: try row.decode("recipient"),
                                 recipientEmail: try row.decode("recipient_email"), message: try row.decode("message"))
            }
            return (try period.decode(Date?.self, at: 0), messages)
        }
    }
}
