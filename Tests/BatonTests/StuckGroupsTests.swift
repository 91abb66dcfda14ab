import Baton
import BatonCore
import BatonTesting
import Foundation
import Testing

/// The console's stuck page and overview read stuck work reason by reason: a count that stops at a
/// bound and the oldest few, so a million stuck instances cost no more than a hundred.
@Suite("Stuck work by reason")
struct StuckGroupsTests {
    @Test func eachReasonIsCountedUpToItsBoundWithItsOldestItems() async throws {
        let engine = try await Engine.make("stuckgroups", teams: AdminTests.teams, workflows: [AdminTests.failing])
        defer { Task { await engine.close() } }
        let ids = try await engine.store.enroll((0..<5).map { EnrollmentRequest(contact: "C-\($0)") }, in: "failing").map(\.instance)
        try await engine.drain()
        // Failed one minute apart, the first oldest.
        for (n, id) in ids.enumerated() {
            _ = try await engine.rows("UPDATE workflow_instances SET finished_at = now() - ($1 * interval '1 minute') WHERE id = $2",
                                      [10 - n, id])
        }
        let all = try await engine.store.stuckGroups(olderThan: 0, limit: 10)
        #expect(all.map(\.reason) == ["failed"])
        #expect(all[0].count == 5 && !all[0].capped)
        #expect(all[0].items.map(\.instance) == ids.map(String.init))

        let bounded = try await engine.store.stuckGroups(olderThan: 0, limit: 2, cap: 3)
        #expect(bounded[0].count == 3 && bounded[0].capped)
        #expect(bounded[0].items.map(\.instance) == ids.prefix(2).map(String.init))

        let countsOnly = try await engine.store.stuckGroups(olderThan: 0, limit: 0)
        #expect(countsOnly[0].count == 5 && countsOnly[0].items.isEmpty)
        // The full list (batonctl stuck, GET /v1/stuck) is unchanged.
        #expect(try await engine.store.stuck(olderThan: 0).map(\.instance) == ids.map(String.init))
    }

    @Test func aVersionThisBuildCannotLoadIsOneGroupWithTheFix() async throws {
        let engine = try await Engine.make("stuckorphans", workflows: [PoisonInstanceTests.broken, WorkerProcessTests.flow])
        defer { Task { await engine.close() } }
        let orphans = try await engine.store.enroll((0..<3).map { EnrollmentRequest(contact: "O-\($0)") }, in: "broken").map(\.instance)
        _ = try await engine.start("flow", "F-1")
        _ = try await engine.rows(#"UPDATE workflow_definitions SET spec = '{"nonsense": true}' WHERE name = 'broken'"#)

        let groups = try await engine.store.stuckGroups(olderThan: 3600, limit: 2)
        #expect(groups.map(\.reason) == ["orphaned_version"])
        #expect(groups[0].count == 3 && !groups[0].capped)
        #expect(groups[0].items.map(\.instance) == orphans.prefix(2).map(String.init))
        #expect(groups[0].items[0].detail == "broken v1 cannot be loaded by this version of Baton")
        #expect(groups[0].items[0].suggestion.hasPrefix("apply a new version, then batonctl instances migrate --workflow broken"))
        let listed = try await engine.store.stuck(olderThan: 3600)
        #expect(listed.map(\.instance) == orphans.map(String.init))
        #expect(Set(listed.map(\.reason)) == ["orphaned_version"])
    }

    @Test func aDeadDeliveryOfNoInstanceIsListedWithAnEmptyInstance() async throws {
        let engine = try await Engine.make("stuckdetached", workflows: [WorkerProcessTests.flow])
        defer { Task { await engine.close() } }
        // A scheduled report (no instance, workflow or contact) whose delivery died.
        _ = try await engine.rows("""
            INSERT INTO outbox (idempotency_key, channel, message, status, last_error)
            VALUES ('report-1', 'ops-email', 'weekly report', 'dead', 'SMTP 550 mailbox unavailable')
            """)
        let listed = try await engine.store.stuck(olderThan: 0)
        #expect(listed.map(\.reason) == ["delivery_failed"])
        #expect(listed.first?.instance == "" && listed.first?.workflow == "" && listed.first?.contact == "")
        #expect(listed.first?.detail.contains("via ops-email") == true)
        let groups = try await engine.store.stuckGroups(olderThan: 0, limit: 10)
        #expect(groups.first?.count == 1 && groups.first?.items.first?.instance == "")
    }

    @Test func aListingCountsItsMatchesUpToABound() async throws {
        let engine = try await Engine.make("countbound", workflows: [WorkerProcessTests.flow])
        defer { Task { await engine.close() } }
        _ = try await engine.store.enroll((0..<7).map { EnrollmentRequest(contact: "B-\($0)") }, in: "flow")
        var query = InstanceQuery()
        query.workflow = "flow"
        #expect(try await engine.store.countInstances(query) == 7)
        #expect(try await engine.store.countInstances(query, upTo: 5) == 6)
        #expect(try await engine.store.countInstances(query, upTo: 10) == 7)
    }
}
