import BatonCore
import Foundation

/// One instance with its whole timeline: `batonctl instances show --json` and `GET /v1/instances/{id}`.
public struct InstanceDetail: Sendable, Codable {
    public var id, workflow, contact, state, step: String
    public var version, priority: Int
    public var owner, team, last_error: String?
    public var run_at, updated_at: Date
    public var timeline: [TimelineEntry]
    /// The current wait's deadline (while paused, the one it moves from on resume); null when not waiting.
    public var deadline: Date?
    /// The current wait's SLA clock is stopped (a `pause_on` event); while paused run_at is
    /// 9999-12-31T23:59:59Z: only a signal wakes the instance.
    public var paused: Bool
    /// Seconds of the wait's clock (business hours on a calendar) since the wait began, pauses excluded.
    public var elapsed_s: Int?
    /// Seconds of the wait's clock until the deadline; frozen while paused, 0 once it passed.
    public var remaining_s: Int?
    /// Every pause of the instance's waits, in the order they began.
    public var pauses: [PauseEntry]

    public init(_ summary: InstanceSummary, lastError: String?, timeline: [TimelineEntry], sla: InstanceSLA? = nil,
                pauses: [PauseEntry] = []) {
        deadline = sla?.deadline
        paused = sla?.paused ?? false
        elapsed_s = sla?.elapsedSeconds
        remaining_s = sla?.remainingSeconds
        self.pauses = pauses
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
        let (sla, pauses) = try await instanceSLA(id)
        return InstanceDetail(summary, lastError: lastError, timeline: timeline, sla: sla, pauses: pauses)
    }

    /// Every workflow's newest version with its live instance count.
    public func workflowList() async throws -> [WorkflowListItem] {
        try await workflowSummaries().map {
            WorkflowListItem(name: $0.name, version: $0.version, active: $0.active, created_at: $0.createdAt, updated_at: $0.updatedAt)
        }
    }
}
