import BatonCore
import Foundation
import Postgres

/// A stored version of a workflow.
public struct StoredWorkflow: Sendable {
    public var name: String
    public var version: Int
    public var definition: WorkflowDefinition
    public var source: String
    public var file: String?
    public var createdAt: Date
}

/// What `workflows apply` did with one file.
public struct WorkflowApplyResult: Sendable, Equatable {
    public var name: String
    public var version: Int
    /// False when the newest stored version already had this definition.
    public var created: Bool
}

extension Store {
    /// Serialises applies of one workflow name, so two applies never pick the same version.
    static let lockWorkflowName = "SELECT pg_advisory_xact_lock(hashtext('baton.workflow:' || $1))"
    /// The newest version and whether its spec equals the new one (jsonb equality ignores key order).
    static let newestWorkflowVersion = """
        SELECT version, spec = $2::jsonb AS same FROM workflow_definitions
        WHERE name = $1 ORDER BY version DESC LIMIT 1
        """
    static let insertWorkflowVersion = """
        INSERT INTO workflow_definitions (name, version, spec, source, file) VALUES ($1, $2, $3::jsonb, $4, $5)
        """
    static let selectWorkflowVersion = """
        SELECT name, version, spec, source, file, created_at FROM workflow_definitions
        WHERE name = $1 AND ($2::int IS NULL OR version = $2) ORDER BY version DESC LIMIT 1
        """
    static let selectWorkflowSummaries = """
        SELECT d.name, max(d.version) AS version, min(d.created_at) AS created_at, max(d.created_at) AS updated_at,
               (SELECT count(*) FROM workflow_instances i WHERE i.workflow = d.name
                  AND i.state NOT IN ('completed', 'cancelled')) AS active
        FROM workflow_definitions d GROUP BY d.name ORDER BY d.name
        """

    /// Stores `definition` as a new version unless the newest version is the same.
    public func applyWorkflow(_ definition: WorkflowDefinition, source: String, file: String?) async throws
        -> WorkflowApplyResult
    {
        let spec = PostgresJSON(definition)
        return try await pool.transaction { connection in
            try await connection.query(Self.lockWorkflowName, [definition.name])
            let newest = try await connection.query(Self.newestWorkflowVersion, [definition.name, spec]).first
            if let newest {
                let version = try newest.decode(Int.self, "version")
                if try newest.decode(Bool.self, "same") {
                    return WorkflowApplyResult(name: definition.name, version: version, created: false)
                }
            }
            let version = try (newest?.decode(Int.self, "version") ?? 0) + 1
            try await connection.query(Self.insertWorkflowVersion, [definition.name, version, spec, source, file])
            return WorkflowApplyResult(name: definition.name, version: version, created: true)
        }
    }

    /// One version of a workflow (the newest when `version` is nil); nil when there is none.
    public func workflow(_ name: String, version: Int? = nil) async throws -> StoredWorkflow? {
        try await pool.withConnection { connection in
            guard let row = try await connection.query(Self.selectWorkflowVersion, [name, version]).first else {
                return nil
            }
            return StoredWorkflow(
                name: try row.decode("name"), version: try row.decode("version"),
                definition: try row.decode(PostgresJSON<WorkflowDefinition>.self, "spec").value,
                source: try row.decode("source"), file: try row.decode("file"), createdAt: try row.decode("created_at"))
        }
    }

    /// One line per workflow: newest version, first and last apply, live instances.
    public struct WorkflowSummary: Sendable, Codable {
        public var name: String
        public var version: Int
        public var createdAt: Date
        public var updatedAt: Date
        public var active: Int
    }

    public func workflowSummaries() async throws -> [WorkflowSummary] {
        try await pool.withConnection { connection in
            try await connection.query(Self.selectWorkflowSummaries).map { row in
                WorkflowSummary(
                    name: try row.decode("name"), version: try row.decode("version"),
                    createdAt: try row.decode("created_at"), updatedAt: try row.decode("updated_at"),
                    active: try row.decode("active"))
            }
        }
    }
}
