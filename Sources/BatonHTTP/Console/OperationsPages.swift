import Baton
import Foundation
import Hummingbird

/// `/stuck` (grouped by reason, each with its detail and the fix as a button) and `/outbox`
/// (pending and dead deliveries by channel with the last error; retry one or all dead).
struct OperationsPages {
    let store: Store
    let renderer: ConsoleRenderer

    func register(on group: RouterGroup<ConsoleContext>) {
        group.get("stuck", use: stuck)
        group.get("outbox", use: outbox)
        group.post("outbox/{id}/retry", use: retryOne)
        group.post("outbox/retry", use: retryAll)
    }

    static let reasons: [(String, String)] = [
        ("failed", "Failed: retries exhausted"), ("lease_expired", "Lease expired: a worker stopped holding it"),
        ("overdue", "Overdue: due but no worker ran it"), ("unowned", "Unowned: nobody was eligible"),
        ("delivery_failed", "Delivery failed: a notification is dead"), ("orphaned_version", "Orphaned version"),
    ]

    /// Each reason shows its count and its oldest `shownPerReason`; the rest are a link to the list.
    static let shownPerReason = 50

    @Sendable func stuck(_ request: Request, context: ConsoleContext) async throws -> Response {
        let found = try await store.stuckGroups(olderThan: 30, limit: Self.shownPerReason)
        let members = try await store.teamMembers().flatMap(\.members).filter(\.active)
        let memberOptions = members.map { ["id": $0.id, "label": "\($0.id) — \($0.name) (\($0.team))"] }
        let groups: [[String: Any]] = Self.reasons.compactMap { reason, title in
            guard let group = found.first(where: { $0.reason == reason }) else { return nil }
            return [
                "reason": reason, "title": title, "count": Self.count(group.count, capped: group.capped),
                "more": group.capped || group.count > group.items.count,
                "shown": group.items.count, "listLink": Self.listLink(reason),
                "rows": group.items.map { item -> [String: Any] in
                    var row: [String: Any] = [
                        "instance": (item.instance.isEmpty ? nil : item.instance) as Any, "workflow": item.workflow, "contact": item.contact,
                        "contactLink": (item.contact.isEmpty ? nil : "/contacts/\(FormData.encode(item.contact))") as Any,
                        "since": ConsoleFormat.time(item.since) as Any,
                        "detail": item.detail, "suggestion": item.suggestion, "isRetry": item.reason == "failed",
                        "isReassign": item.reason == "unowned", "isDelivery": item.reason == "delivery_failed",
                        "members": memberOptions,
                    ]
                    // "outbox 12 via …": the delivery's id, for its retry button.
                    if item.reason == "delivery_failed", let id = item.detail.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) {
                        row["outboxID"] = id
                    }
                    return row
                },
            ]
        }
        let total = found.reduce(0) { $0 + $1.count }
        let data: [String: Any] = [
            "groups": groups, "none": groups.isEmpty,
            "total": Self.count(total, capped: found.contains(where: \.capped)),
        ]
        return await renderer.page("stuck", title: "Stuck", data, request: request, context: context)
    }

    private static func count(_ n: Int, capped: Bool) -> String { capped ? "more than \(n)" : String(n) }

    /// Where the whole of a reason's list is: the instance list filtered the same way, or the dead outbox.
    private static func listLink(_ reason: String) -> String {
        switch reason {
        case "failed": return ConsoleFormat.link("/instances", [("state", "failed")])
        case "lease_expired": return ConsoleFormat.link("/instances", [("state", "running")])
        case "delivery_failed": return ConsoleFormat.link("/outbox", [("state", "dead")])
        default: return ConsoleFormat.link("/instances", [("sort", "run_at")])
        }
    }

    static let outboxStates = ["pending", "delivering", "delivered", "dead", "suppressed"]
    /// Each state lists its newest deliveries, at most this many (the counts are complete).
    static let shownPerState = 50

    @Sendable func outbox(_ request: Request, context: ConsoleContext) async throws -> Response {
        let q = FormData(parsing: request.uri.query ?? "")
        if let state = q["state"], !Self.outboxStates.contains(state) {
            throw ConsoleError.invalid("state must be one of \(Self.outboxStates.joined(separator: ", "))")
        }
        let states = q["state"].map { [$0] } ?? ["pending", "delivering", "dead"]
        var messages: [OutboxMessage] = []
        for state in states { messages += try await store.outbox(status: state, limit: Self.shownPerState) }
        // Counted in full (by index), while each state lists its newest rows only.
        let backlog = try await store.outboxCountsByChannel()
        let channels = Set(messages.map(\.channel)).sorted()
        let deadCount = backlog.values.reduce(0) { $0 + ($1["dead"] ?? 0) }
        let data: [String: Any] = [
            "states": Self.outboxStates.map { ["value": $0, "selected": q["state"] == $0, "link": "/outbox?state=\($0)"] },
            "filtered": q["state"] != nil,
            "deadCount": deadCount,
            "anyDead": deadCount > 0,
            "shownPerState": Self.shownPerState,
            "channels": channels.map { channel -> [String: Any] in
                let rows = messages.filter { $0.channel == channel }
                let counts = backlog[channel] ?? [:]
                let waiting = (counts["pending"] ?? 0) + (counts["delivering"] ?? 0)
                return [
                    "channel": channel,
                    "pending": waiting,
                    "dead": counts["dead"] ?? 0,
                    "more": states.contains { state in rows.filter { $0.status == state }.count >= Self.shownPerState },
                    "rows": rows.map { m -> [String: Any] in
                        ["id": m.id, "status": m.status, "isDead": m.status == "dead", "recipient": m.target ?? "–",
                         "instance": m.instance as Any, "step": m.step ?? "", "attempts": m.attempts,
                         "lastError": m.last_error ?? "", "message": m.message,
                         "next": ConsoleFormat.time(m.next_attempt_at) as Any, "created": ConsoleFormat.time(m.created_at) as Any]
                    },
                ]
            },
            "empty": messages.isEmpty,
        ]
        return await renderer.page("outbox", title: "Outbox", data, request: request, context: context)
    }

    @Sendable func retryOne(_ request: Request, context: ConsoleContext) async throws -> Response {
        _ = try context.require(.admin, to: "retrying a delivery")
        let text = context.parameters.get("id") ?? ""
        guard let id = Int(text), id > 0 else { throw ConsoleError.notFound("there is no delivery \(text)") }
        let back = context.form["return_to"] ?? "/outbox"
        let retried = try await store.retryOutbox(id: id)
        return retried.isEmpty
            ? ConsoleRenderer.redirect(back, error: "Delivery \(id) is not dead (or does not exist); only dead deliveries are retried.")
            : ConsoleRenderer.redirect(back, notice: "Delivery \(id) will be sent again.")
    }

    @Sendable func retryAll(_ request: Request, context: ConsoleContext) async throws -> Response {
        _ = try context.require(.admin, to: "retrying deliveries")
        let retried = try await store.retryOutbox(id: nil)
        return ConsoleRenderer.redirect(context.form["return_to"] ?? "/outbox", notice: "\(retried.count) dead deliver\(retried.count == 1 ? "y" : "ies") will be sent again.")
    }
}
