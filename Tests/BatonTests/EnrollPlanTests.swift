@testable import Baton
import BatonCore
import BatonTesting
import Foundation
import Postgres
import Testing

/// A start reads only its own contacts' instances, however many the workflow has live: checked on
/// the plan PostgreSQL runs for the prepared statement once it uses a generic plan (as it does
/// after five executions on a connection), not with a stopwatch.
@Suite("Enrollment plan")
struct EnrollPlanTests {
    /// The largest row count any scan of workflow_instances produced in a JSON plan.
    static func instanceRowsRead(_ plan: Any) -> Int {
        guard let node = plan as? [String: Any] else { return (plan as? [Any])?.map(instanceRowsRead).max() ?? 0 }
        let own = node["Relation Name"] as? String == "workflow_instances" ? (node["Actual Rows"] as? Int ?? 0) : 0
        return max(own, node.values.map(instanceRowsRead).max() ?? 0)
    }

    @Test("the generic plan looks up each contact's live instance instead of reading the workflow's 5,000")
    func aStartReadsOnlyItsContactsInstances() async throws {
        let engine = try await Engine.make("enrollplan", workflows: [WorkerProcessTests.flow])
        defer { Task { await engine.close() } }
        _ = try await engine.store.enroll((0..<5000).map { EnrollmentRequest(contact: "L-\($0)") }, in: "flow", notify: false)
        _ = try await engine.rows("ANALYZE contacts, workflow_instances")
        let plan: String = try await engine.store.pool.withConnection { connection in
            try await connection.simpleQuery("SET plan_cache_mode = force_generic_plan")
            try await connection.executeScript(
                "PREPARE enroll_generic(text, int, text, text[], jsonb[], bool, bool) AS " + Store.enrollContacts.sql)
            // One contact with a live instance, one new: both branches run.
            let result = try await connection.query("""
                EXPLAIN (ANALYZE, FORMAT JSON)
                EXECUTE enroll_generic('flow', 1, 'route', ARRAY['L-7', 'NEW-1'], ARRAY['{}'::jsonb, '{}'::jsonb], false, true)
                """)
            try await connection.simpleQuery("DEALLOCATE enroll_generic; RESET plan_cache_mode")
            return try result[0].decode(String.self, at: 0)
        }
        let read = Self.instanceRowsRead(try JSONSerialization.jsonObject(with: Data(plan.utf8)))
        #expect(read <= 2, "\(plan)")
    }
}
