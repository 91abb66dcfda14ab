import Baton
import Foundation

/// What the console counts over whole tables, shared by every viewer (see `Refreshing`): the
/// overview, the change stamp, the members' open work, live instances per workflow and instances
/// per step. However many people watch, the database computes each at most once per interval
/// (2 s for the overview, 1 s for the stamp, the others on every request while they take under
/// 50 ms),
/// and a slow one (a table of a million instances) is refreshed in the background instead of
/// making viewers wait.
actor ConsoleCache {
    private let store: Store
    private let overview: Refreshing<Overview>
    private let stamp: Refreshing<String>
    private let openWork: Refreshing<[String: Int]>
    private let workflows: Refreshing<[Store.WorkflowSummary]>
    private var steps: [String: Refreshing<[StepCount]>] = [:]

    /// Counts a page waits for while they take less than this (half the console's 100 ms page budget).
    static let pageExpensive: Duration = .milliseconds(50)

    init(store: Store) {
        self.store = store
        overview = Refreshing(maximumAge: .seconds(2)) { try await store.overview() }
        stamp = Refreshing(maximumAge: .seconds(1)) { try await store.changeStamp() }
        openWork = Refreshing(maximumAge: .zero, expensive: Self.pageExpensive) { try await store.openWork() }
        workflows = Refreshing(maximumAge: .zero, expensive: Self.pageExpensive) { try await store.workflowSummaries() }
    }

    func current() async throws -> Overview { try await overview.current() }

    func changeStamp() async throws -> String { try await stamp.current() }

    /// Contacts owned with a live instance, per member.
    func currentOpenWork() async throws -> [String: Int] { try await openWork.current() }

    /// Every workflow with its live instances.
    func workflowSummaries() async throws -> [Store.WorkflowSummary] { try await workflows.current() }

    /// Instances per version, step and state of one workflow.
    func stepCounts(_ workflow: String) async throws -> [StepCount] {
        if let counts = steps[workflow] { return try await counts.current() }
        let store = self.store
        let counts = Refreshing(maximumAge: .zero, expensive: Self.pageExpensive) { try await store.stepCounts(workflow) }
        // Workflows are few; a name nobody stored is not kept (the page answers 404 first).
        steps[workflow] = counts
        return try await counts.current()
    }
}
