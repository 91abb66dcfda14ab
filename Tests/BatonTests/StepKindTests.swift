import Baton
import BatonCore
import BatonTesting
import Foundation
import Postgres
import Testing

@Suite("Step kinds run durably in Postgres")
struct StepKindTests {
    static let simple = """
        name: simple
        start: route
        steps:
          route:
            assign: { team: sales, strategy: round_robin }
            next: tell
          tell:
            notify: { to: [owner, manager], message: "{{contact.id}} is yours, {{owner.name}}" }
            next: pick
          pick:
            branch:
              cases:
                - when: { tier: enterprise }
                  next: big
              otherwise: small
          big:
            end: { outcome: big }
          small:
            end: { outcome: small }
        """

    @Test func assignNotifyBranchEndComplete() async throws {
        let engine = try await Engine.make("stepkinds", workflows: [Self.simple])
        defer { Task { await engine.close() } }
        let big = try await engine.start("simple", "C-1", ["tier": "enterprise"])
        let small = try await engine.start("simple", "C-2", ["tier": "smb"])
        try await engine.drain()
        #expect(try await engine.state(big) == ("completed", "big"))
        #expect(try await engine.state(small) == ("completed", "small"))
        let owner: String? = try await engine.scalar("SELECT owner FROM contacts WHERE id = 'C-1'")
        #expect(owner != nil)
        let history = try await engine.rows("SELECT to_owner, reason, instance FROM ownership_history WHERE contact = 'C-1'")
        #expect(history.count == 1)
        #expect(try history[0].decode(String.self, "reason") == "round_robin")
        #expect(try history[0].decode(Int.self, "instance") == big)
        let messages = try await engine.rows("SELECT recipient, message FROM outbox WHERE instance = $1 ORDER BY recipient", [big])
        #expect(try messages.map { try $0.decode(String.self, "recipient") } == ["lead", owner!].sorted())
        #expect(try messages[0].decode(String.self, "message").hasPrefix("C-1 is yours, "))
        let steps = try await engine.rows("SELECT step FROM instance_events WHERE instance = $1 ORDER BY seq", [big])
        #expect(try steps.map { try $0.decode(String.self, at: 0) } == ["route", "tell", "pick", "big"])
    }

    static let sla = """
        name: sla
        start: assign
        steps:
          assign:
            assign: { team: sales }
            next: wait
          wait:
            wait_for_sla: { event: first_touch, within: 1s }
            on_met: met
            on_breach: escalate
          escalate:
            escalate: { reassign_to: backup, notify: [manager, previous_owner], priority: high }
            next: breached
          met:
            end: { outcome: met }
          breached:
            end: { outcome: breached }
        """

    /// The same workflow with a deadline no slow machine reaches while a test looks at the wait
    /// (a 1 s wait could breach during a drain that takes longer than a second).
    static let slaLong = sla.replacingOccurrences(of: "within: 1s", with: "within: 10m")

    @Test func slaMetWhenTheSignalArrivesInTime() async throws {
        let engine = try await Engine.make("slamet", workflows: [Self.slaLong])
        defer { Task { await engine.close() } }
        let id = try await engine.start("sla", "C-1")
        try await engine.drain()
        #expect(try await engine.state(id) == ("waiting", "wait"))
        let woken = try await engine.store.signal("first_touch", contact: "C-1", payload: nil)
        #expect(woken.woken == 1)
        try await engine.drain()
        #expect(try await engine.state(id) == ("completed", "met"))
    }

