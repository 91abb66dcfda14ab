import Baton
import BatonCore
import BatonTesting
import Foundation
import Testing

/// `stats --by owner|team` over a run with a met SLA, a breach escalated to the backup, two
/// purchases with amounts, a handoff to retention and one churn.
@Suite("Stats by owner")
struct StatsByOwnerTests {
    static let teams = """
        teams:
          - name: sales
            kind: sales
            manager: lead
            members:
              - { id: a, name: Member A, backup: b }
              - { id: b, name: Member B, backup: a }
          - name: leads
            kind: sales
            members:
              - { id: lead, name: Team Lead }
          - name: retention
            kind: retention
            members:
              - { id: r, name: Retention R }
        """

    static let flow = """
        name: attr
        start: route
        steps:
          route:
            assign: { team: sales, strategy: round_robin }
            next: touch
          touch:
            wait_for_sla: { event: first_touch, within: 1s }
            on_met: buy
            on_breach: escalate
          escalate:
            escalate: { reassign_to: backup }
            next: touch-again
          touch-again:
            wait_for_sla: { event: first_touch, within: 1h }
            on_met: buy
            on_breach: done
          buy:
            wait_for_sla: { event: purchased, within: 1h }
            on_met: to-retention
            on_breach: done
          to-retention:
            handoff: { team: retention, strategy: least_loaded, reason: purchased }
            next: done
          done:
            end: {}
        """

    @Test func outcomesAreAttributedToTheOwnerWhoHeldTheRecord() async throws {
        let engine = try await Engine.make("stats-by", teams: Self.teams, workflows: [Self.flow])
        defer { Task { await engine.close() } }
        _ = try await engine.start("attr", "X-1")
        _ = try await engine.start("attr", "X-2")
        // X-1's owner touches it in time (a touch before the wait begins counts, however slow the
        // machine); X-2's does not and it goes to the backup, who does.
        _ = try await engine.store.signal("first_touch", contact: "X-1", payload: nil)
        try await engine.drain()
        let first: String = try await engine.scalar("SELECT owner FROM contacts WHERE id = 'X-1'")
        let second = first == "a" ? "b" : "a"
        try await Task.sleep(for: .milliseconds(1500))
        try await engine.drain()
        #expect(try await engine.scalar("SELECT owner FROM contacts WHERE id = 'X-2'") == first)
        _ = try await engine.store.signal("first_touch", contact: "X-2", payload: nil)
        _ = try await engine.store.signal("purchased", contact: "X-1", payload: #"{"amount": 100}"#)
        _ = try await engine.store.signal("purchased", contact: "X-2", payload: #"{"amount": "50.5"}"#)
        try await engine.drain()
        _ = try await engine.store.signal("churned", contact: "X-1", payload: nil)

        let byOwner = try await engine.store.attribution(by: .owner, since: Date(timeIntervalSince1970: 0))
        func row(_ member: String) -> AttributionRow? { byOwner.rows.first { $0.member == member } }
        #expect(byOwner.rows.map(\.member) == ["lead", "r", "a", "b"].sorted { a, b in
            let team = ["lead": "leads", "r": "retention", "a": "sales", "b": "sales"]
            return (team[a]!, a) < (team[b]!, b)
        })
        let holder = try #require(row(first)), other = try #require(row(second)), keeper = try #require(row("r"))
        #expect(holder.assigned == 2 && other.assigned == 1 && keeper.assigned == 2)
        #expect(holder.escalations_received == 1 && holder.escalations_caused == 0)
        #expect(other.escalations_caused == 1 && other.escalations_received == 0)
        #expect(other.sla_breached == 1)
        #expect(holder.conversions == 2 && holder.revenue == 150.5)
        #expect(holder.first_touch_p50_s != nil && other.first_touch_p50_s == nil)
        #expect(keeper.retained == 1 && keeper.churned == 1)
        #expect(holder.retained == nil && holder.churned == nil)
        #expect(byOwner.rows.map(\.sla_met).reduce(0, +) == 4)

        let byTeam = try await engine.store.attribution(by: .team, since: Date(timeIntervalSince1970: 0))
        let sales = try #require(byTeam.rows.first { $0.team == "sales" })
        #expect(sales.member == nil)
        #expect(sales.assigned == 3 && sales.conversions == 2 && sales.revenue == 150.5)
        #expect(sales.escalations_received == 1 && sales.escalations_caused == 1 && sales.sla_breached == 1)
        #expect(byTeam.rows.first { $0.team == "retention" }?.churned == 1)

        // The command line prints the same, and refuses a bad --by.
        let environment = ["DATABASE_URL": engine.config.urlForChildren]
        let json = try await runProgram(try Engine.binary("batonctl"), ["stats", "--by", "team", "--json"], environment: environment)
        #expect(json.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any]
        #expect(object?["by"] as? String == "team")
        #expect((object?["rows"] as? [[String: Any]])?.count == 3)
        let text = try await runProgram(try Engine.binary("batonctl"), ["stats", "--by", "owner", "--conversion-signal", "purchased"],
                                        environment: environment)
        #expect(text.status == 0 && text.output.contains("CONVERSIONS") && text.output.contains("150.50"))
        #expect(try await runProgram(try Engine.binary("batonctl"), ["stats", "--by", "region"], environment: environment).status != 0)
    }
    /// `stats --workflow W` lists the members of the teams W routes to, not every team's.
    @Test func aWorkflowsStatsListOnlyTheMembersOfTheTeamsItRoutesTo() async throws {
        let engine = try await Engine.make("stats-members", teams: Self.teams, workflows: [Self.flow])
        defer { Task { await engine.close() } }
        let all = try await engine.store.stats(workflow: nil, since: Date(timeIntervalSince1970: 0))
        #expect(Set(all.owners.map(\.member)) == ["a", "b", "lead", "r"])
        let one = try await engine.store.stats(workflow: "attr", since: Date(timeIntervalSince1970: 0))
        #expect(Set(one.owners.map(\.member)) == ["a", "b", "r"])
        let unknown = try await engine.store.stats(workflow: "no-such-workflow", since: Date(timeIntervalSince1970: 0))
        #expect(unknown.owners.isEmpty)
    }
}
