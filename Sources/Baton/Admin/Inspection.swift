import BatonCore
import Foundation
import Postgres

/// An instance as `instances list` shows it (the JSON field names are a contract).
public struct InstanceSummary: Sendable, Codable {
    public var id: String
    public var workflow: String
    public var version: Int
    public var contact: String
    public var state: String
    public var step: String
    public var owner: String?
    public var team: String?
    public var priority: Int
    public var run_at: Date
    public var updated_at: Date
}

/// One timeline entry as `instances show` shows it.
public struct TimelineEntry: Sendable, Codable {
    public var seq: Int
    public var step: String
    public var from_state: String
    public var to_state: String
    public var owner: String?
    public var worker: String?
    public var attempt: Int
    public var at: Date
    public var detail: String?
    public var error: String?
}

/// Filters for `instances list`.
public struct InstanceFilter: Sendable {
    public var workflow: String?
    public var state: String?
    public var owner: String?
    public var team: String?
    public var step: String?
    public var limit: Int
    public init(workflow: String? = nil, state: String? = nil, owner: String? = nil, team: String? = nil,
                step: String? = nil, limit: Int = 100) {
        self.workflow = workflow
        self.state = state
        self.owner = owner
        self.team = team
        self.step = step
        self.limit = limit
    }
}

extension Store {
    static let listInstances = """
        SELECT i.id, i.workflow, i.version, i.contact, i.state, i.step, c.owner, c.team, i.priority, i.run_at, i.updated_at
        FROM workflow_instances i JOIN contacts c ON c.id = i.contact
        WHERE ($1::text IS NULL OR i.workflow = $1) AND ($2::text IS NULL OR i.state = $2)
          AND ($3::text IS NULL OR c.owner = $3) AND ($4::text IS NULL OR c.team = $4)
          AND ($5::text IS NULL OR i.step = $5)
        ORDER BY i.id LIMIT $6
        """

    public func instances(_ filter: InstanceFilter) async throws -> [InstanceSummary] {
        try await pool.withConnection { connection in
            try await connection.query(
                Self.listInstances,
                [filter.workflow, filter.state, filter.owner, filter.team, filter.step, filter.limit]
            ).map(Self.instanceSummary)
        }
    }

    static func instanceSummary(_ row: Row) throws -> InstanceSummary {
        InstanceSummary(
            id: String(try row.decode(Int.self, "id")), workflow: try row.decode("workflow"),
            version: try row.decode("version"), contact: try row.decode("contact"), state: try row.decode("state"),
            step: try row.decode("step"), owner: try row.decode("owner"), team: try row.decode("team"),
            priority: try row.decode("priority"), run_at: try row.decode("run_at"), updated_at: try row.decode("updated_at"))
    }

    static let instanceTimeline = """
        SELECT seq, step, from_state, to_state, owner, worker, attempt, at, detail, error
        FROM instance_events WHERE instance = $1 ORDER BY seq
        """

    static let selectInstance = """
        SELECT i.id, i.workflow, i.version, i.contact, i.state, i.step, c.owner, c.team, i.priority, i.run_at,
               i.updated_at, i.last_error
        FROM workflow_instances i JOIN contacts c ON c.id = i.contact WHERE i.id = $1
        """

    /// The instance and its whole timeline; nil when there is no such instance.
    public func instance(_ id: Int) async throws -> (InstanceSummary, lastError: String?, timeline: [TimelineEntry])? {
        try await pool.withConnection { connection in
            guard let row = try await connection.query(Self.selectInstance, [id]).first else { return nil }
            let summary = try Self.instanceSummary(row)
            let lastError: String? = try row.decode("last_error")
            let timeline = try await connection.query(Self.instanceTimeline, [id]).map { row in
                TimelineEntry(
                    seq: try row.decode("seq"), step: try row.decode("step"), from_state: try row.decode("from_state"),
                    to_state: try row.decode("to_state"), owner: try row.decode("owner"), worker: try row.decode("worker"),
                    attempt: try row.decode("attempt"), at: try row.decode("at"), detail: try row.decode("detail"),
                    error: try row.decode("error"))
            }
            return (summary, lastError, timeline)
        }
    }

    /// Outcome counts for the demo's summary and `stats`-like reports.
    static let outcomeCounts = """
        SELECT
          (SELECT count(*) FROM workflow_instances WHERE workflow = $1) AS started,
          (SELECT count(*) FROM workflow_instances WHERE workflow = $1 AND state = 'completed') AS completed,
          (SELECT count(*) FROM workflow_instances WHERE workflow = $1 AND state IN ('ready', 'running', 'waiting')) AS active,
          (SELECT count(*) FROM workflow_instances WHERE workflow = $1 AND state = 'failed') AS failed,
          (SELECT count(*) FROM instance_events e JOIN workflow_instances i ON i.id = e.instance
             WHERE i.workflow = $1 AND e.detail LIKE 'sla_met%') AS sla_met,
          (SELECT count(*) FROM instance_events e JOIN workflow_instances i ON i.id = e.instance
             WHERE i.workflow = $1 AND e.detail LIKE 'sla_breached%') AS sla_breached,
          (SELECT count(*) FROM instance_events e JOIN workflow_instances i ON i.id = e.instance
             WHERE i.workflow = $1 AND e.detail LIKE 'escalated%') AS escalations,
          (SELECT count(*) FROM instance_events e JOIN workflow_instances i ON i.id = e.instance
             WHERE i.workflow = $1 AND e.detail LIKE 'handoff:%') AS handoffs,
          (SELECT count(*) FROM outbox WHERE workflow = $1) AS notifications
        """

    public func outcomeCounts(workflow: String) async throws -> [String: Int] {
        try await pool.withConnection { connection in
            let row = try await connection.query(Self.outcomeCounts, [workflow])[0]
            var counts: [String: Int] = [:]
            for name in ["started", "completed", "active", "failed", "sla_met", "sla_breached", "escalations", "handoffs", "notifications"] {
                counts[name] = try row.decode(Int.self, name)
            }
            return counts
        }
    }

    static let ownerCounts = """
        SELECT to_owner AS member, count(*) AS assigned FROM ownership_history
        WHERE to_owner IS NOT NULL GROUP BY to_owner ORDER BY to_owner
        """

    /// Assignments per member over the whole history.
    public func assignmentsPerMember() async throws -> [(String, Int)] {
        try await pool.withConnection { connection in
            try await connection.query(Self.ownerCounts).map { (try $0.decode("member"), try $0.decode("assigned")) }
        }
    }
}
