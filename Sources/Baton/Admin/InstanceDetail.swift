import BatonCore
import Foundation

/// One instance with its whole timeline: `batonctl instances show --json` and `GET /v1/instances/{id}`.
public struct InstanceDetail: Sendable, Codable {
    public var id, workflow, contact, state, step: String
    public var version, priority: Int
    public var owner, team, last_error: String?
    public var run_at, updated_at: Date
    public var timeline: [TimelineEntry]

    public init(_ summary: InstanceSummary, lastError: String?, timeline: [TimelineEntry]) {
        id = summary.id
        workflow = summary.workflow
        contact = summary.contact
        state = summary.state
        step = summary.step
        version = summary.version
        priority = summary.priority
        owner = summary.owner
        team = summary.team
        last_error = lastError
        run_at = summary.run_at
        updated_at = summary.updated_at
        self.timeline = timeline
    }
}

/// A workflow as `workflows list --json` and `GET /v1/workflows` show it.
public struct WorkflowListItem: Sendable, Codable {
    public var name: String
    public var version: Int
    public var active: Int
    public var created_at: Date
    public var updated_at: Date
}

/// One stored version of a workflow: `workflows show --json` and `GET /v1/workflows/{name}`.
public struct WorkflowVersionDetail: Sendable, Codable {
    public var name: String
    public var version: Int
    public var created_at: Date
    public var file: String?
    public var definition: WorkflowDefinition
    public var source: String

    public init(_ stored: StoredWorkflow) {
        name = stored.name
        version = stored.version
        created_at = stored.createdAt
        file = stored.file
        definition = stored.definition
        source = stored.source
    }
}

extension Store {
    /// The instance and its timeline as one value; nil when there is no such instance.
    public func instanceDetail(_ id: Int) async throws -> InstanceDetail? {
        guard let (summary, lastError, timeline) = try await instance(id) else { return nil }
        return InstanceDetail(summary, lastError: lastError, timeline: timeline)
    }

    /// Every workflow's newest version with its live instance count.
    public func workflowList() async throws -> [WorkflowListItem] {
        try await workflowSummaries().map {
            WorkflowListItem(name: $0.name, version: $0.version, active: $0.active, created_at: $0.createdAt, updated_at: $0.updatedAt)
        }
    }
}
