import BatonCore
import Foundation
import Postgres

/// One pause of a wait's SLA clock, as `instances show --json` and `GET /v1/instances/{id}` list it.
public struct PauseEntry: Sendable, Codable, Equatable {
    public var step: String
    public var started_at: Date
    /// null while paused.
    public var ended_at: Date?
    public var pause_event: String
    /// null while paused, or when the wait was met while paused.
    public var resume_event: String?
    /// The paused time on the wait's clock (business seconds on a business-hours calendar), once ended.
    public var paused_s: Int?
    public var deadline_before: Date
    public var deadline_after: Date?
    /// `cancelled` or `moved` when an admin took the instance off the wait while paused (no
    /// paused_s, no deadline_after then); null when the wait ended the pause itself, or while paused.
    public var ended_by: String?
}

/// Where a waiting instance's SLA stands now.
public struct InstanceSLA: Sendable, Equatable {
    public var deadline: Date
    public var paused: Bool
    public var elapsedSeconds: Int
    public var remainingSeconds: Int
    /// `business_hours (office)` or `wall`.
    public var clock: String
    /// While paused: since when and by which event.
    public var pausedAt: Date?
    public var pausedBy: String?
}

extension Store {
    /// The current wait of an instance, its definition, the calendars' specs and the server's clock.
    static let selectInstanceWait = """
        SELECT i.state, i.step, i.wait_started_at, i.deadline, d.spec, now() AS now
        FROM workflow_instances i JOIN workflow_definitions d ON d.name = i.workflow AND d.version = i.version
        WHERE i.id = $1
        """
    /// Every pause of an instance, in the order they began.
    static let selectInstancePauses = """
        SELECT step, wait_started_at, started_at, ended_at, pause_event, resume_event, paused_s, deadline_before, deadline_after, ended_by
        FROM sla_pauses WHERE instance = $1 ORDER BY started_at, id
        """
    static let selectCalendar = "SELECT spec FROM calendars WHERE name = $1"

    /// The pauses of instance `id` and, when it is waiting, where its SLA stands now (elapsed and
    /// remaining on the wait's clock, pauses excluded). Nil SLA when it is not waiting.
    public func instanceSLA(_ id: Int) async throws -> (sla: InstanceSLA?, pauses: [PauseEntry]) {
        try await pool.withConnection { connection in
            var rows: [(entry: PauseEntry, waitStartedAt: Date, seconds: Double?)] = []
            for row in try await connection.query(Self.selectInstancePauses, [id]) {
                let seconds: Double? = try row.decode("paused_s")
                rows.append((PauseEntry(
                    step: try row.decode("step"), started_at: try row.decode("started_at"), ended_at: try row.decode("ended_at"),
                    pause_event: try row.decode("pause_event"), resume_event: try row.decode("resume_event"),
                    paused_s: seconds.map { Int($0.rounded()) }, deadline_before: try row.decode("deadline_before"),
                    deadline_after: try row.decode("deadline_after"), ended_by: try row.decode("ended_by")),
                 try row.decode("wait_started_at"), seconds))
            }
            let pauses = rows.map(\.entry)
            guard let row = try await connection.query(Self.selectInstanceWait, [id]).first,
                  try row.decode(String.self, "state") == "waiting",
                  let started: Date = try row.decode("wait_started_at"), let deadline: Date = try row.decode("deadline")
            else { return (nil, pauses) }
            let step: String = try row.decode("step")
            let now: Date = try row.decode("now")
            let definition = try row.decode(PostgresJSON<WorkflowDefinition>.self, "spec").value
            guard case .waitForSLA(let wait, _, _)? = definition.step(step)?.action else { return (nil, pauses) }
            var calendars: [String: BusinessCalendar] = [:]
            if wait.clock == .businessHours, let name = wait.calendar,
               let spec = try await connection.query(Self.selectCalendar, [name]).first {
                calendars[name] = try spec.decode(PostgresJSON<BusinessCalendar>.self, "spec").value
            }
            let clock = SLAClock(wait, calendars: calendars)
            let current = rows.filter { $0.entry.step == step && $0.waitStartedAt == started }
            let open = current.first { $0.entry.ended_at == nil }?.entry
            let status = SLAStatus(
                waitStartedAt: started, deadline: deadline, pausedAt: open?.started_at,
                pausedSeconds: current.compactMap(\.seconds).reduce(0, +), now: now, clock: clock)
            let sla = InstanceSLA(
                deadline: deadline, paused: status.paused, elapsedSeconds: Int(status.elapsed.rounded()),
                remainingSeconds: Int(status.remaining.rounded()),
                clock: clock.calendar.map { "business_hours (\($0.name))" } ?? "wall",
                pausedAt: open?.started_at, pausedBy: open?.pause_event)
            return (sla, pauses)
        }
    }
}
