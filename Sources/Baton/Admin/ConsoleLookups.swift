import Foundation
import Postgres

/// A contact in search results.
public struct ContactMatch: Sendable, Equatable {
    public var id: String
    public var owner: String?
    public var team: String?
    public var attributes: [String: String]
}

/// One stored version of a workflow, without its definition.
public struct WorkflowVersionInfo: Sendable, Equatable {
    public var version: Int
    public var file: String?
    public var createdAt: Date
}

/// How many instances of a workflow sit at one step in one state.
public struct StepCount: Sendable, Equatable {
    public var version: Int
    public var step: String
    public var state: String
    public var count: Int
}

extension Store {
    /// Contacts whose id starts with $1, owned by $2, with attribute $3 equal to $4 (each filter
    /// optional), by id, at most $5.
    static let searchContacts = """
        SELECT id, owner, team, attributes FROM contacts
        WHERE ($1::text IS NULL OR starts_with(id, $1))
          AND ($2::text IS NULL OR owner = $2)
          AND ($3::text IS NULL OR attributes ->> $3 = $4)
        ORDER BY id LIMIT $5
        """
    /// The versions of one workflow, newest first.
    static let selectWorkflowVersions = """
        SELECT version, file, created_at FROM workflow_definitions WHERE name = $1 ORDER BY version DESC
        """
    /// Instances of one workflow per version, step and state (live and failed ones: finished ones have left their step).
    static let selectStepCounts = """
        SELECT version, step, state, count(*) AS n FROM workflow_instances
        WHERE workflow = $1 AND state IN ('ready', 'running', 'waiting', 'failed')
        GROUP BY version, step, state ORDER BY version DESC, step, state
        """

    /// Contacts matching an id prefix, an owner and an attribute (`name=value`), each optional.
    public func searchContacts(idPrefix: String?, owner: String?, attribute: (name: String, value: String)?,
                               limit: Int = 50) async throws -> [ContactMatch] {
        try await pool.withConnection { connection in
            try await connection.query(Self.searchContacts, [idPrefix, owner, attribute?.name, attribute?.value, limit]).map { row in
                ContactMatch(id: try row.decode("id"), owner: try row.decode("owner"), team: try row.decode("team"),
                             attributes: try row.decode(PostgresJSON<[String: String]>.self, "attributes").value)
            }
        }
    }

    /// Every version of a workflow, newest first (empty when there is no such workflow).
    public func workflowVersions(_ name: String) async throws -> [WorkflowVersionInfo] {
        try await pool.withConnection { connection in
            try await connection.query(Self.selectWorkflowVersions, [name]).map { row in
                WorkflowVersionInfo(version: try row.decode("version"), file: try row.decode("file"),
                                    createdAt: try row.decode("created_at"))
            }
        }
    }

    /// Live and failed instances of a workflow per version, step and state.
    public func stepCounts(_ workflow: String) async throws -> [StepCount] {
        try await pool.withConnection { connection in
            try await connection.query(Self.selectStepCounts, [workflow]).map { row in
                StepCount(version: try row.decode("version"), step: try row.decode("step"), state: try row.decode("state"),
                          count: try row.decode("n"))
            }
        }
    }
}
