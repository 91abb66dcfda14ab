import Baton
import Foundation
import Hummingbird

/// The overview (`/`) and the change stamp the pages poll (`/live`).
struct ConsoleController {
    let store: Store
    let renderer: ConsoleRenderer
    let cache: ConsoleCache

    func register(on group: RouterGroup<ConsoleContext>) {
        group.get("", use: overview)
        group.get("live", use: live)
    }

    /// `GET /live`: `{"stamp": "…"}`, which changes when anything was written; the script reloads a
    /// page's live parts when it does.
    @Sendable func live(_ request: Request, context: ConsoleContext) async throws -> Response {
        struct Stamp: Codable { var stamp: String }
        var response = JSON.response(Stamp(stamp: try await cache.changeStamp()))
        response.headers[.cacheControl] = "no-store"
        return response
    }

    @Sendable func overview(_ request: Request, context: ConsoleContext) async throws -> Response {
        let o = try await cache.current()
        let states: [[String: Any]] = instanceStates.map { state in
            ["state": state, "count": o.states[state] ?? 0, "link": ConsoleFormat.link("/instances", [("state", state)])]
        }
        let reasons = ["failed", "lease_expired", "overdue", "unowned", "delivery_failed", "orphaned_version"]
        let stuck: [[String: Any]] = reasons.map { reason in
            ["reason": reason, "count": "\(o.stuck[reason] ?? 0)\(o.stuckMore.contains(reason) ? "+" : "")", "link": "/stuck#\(reason)", "some": (o.stuck[reason] ?? 0) > 0]
        }
        let day = Dictionary(o.day.workflows.map { ($0.workflow, $0) }, uniquingKeysWith: { a, _ in a })
        let week = Dictionary(o.week.workflows.map { ($0.workflow, $0) }, uniquingKeysWith: { a, _ in a })
        func sla(_ stats: WorkflowStats?) -> (met: Int, breached: Int) {
            (stats?.sla.values.reduce(0) { $0 + $1.met } ?? 0, stats?.sla.values.reduce(0) { $0 + $1.breached } ?? 0)
        }
        let workflows: [[String: Any]] = o.allTime.workflows.map { all in
            let d = sla(day[all.workflow]), w = sla(week[all.workflow])
            let weekStats = week[all.workflow]
            return [
                "workflow": all.workflow, "link": "/workflows/\(FormData.encode(all.workflow))",
                "started": all.started, "completed": all.completed, "active": all.active, "failed": all.failed,
                "failedLink": ConsoleFormat.link("/instances", [("workflow", all.workflow), ("state", "failed")]),
                "met24": d.met, "breached24": d.breached, "rate24": ConsoleFormat.percent(d.breached, of: d.met + d.breached),
                "met7": w.met, "breached7": w.breached, "rate7": ConsoleFormat.percent(w.breached, of: w.met + w.breached),
                "p50": ConsoleFormat.duration(weekStats?.speed_to_lead_p50_s),
                "p90": ConsoleFormat.duration(weekStats?.speed_to_lead_p90_s),
                "escalations": weekStats?.escalations ?? 0, "handoffs": weekStats?.handoffs ?? 0,
            ]
        }
        let hourLabels = (0..<48).map { i -> String in
            let date = o.firstHour.addingTimeInterval(Double(i) * 3600)
            return String(ConsoleFormat.utc(date).dropFirst(11).prefix(2)) + "h"
        }
        let dayLabels = (0..<30).map { i -> String in
            String(ConsoleFormat.utc(o.firstDay.addingTimeInterval(Double(i) * 86400)).dropFirst(5).prefix(5))
        }
        let throughput = SVGChart.bars(
            title: "Instances started and completed per hour, last 48 hours (UTC)",
            series: [SVGChart.Series(name: "started", values: o.startedPerHour, cssClass: "s1"),
                     SVGChart.Series(name: "completed", values: o.completedPerHour, cssClass: "s2")],
            labels: hourLabels, tickEvery: 6)
        let breaches = SVGChart.bars(
            title: "SLA breaches per day, last 30 days (UTC)",
            series: [SVGChart.Series(name: "breaches", values: o.breachesPerDay, cssClass: "s3")],
            labels: dayLabels, tickEvery: 5)
        let data: [String: Any] = [
            "states": states, "dueNow": o.dueNow, "waiting": o.states["waiting"] ?? 0,
            "dueLink": ConsoleFormat.link("/instances", [("state", "ready")]),
            "waitingLink": ConsoleFormat.link("/instances", [("state", "waiting")]),
            "stuck": stuck, "stuckTotal": "\(o.stuck.values.reduce(0, +))\(o.stuckMore.isEmpty ? "" : "+")",
            "workflows": workflows, "hasWorkflows": !workflows.isEmpty,
            "throughputChart": throughput, "breachChart": breaches,
            "coverage": String(format: "%.1f%%", o.allTime.coverage * 100),
            "at": ConsoleFormat.time(o.at) as Any,
        ]
        return await renderer.page("overview", title: "Overview", data, request: request, context: context)
    }
}
