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
    public var contact: String?
    public var limit: Int
    public init(workflow: String? = nil, state: String? = nil, owner: String? = nil, team: String? = nil,
                step: String? = nil, contact: String? = nil, limit: Int = 100) {
        self.contact = contact
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
          AND ($5::text IS NULL OR i.step = $5) AND ($7::text IS NULL OR i.contact = $7)
        ORDER BY i.id LIMIT $6
        """

    public func instances(_ filter: InstanceFilter) async throws -> [InstanceSummary] {
        try await pool.withConnection { connection in
            try await connection.query(
                Self.listInstances,
                [filter.workflow, filter.state, filter.owner, filter.team, filter.step, filter.limit, filter.contact]
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
}
