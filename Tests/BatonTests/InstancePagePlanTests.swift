@testable import Baton
import BatonCore
import BatonTesting
import Foundation
import Postgres
import Testing

/// The listing's statements read only the rows they return, however the states lie in the table:
/// checked on the plan PostgreSQL actually ran (`EXPLAIN ANALYZE`), not with a stopwatch.
@Suite("Instance listing plans")
struct InstancePagePlanTests {
    /// Every "Rows Removed by Filter" (and by join filter) in a JSON plan, summed over its nodes.
    static func rowsRemoved(_ plan: Any) -> Int {
        guard let node = plan as? [String: Any] else { return (plan as? [Any])?.map(rowsRemoved).reduce(0, +) ?? 0 }
        let own = ["Rows Removed by Filter", "Rows Removed by Join Filter"].compactMap { node[$0] as? Int }.reduce(0, +)
        return own + node.values.map(rowsRemoved).reduce(0, +)
    }

    @Test("a state filter reads that state's rows only, though 20,000 rows of another state come first by id")
    func aStateFilterWalksTheStateIndex() async throws {
        let engine = try await Engine.make("listplan", workflows: [WorkerProcessTests.flow])
        defer { Task { await engine.close() } }
        // New ready rows with the low ids, then many waiting ones: the statistics say most rows
        // wait, so walking the primary key and filtering looks cheap, and reads 20,000 rows.
        _ = try await engine.rows("""
            INSERT INTO contacts (id, attributes) SELECT 'P-' || g, '{}' FROM generate_series(1, 120000) g
            """)
        _ = try await engine.rows("""
            INSERT INTO workflow_instances (workflow, version, contact, state, step, run_at, wait_event, deadline)
            SELECT 'flow', 1, 'P-' || g, CASE WHEN g <= 20000 THEN 'ready' ELSE 'waiting' END, 'assign', now(),
                   CASE WHEN g > 20000 THEN 'never' END, CASE WHEN g > 20000 THEN now() + interval '1 day' END
            FROM generate_series(1, 120000) g
            """)
        _ = try await engine.rows("ANALYZE contacts, workflow_instances")
        for sort in [InstanceSort.id, .idDescending] {
            var query = InstanceQuery(state: "waiting", limit: 50, sort: sort)
            if sort == .idDescending { query.state = "ready" }
            let parameters = Store.filterParameters(query) + [nil, query.limit + 1]
            let explained: String = try await engine.scalar(
                "EXPLAIN (ANALYZE, FORMAT JSON) " + Store.pageInstances(sort, state: true), parameters)
            let plan = try JSONSerialization.jsonObject(with: Data(explained.utf8))
            #expect(Self.rowsRemoved(plan) < 1000, "sort=\(sort.rawValue) state=\(query.state!): \(explained)")
            let page = try await engine.store.instancePage(query)
            #expect(page.items.count == 50)
            #expect(page.items.allSatisfy { $0.state == query.state })
        }
    }
}
