@testable import Baton
import BatonCore
import BatonTesting
import Foundation
import Postgres
import Testing

/// A claim reads only due rows, however many instances wait for a later deadline: checked on the
/// generic plan PostgreSQL uses for the prepared claim after five executions, not with a stopwatch
/// (issue 18: claim latency with a million waiting instances within 1.5× of ten thousand).
@Suite("Claim plan")
struct ClaimPlanTests {
    @Test("the generic plan's index scans stop at the first row not due, not after every waiting one")
    func aClaimReadsOnlyDueRows() async throws {
        let engine = try await Engine.make("claimplan", workflows: [WorkerProcessTests.flow])
        defer { Task { await engine.close() } }
        _ = try await engine.store.enroll((0..<3000).map { EnrollmentRequest(contact: "W-\($0)") }, in: "flow", notify: false)
        // 3,000 waiting tomorrow, nothing due.
        _ = try await engine.rows("""
            UPDATE workflow_instances SET state = 'waiting', wait_event = 'never', run_at = now() + interval '1 day',
                deadline = now() + interval '1 day'
            """)
        _ = try await engine.rows("ANALYZE workflow_instances")
        let plan: String = try await engine.store.pool.withConnection { connection in
            try await connection.simpleQuery("SET plan_cache_mode = force_generic_plan")
            try await connection.executeScript(
                "PREPARE claim_generic(timestamptz, text, int, bigint) AS " + Store.claimInstances.sql)
            try await connection.simpleQuery("BEGIN")
            let result = try await connection.query("EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE claim_generic(NULL, 'plan-test', 100, 30000)")
            try await connection.simpleQuery("ROLLBACK; DEALLOCATE claim_generic; RESET plan_cache_mode")
            return try result[0].decode(String.self, at: 0)
        }
        let read = EnrollPlanTests.instanceRowsRead(try JSONSerialization.jsonObject(with: Data(plan.utf8)))
        #expect(read <= 1, "\(plan)")
    }
}
