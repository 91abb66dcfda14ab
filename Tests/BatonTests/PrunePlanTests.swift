import BatonTesting
import Foundation
import Testing

@testable import Baton

/// How a prune batch finds its rows. scripts/bench-prune at 1,000,000 finished instances showed a
/// batch checking each consumed signal against every instance left (is it still used elsewhere?):
/// minutes per batch of 1,000 (a nested loop over `= ANY`), then, with the contact in the
/// condition, still 4 s (a hash anti join over every instance). A signal is only ever consumed by
/// instances of its own contact (the claim reads `signals WHERE s.contact = i.contact`), so the
/// check needs only that contact's instances, through `workflow_instances_contact`.
@Suite("Prune plans")
struct PrunePlanTests {
    /// The scans of `table` in a JSON plan (EXPLAIN (FORMAT JSON)), each as its plan node.
    static func scans(of table: String, in node: [String: Any]) -> [[String: Any]] {
        var found = node["Relation Name"] as? String == table ? [node] : []
        for child in node["Plans"] as? [[String: Any]] ?? [] { found += scans(of: table, in: child) }
        return found
    }

    @Test("a prune batch checks a consumed signal against its own contact's instances only, by index")
    func signalCheckUsesTheContactIndex() async throws {
        let engine = try await Engine.make("pruneplan")
        defer { Task { await engine.close() } }
        // Without seq scans (as on a large table) and without nested loops: a join then has to read
        // every instance (at 1,000,000 instances the planner chose a hash anti join over all of them,
        // 4 s per batch); only a per-signal subplan still reads by the contact index.
        let text: String = try await engine.store.pool.transaction { connection in
            _ = try await connection.query("SET LOCAL enable_seqscan = off")
            _ = try await connection.query("SET LOCAL enable_nestloop = off")
            return try await connection.query("EXPLAIN (FORMAT JSON) " + Store.pruneBatch, [3600, 1000])[0].decode(String.self, at: 0)
        }
        let plan = try #require((try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])?.first?["Plan"] as? [String: Any])
        let others = Self.scans(of: "workflow_instances", in: plan).filter { $0["Alias"] as? String == "w" }
        #expect(!others.isEmpty, "the plan has no scan of workflow_instances w: \(text)")
        for scan in others {
            let condition = scan["Index Cond"] as? String ?? ""
            #expect(condition.contains("contact"), "workflow_instances w is read by \(scan["Node Type"] ?? "?") without a contact condition: \(condition)")
        }
    }
}
