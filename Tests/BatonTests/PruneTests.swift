import Baton
import BatonCore
import BatonTesting
import Foundation
import Testing

/// `prune` and `contacts erase` against a real database.
@Suite("Prune and erase")
struct PruneTests {
    static let flow = """
        name: flow
        start: route
        steps:
          route:
            assign: { team: sales, strategy: round_robin }
            next: tell
          tell:
            notify: { to: [owner], message: "{{contact.id}} is yours" }
            next: wait
          wait:
            wait_for_sla: { event: touch, within: 10m }
            on_met: done
            on_breach: done
          done:
            end: {}
        """

    @Test("prune deletes old finished instances with their events, consumed signals and delivered outbox rows; history stays")
    func prune() async throws {
        let engine = try await Engine.make("prune", workflows: [Self.flow])
        defer { Task { await engine.close() } }
        _ = try await engine.store.enroll((0..<30).map { EnrollmentRequest(contact: "P-\($0)") }, in: "flow")
        try await engine.drain()
        for i in 0..<20 { _ = try await engine.store.signal("touch", contact: "P-\(i)", payload: nil) }
        try await engine.drain()
        #expect(try await engine.scalar("SELECT count(*) FROM workflow_instances WHERE state = 'completed'") == 20)
        _ = try await engine.rows("UPDATE outbox SET status = 'delivered', delivered_at = now()")
        // 15 of the 20 finished a day ago; one of those still has a delivery to make.
        _ = try await engine.rows("UPDATE workflow_instances SET finished_at = now() - interval '1 day' WHERE state = 'completed' AND contact IN (SELECT 'P-' || g FROM generate_series(0, 14) g)")
        _ = try await engine.rows("UPDATE outbox SET status = 'pending', delivered_at = NULL WHERE contact = 'P-0'")
        let history: Int = try await engine.scalar("SELECT count(*) FROM ownership_history")
        let dry = try await engine.store.prune(olderThan: 3600, dryRun: true)
        #expect(dry.instances == 14)
        #expect(try await engine.scalar("SELECT count(*) FROM workflow_instances") == 30)
        let done = try await engine.store.prune(olderThan: 3600, batchSize: 4, dryRun: false)
        #expect(done.instances == 14 && done.events == dry.events && done.signals == 14 && done.outbox == 14 && done.batches == 4)
        #expect(try await engine.scalar("SELECT count(*) FROM workflow_instances") == 16)
        #expect(try await engine.scalar("SELECT count(*) FROM instance_events e WHERE NOT EXISTS (SELECT 1 FROM workflow_instances i WHERE i.id = e.instance)") == 0)
        #expect(try await engine.scalar("SELECT count(*) FROM ownership_history") == history)
        #expect(try await engine.store.prune(olderThan: 3600, dryRun: false).instances == 0)
    }