    @Test func slaBreachedWhenTheDeadlinePassesEscalatesToTheBackup() async throws {
        let engine = try await Engine.make("slabreach", workflows: [Self.sla])
        defer { Task { await engine.close() } }
        let id = try await engine.start("sla", "C-1")
        try await engine.drain()
        // The first owner, from the history (on a slow machine the drain may already have breached the wait).
        let before: String = try await engine.scalar(
            "SELECT to_owner FROM ownership_history WHERE contact = 'C-1' ORDER BY id LIMIT 1")
        try await Task.sleep(for: .milliseconds(1200))
        try await engine.drain()
        #expect(try await engine.state(id) == ("completed", "breached"))
        let after: String = try await engine.scalar("SELECT owner FROM contacts WHERE id = 'C-1'")
        #expect(after != before)
        let reason: String = try await engine.scalar(
            "SELECT reason FROM ownership_history WHERE contact = 'C-1' ORDER BY id DESC LIMIT 1")
        #expect(reason == "sla_breach")
        #expect(try await engine.scalar("SELECT priority FROM workflow_instances WHERE id = $1", [id]) == 1)
        let notified: Int = try await engine.scalar("SELECT count(*) FROM outbox WHERE instance = $1", [id])
        #expect(notified == 2)  // manager and previous owner
    }

