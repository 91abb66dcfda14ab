import Baton
import BatonCore
import BatonTesting
import Foundation
import Postgres
import Testing

/// Eight workers assigning at once must share the rotation fairly: positions come from the team's
/// cursor in blocks taken atomically, so no two workers hand out the same position.
@Suite("Routing is fair under parallel workers", .serialized)
struct RoutingFairnessTests {
    static let weightedTeams = """
        teams:
          - name: sales
            kind: sales
            members:
              - { id: m1, name: One, weight: 1 }
              - { id: m2, name: Two, weight: 2 }
              - { id: m3, name: Three, weight: 3 }
              - { id: m4, name: Four, weight: 1 }
              - { id: m5, name: Five, weight: 4 }
              - { id: m6, name: Six, weight: 2 }
              - { id: m7, name: Seven, weight: 0 }
        """

    static func workflow(_ strategy: String) -> String {
        """
        name: route
        start: assign
        steps:
          assign:
            assign: { team: sales, strategy: \(strategy) }
            next: done
          done:
            end: {}
        """
    }

    /// Enrolls 8 × 1,000 contacts and lets 8 workers with small batches assign them concurrently.
    func assignInParallel(_ engine: Engine) async throws -> [String: Int] {
        var index = 0
        while index < 8000 {
            _ = try await engine.store.enroll((index..<index + 1000).map { EnrollmentRequest(contact: "C-\($0)") }, in: "route")
            index += 1000
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<8 {
                group.addTask {
                    let worker = Worker(store: engine.store, configuration: WorkerConfiguration(
                        id: "assigner-\(n)", concurrency: 1, batchSize: 20, pollInterval: .milliseconds(50), untilIdle: true))
                    try await worker.run()
                }
            }
            try await group.waitForAll()
        }
        #expect(try await engine.scalar("SELECT count(*) FROM workflow_instances WHERE state = 'completed'") == 8000)
        #expect(try await engine.scalar("SELECT count(DISTINCT worker) FROM instance_events") > 1)
        var counts: [String: Int] = [:]
        for row in try await engine.rows("SELECT to_owner, count(*) FROM ownership_history GROUP BY 1") {
            counts[try row.decode(String.self, at: 0)] = try row.decode(Int.self, at: 1)
        }
        // Exactly one history row per assignment.
        #expect(counts.values.reduce(0, +) == 8000)
        return counts
    }

    @Test func roundRobinSpreadIsAtMostOne() async throws {
        let engine = try await Engine.make("fairrr", workflows: [Self.workflow("round_robin")])
        defer { Task { await engine.close() } }
        let counts = try await assignInParallel(engine)
        let sales = counts.filter { $0.key.hasPrefix("m") }
        #expect(sales.count == 7)
        #expect(sales.values.max()! - sales.values.min()! <= 1, "round robin counts \(sales.sorted { $0.key < $1.key })")
    }

    @Test func weightedSharesAreWithinTwoPercentOfTheWeights() async throws {
        let engine = try await Engine.make("fairweighted", teams: Self.weightedTeams, workflows: [Self.workflow("weighted")])
        defer { Task { await engine.close() } }
        let counts = try await assignInParallel(engine)
        let weights = ["m1": 1, "m2": 2, "m3": 3, "m4": 1, "m5": 4, "m6": 2, "m7": 0]
        let total = Double(weights.values.reduce(0, +))
        for (member, weight) in weights {
            let expected = 8000 * Double(weight) / total
            let got = Double(counts[member] ?? 0)
            #expect(abs(got - expected) <= 0.02 * expected + 1, "\(member): \(got) vs \(expected)")
        }
        #expect(counts["m7"] == nil)  // weight 0 gets no weighted work
    }
}

@Suite("Capacity holds under parallel workers", .serialized)
struct CapacityTests {
    static let teams = """
        teams:
          - name: retention
            kind: retention
            members:
              - { id: r1, name: One, capacity: 50 }
              - { id: r2, name: Two, capacity: 30 }
              - { id: r3, name: Three, capacity: 20 }
        """
    static let workflow = """
        name: keep
        start: assign
        steps:
          assign:
            assign: { team: retention, strategy: least_loaded, fallback: queue }
            next: wait
          wait:
            wait_for_sla: { event: churned, within: 1h }
            on_met: done
            on_breach: done
          done:
            end: {}
        """

    @Test func leastLoadedNeverPutsAMemberAboveCapacity() async throws {
        let engine = try await Engine.make("capacity", teams: Self.teams, workflows: [Self.workflow])
        defer { Task { await engine.close() } }
        _ = try await engine.store.enroll((0..<300).map { EnrollmentRequest(contact: "C-\($0)") }, in: "keep")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<8 {
                group.addTask {
                    let worker = Worker(store: engine.store, configuration: WorkerConfiguration(
                        id: "w\(n)", concurrency: 1, batchSize: 10, pollInterval: .milliseconds(50), untilIdle: true))
                    try await worker.run()
                }
            }
            try await group.waitForAll()
        }
        var open: [String: Int] = [:]
        for row in try await engine.rows("SELECT owner, count(*) FROM contacts WHERE owner IS NOT NULL GROUP BY 1") {
            open[try row.decode(String.self, at: 0)] = try row.decode(Int.self, at: 1)
        }
        #expect(open == ["r1": 50, "r2": 30, "r3": 20])
        // The rest wait unowned in the team's queue, every one of them waiting, none lost.
        #expect(try await engine.scalar("SELECT count(*) FROM contacts WHERE owner IS NULL AND queued_since IS NOT NULL") == 200)
        #expect(try await engine.scalar("SELECT count(*) FROM workflow_instances WHERE state = 'waiting'") == 300)
        // Ownership history: exactly one row per change (100 assignments, 200 queued).
        #expect(try await engine.scalar("SELECT count(*) FROM ownership_history WHERE to_owner IS NOT NULL") == 100)
    }
}