    @Test("prune deletes delivered CRM write-backs and owner.changed rows by the same age, and inbound event ids past the retry window")
    func pruneCRMBookkeeping() async throws {
        let hubspot = try await FakeCRM(.hubspot, token: CRMWriteBackTests.hubSpotToken)
        let receiver = try await HTTPReceiver()
        let engine = try await CRMWriteBackTests.engine("prunecrm", hubspot: hubspot, hook: receiver.url)
        defer { Task { await engine.close(); try? await hubspot.stop(); try? await receiver.stop() } }
        let source = try await CRMWriteBackTests.ownerSource(engine)
        for i in 1...6 { _ = try await engine.start("lead", "\(700 + i)") }
        try await engine.drain()
        // Admin reassignments: a write-back and an owner.changed event each, of no instance.
        for i in 1...6 {
            let owner: String = try await engine.scalar("SELECT owner FROM contacts WHERE id = $1", ["\(700 + i)"])
            try await engine.store.reassignByHand(contact: "\(700 + i)", to: owner == "m3" ? "m2" : "m3", reason: "key", by: "ops")
        }
        try await CRMWriteBackTests.relay(engine).run()
        #expect(try await engine.scalar("SELECT count(*) FROM outbox WHERE instance IS NULL AND status = 'delivered'") == 12)
        _ = try await engine.store.ingest((1...5).map {
            InboundEvent(id: "ev-\($0)", type: "contact.propertyChange", contact: "70\($0)", property: "city", value: "Bonn")
        }, from: source)
        #expect(try await engine.scalar("SELECT count(*) FROM inbound_events") == 5)
        // One more write-back is still pending: it stays whatever its age.
        let owner701: String = try await engine.scalar("SELECT owner FROM contacts WHERE id = '701'")
        let next701 = owner701 == "m1" ? "m2" : "m1"
        try await engine.store.reassignByHand(contact: "701", to: next701, reason: "back", by: "ops")
        _ = try await engine.rows("UPDATE outbox SET created_at = now() - interval '10 days', delivered_at = now() - interval '2 days' WHERE instance IS NULL")
        // Two event ids are 2 days old, two 4 days, one new.
        _ = try await engine.rows("UPDATE inbound_events SET received_at = now() - interval '2 days' WHERE event_id IN ('ev-1', 'ev-2')")
        _ = try await engine.rows("UPDATE inbound_events SET received_at = now() - interval '4 days' WHERE event_id IN ('ev-3', 'ev-4')")

        let young = try await engine.store.prune(olderThan: 3 * 86_400, dryRun: true)
        #expect(young.write_backs == 0 && young.inbound_events == 2)
        let dry = try await engine.store.prune(olderThan: 3600, dryRun: true)
        #expect(dry.write_backs == 12)
        #expect(dry.inbound_events == 2, "ids are kept 3 days whatever the age")
        #expect(try await engine.scalar("SELECT count(*) FROM outbox") == 20)
        let done = try await engine.store.prune(olderThan: 3600, batchSize: 5, dryRun: false)
        #expect(done.write_backs == 12 && done.inbound_events == 2)
        #expect(try await engine.scalar("SELECT count(*) FROM outbox WHERE instance IS NULL") == 2)
        #expect(try await engine.scalar("SELECT count(*) FROM outbox WHERE instance IS NULL AND status IN ('pending', 'delivering')") == 2)
        #expect(try await engine.scalar("SELECT string_agg(event_id, ',' ORDER BY event_id) FROM inbound_events") == "ev-1,ev-2,ev-5")
        // The contacts' CRM bookkeeping (what HubSpot holds) stays: echoes are still recognised.
        #expect(try await engine.scalar("SELECT count(*) FROM crm_owners") == 6)
        #expect(try await engine.store.prune(olderThan: 3600, dryRun: false).write_backs == 0)
        // The pending ones are still delivered.
        try await CRMWriteBackTests.relay(engine).run()
        #expect(hubspot.owners["701"] == (next701 == "m1" ? "101" : "102"))
    }

    @Test("erase cancels live instances, deletes signals, redacts messages and empties attributes; the history stays")
    func erase() async throws {
        let engine = try await Engine.make("erase", workflows: [Self.flow])
        defer { Task { await engine.close() } }
        let id = try await engine.start("flow", "E-1", ["email": "person@example.com", "name": "A Person"])
        try await engine.drain()
        _ = try await engine.store.signal("other", contact: "E-1", payload: #"{"note": "private"}"#)
        let report = try await engine.store.eraseContact("E-1", by: "privacy-officer")
        #expect(report.cancelled == 1)
        #expect(report.signals == 1)
        #expect(report.messages == 1)
        #expect(try await engine.state(id).state == "cancelled")
        #expect(try await engine.scalar("SELECT attributes::text FROM contacts WHERE id = 'E-1'") == "{}")
        #expect(try await engine.scalar("SELECT count(*) FROM outbox WHERE message LIKE '%E-1%'") == 0)
        #expect(try await engine.scalar("SELECT count(*) FROM ownership_history WHERE contact = 'E-1'") == 1)
        await #expect(throws: BatonError.self) { try await engine.store.eraseContact("nobody", by: "x") }
    }
}