    @Test func aSignalBeforeTheWaitBeganCounts() async throws {
        let engine = try await Engine.make("early", workflows: [Self.slaLong])
        defer { Task { await engine.close() } }
        let id = try await engine.start("sla", "C-1")
        _ = try await engine.store.signal("first_touch", contact: "C-1", payload: #"{"by": "phone"}"#)
        try await engine.drain()
        #expect(try await engine.state(id) == ("completed", "met"))
    }

    @Test func aSignalFromBeforeEnrollmentDoesNotCount() async throws {
        let engine = try await Engine.make("stale", workflows: [Self.slaLong, Self.simple])
        defer { Task { await engine.close() } }
        _ = try await engine.start("simple", "C-1")
        try await engine.drain()
        _ = try await engine.store.signal("first_touch", contact: "C-1", payload: nil)
        try await Task.sleep(for: .milliseconds(20))
        let id = try await engine.start("sla", "C-1")
        try await engine.drain()
        #expect(try await engine.state(id) == ("waiting", "wait"))
    }

    @Test func businessHoursWaitUsesTheCalendar() async throws {
        let workflow = """
            name: bh
            start: wait
            steps:
              wait:
                wait_for_sla: { event: reply, within: 1s, clock: business_hours, calendar: always }
                on_met: done
                on_breach: late
              done:
                end: {}
              late:
                end: { outcome: late }
            """
        let engine = try await Engine.make("bh", workflows: [workflow])
        defer { Task { await engine.close() } }
        // The deadline arithmetic on a wait long enough that no slow drain reaches it: 60 business seconds.
        let long = workflow.replacingOccurrences(of: "name: bh", with: "name: bh-long").replacingOccurrences(of: "within: 1s", with: "within: 60s")
        _ = try await engine.store.applyWorkflow(
            try DefinitionLoader.workflow(from: long, file: "bh-long.yaml", known: try await engine.store.knownNames()),
            source: long, file: nil)
        let waiting = try await engine.start("bh-long", "C-0")
        try await engine.drain()
        let seconds: Double = try await engine.scalar(
            "SELECT extract(epoch FROM deadline - wait_started_at)::float8 FROM workflow_instances WHERE id = $1", [waiting])
        #expect(abs(seconds - 60) < 0.01)
        let id = try await engine.start("bh", "C-1")
        try await engine.drain()
        try await Task.sleep(for: .milliseconds(1200))
        try await engine.drain()
        #expect(try await engine.state(id) == ("completed", "late"))

        // A calendar open one minute a day: one business second is due at the next opening, not in 1 s.
        let narrow = workflow.replacingOccurrences(of: "name: bh", with: "name: bh2")
            .replacingOccurrences(of: "calendar: always", with: "calendar: one-minute")
        _ = try await engine.store.applyWorkflow(
            try DefinitionLoader.workflow(from: narrow, file: "bh2.yaml", known: try await engine.store.knownNames()),
            source: narrow, file: nil)
        let second = try await engine.start("bh2", "C-2")
        try await engine.drain()
        let row = try await engine.rows("""
            SELECT extract(epoch FROM wait_started_at)::float8 AS started, extract(epoch FROM deadline)::float8 AS due
            FROM workflow_instances WHERE id = $1
            """, [second])[0]
        let started = try row.decode(Double.self, "started"), due = try row.decode(Double.self, "due")
        let secondOfDay = started.truncatingRemainder(dividingBy: 86400)
        if secondOfDay < 59 {
            #expect(abs(due - started - 1) < 0.01)  // inside today's opening minute
        } else if secondOfDay >= 60 {  // (the last second of the opening minute splits the wait: not asserted)
            let nextOpening = (started - secondOfDay) + 86400
            #expect(abs(due - (nextOpening + 1)) < 0.01, "due \(due), next opening \(nextOpening)")
        }
    }

    @Test func handoffRoutesToTheOtherTeam() async throws {
        let workflow = """
            name: buy
            start: assign
            steps:
              assign:
                assign: { team: sales }
                next: wait
              wait:
                wait_for_sla: { event: purchased, within: 30d }
                on_met: retain
                on_breach: done
              retain:
                handoff: { team: retention, strategy: least_loaded, reason: purchased, notify: [new_owner, previous_owner] }
                next: done
              done:
                end: {}
            """
        let engine = try await Engine.make("handoff", workflows: [workflow])
        defer { Task { await engine.close() } }
        let id = try await engine.start("buy", "C-1")
        _ = try await engine.store.signal("purchased", contact: "C-1", payload: nil)
        try await engine.drain()
        #expect(try await engine.state(id) == ("completed", "done"))
        #expect(try await engine.scalar("SELECT team FROM contacts WHERE id = 'C-1'") == "retention")
        let reasons = try await engine.rows("SELECT reason FROM ownership_history WHERE contact = 'C-1' ORDER BY id")
        #expect(try reasons.map { try $0.decode(String.self, at: 0) } == ["round_robin", "handoff:purchased"])
    }

    @Test func aFailingStepRetriesThenFails() async throws {
        let workflow = """
            name: nobody
            start: assign
            steps:
              assign:
                assign: { team: empty, fallback: fail }
                max_attempts: 2
                next: done
              done:
                end: {}
            """
        let teams = Engine.sevenMembers + "\n  - name: empty\n    kind: other\n"
        let engine = try await Engine.make("failing", teams: teams, workflows: [workflow])
        defer { Task { await engine.close() } }
        let id = try await engine.start("nobody", "C-1")
        try await engine.drain()
        // Retry 1 is scheduled with backoff; a drain slower than that backoff may already have run it.
        if try await engine.state(id).state == "ready" {
            _ = try await engine.rows("UPDATE workflow_instances SET run_at = now() WHERE id = $1", [id])
            try await engine.drain()
        }
        #expect(try await engine.state(id) == ("failed", "assign"))
        // Two attempts: the first went back to ready (retry), the second failed the instance.
        let outcomes = try await engine.rows("SELECT to_state FROM instance_events WHERE instance = $1 AND step = 'assign' ORDER BY seq", [id])
        #expect(try outcomes.map { try $0.decode(String.self, at: 0) } == ["ready", "failed"])
        let error: String? = try await engine.scalar("SELECT last_error FROM workflow_instances WHERE id = $1", [id])
        #expect(error?.contains("nobody eligible") == true)
    }

    @Test func duplicateConcurrentStartsMakeOneInstance() async throws {
        let engine = try await Engine.make("dupstart", workflows: [Self.sla])
        defer { Task { await engine.close() } }
        let results = try await withThrowingTaskGroup(of: Enrollment.self) { group in
            for _ in 0..<10 {
                group.addTask { try await engine.store.enroll([EnrollmentRequest(contact: "C-1")], in: "sla")[0] }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(results.map(\.instance)).count == 1)
        #expect(results.filter(\.created).count == 1)
        #expect(try await engine.scalar("SELECT count(*) FROM workflow_instances") == 1)
    }
}
