import ArgumentParser
import Baton
import BatonCore
import Foundation

struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Outcomes: started, completed, active; SLA met and breached per wait step; escalations; handoffs; speed to lead; load per owner; coverage.",
        discussion: """
            With --by owner or --by team: per owner (team) records assigned, first-touch time p50/p90, SLA met \
            and breached, escalations received and caused, conversions (--conversion-signal, its payload's \
            amount summed as revenue), and for retention teams retained and churned (--churn-signal).

            With --by stage: per lifecycle stage reached, the instances (of --workflow, or all), completed, \
            active, failed, cancelled, SLA met and breached, escalations and handoffs. The stage reached is \
            the record's stage when the instance ended (a handoff's stage in its last step counts), or its \
            stage now while the instance runs; "-" is no stage.

            Examples:
              batonctl stats --workflow inbound-lead --since 7d --json
              batonctl stats --by owner --since 30d --conversion-signal closed_won
              batonctl stats --by stage --workflow inbound-lead
            """)

    @OptionGroup var database: DatabaseOptions
    @Option(help: "Only this workflow.") var workflow: String?
    @Option(help: "Only instances enrolled within this long, e.g. 24h, 7d (default: all).") var since: String?
    @Option(help: "Break outcomes down by owner, team or lifecycle stage reached: owner | team | stage.") var by: String?
    @Option(help: "With --by: the signal that counts as a conversion (its payload's amount is revenue).")
    var conversionSignal = "purchased"
    @Option(help: "With --by: the signal that counts as churn for retention owners.") var churnSignal = "churned"
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        if let since, parseSpan(since) == nil { throw ValidationError("--since: bad duration \(since) (e.g. 90s, 15m, 4h, 3d)") }
        if let by, by != "stage", AttributionGrouping(rawValue: by) == nil { throw ValidationError("--by: owner, team or stage, not \(by)") }
        if let by, by != "stage", workflow != nil { throw ValidationError("--by \(by) counts every workflow; leave out --workflow") }
    }

    func run() async throws {
        let from = since.flatMap(parseSpan).map { Date().addingTimeInterval(-$0) } ?? Date(timeIntervalSince1970: 0)
        let store = try database.store(connections: 1)
        if by == "stage" {
            let stats = try await store.statsByStage(workflow: workflow, since: from)
            await store.pool.close()
            if json { try printJSON(stats); return }
            if stats.rows.isEmpty { print("no instances\(workflow.map { " of \($0)" } ?? "") yet"); return }
            print(table(["STAGE", "INSTANCES", "COMPLETED", "ACTIVE", "FAILED", "CANCELLED", "SLA MET", "BREACHED", "ESCALATIONS", "HANDOFFS"],
                        stats.rows.map {
                            [$0.stage ?? "-", String($0.instances), String($0.completed), String($0.active), String($0.failed),
                             String($0.cancelled), String($0.sla_met), String($0.sla_breached), String($0.escalations), String($0.handoffs)]
                        }))
            print("stage reached: \(stats.stage_reached)")
            return
        }
        if let grouping = by.flatMap(AttributionGrouping.init(rawValue:)) {
            let stats = try await store.attribution(
                by: grouping, since: from, conversionSignal: conversionSignal, churnSignal: churnSignal)
            await store.pool.close()
            if json { try printJSON(stats); return }
            func seconds(_ value: Double?) -> String { value.map { String(format: "%.0fs", $0) } ?? "-" }
            func count(_ value: Int?) -> String { value.map(String.init) ?? "-" }
            print(table(
                [grouping == .owner ? "MEMBER" : "TEAM", "TEAM", "ASSIGNED", "TOUCH P50", "TOUCH P90", "SLA MET", "BREACHED",
                 "ESC IN", "ESC OUT", "CONVERSIONS", "REVENUE", "RETAINED", "CHURNED"],
                stats.rows.map {
                    [$0.member ?? $0.team, $0.team, String($0.assigned), seconds($0.first_touch_p50_s), seconds($0.first_touch_p90_s),
                     String($0.sla_met), String($0.sla_breached), String($0.escalations_received), String($0.escalations_caused),
                     String($0.conversions), String(format: "%.2f", $0.revenue), count($0.retained), count($0.churned)]
                }))
            return
        }
        let stats = try await store.stats(workflow: workflow, since: from)
        await store.pool.close()
        if json { try printJSON(stats); return }
        if stats.workflows.isEmpty { print("no instances\(workflow.map { " of \($0)" } ?? "") yet") }
        for w in stats.workflows {
            print("\(w.workflow): started \(w.started), completed \(w.completed), active \(w.active), failed \(w.failed), cancelled \(w.cancelled)")
            for (step, sla) in w.sla.sorted(by: { $0.key < $1.key }) {
                print("  sla \(step): met \(sla.met), breached \(sla.breached) (\(Int((sla.breach_rate * 100).rounded()))% breached)"
                      + (sla.breaches_avoided_by_pauses > 0 ? "; \(sla.breaches_avoided_by_pauses) met only thanks to pauses" : ""))
            }
            if w.pauses > 0 {
                print("  sla pauses \(w.pauses) (\(w.paused_now) paused now), paused \(TimeSpan(seconds: Int(w.paused_s.rounded())).description) "
                      + "on the waits' clocks, breaches avoided by pauses \(w.breaches_avoided_by_pauses)")
            }
            print("  escalations \(w.escalations), handoffs \(w.handoffs)")
            if let p50 = w.speed_to_lead_p50_s, let p90 = w.speed_to_lead_p90_s {
                print(String(format: "  speed to lead: p50 %.1fs, p90 %.1fs", p50, p90))
            }
        }
        print("")
        print(table(["MEMBER", "TEAM", "OPEN", "ASSIGNED"], stats.owners.map { [$0.member, $0.team, String($0.open), String($0.assigned_total)] }))
        print(String(format: "coverage: %.0f%% of contacts have an active owner", stats.coverage * 100))
    }
}

/// `90s`, `15m`, `4h`, `3d` in seconds (the workflow files' duration syntax).
func parseSpan(_ text: String) -> TimeInterval? {
    TimeSpan(parsing: text).map { TimeInterval($0.seconds) }
}
