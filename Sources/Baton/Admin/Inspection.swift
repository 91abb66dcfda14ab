import BatonCore
import Foundation
import Postgres

/// An instance as `instances list` shows it (the JSON field names are a contract).
public struct InstanceSummary: Sendable, Codable, Equatable {
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

extension Store {
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
