import BatonCore

/// What a committed batch adds to `BatonMetrics`: steps by kind and outcome, SLAs met and breached,
/// escalations, handoffs, and the commits the fence refused.
enum WorkerMetrics {
    static func record(_ outcome: LockedCommit, definitions: [String: WorkflowDefinition], workflows: [Int: String]) {
        BatonMetrics.fencingRejections(outcome.lost.count)
        for advance in outcome.advances {
            let definition = workflows[advance.instance].flatMap { definitions[$0] }
            for event in advance.events {
                if event.fromState == .waiting {
                    // A wait woken: by its signal in time, or by its deadline.
                    if event.detail.hasPrefix("sla_met") { BatonMetrics.sla(met: true) }
                    if event.detail.hasPrefix("sla_breached") { BatonMetrics.sla(met: false) }
                    continue
                }
                let kind = definition?.step(event.step)?.action.kind ?? "unknown"
                BatonMetrics.step(kind: kind, outcome: stepOutcome(event.toState))
                if kind == "escalate" && event.toState != .failed && event.toState != .ready { BatonMetrics.escalation() }
                if kind == "handoff" && event.toState != .failed && event.toState != .ready { BatonMetrics.handoff() }
            }
        }
    }

    static func stepOutcome(_ state: InstanceState) -> String {
        switch state {
        case .waiting: return "waiting"
        case .failed: return "failed"
        case .ready: return "retried"
        case .cancelled: return "cancelled"
        default: return "ok"
        }
    }
}
