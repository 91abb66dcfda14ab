import Baton
import BatonCore
import Foundation
import Hummingbird

/// `/instances` (filters in the query string, keyset pages, bulk retry/cancel with a confirmation)
/// and `/instances/{id}` (timeline, graph, attributes, owner history, repairs).
struct InstancesPages {
    let store: Store
    let renderer: ConsoleRenderer
    /// A listing counts its matches up to here ("more than 1,000").
    static let countBound = 1_000

    func register(on group: RouterGroup<ConsoleContext>) {
        group.get("instances", use: list)
        group.post("instances/retry", use: bulkRetry)
        group.post("instances/cancel", use: bulkCancel)
        group.get("instances/{id}", use: show)
        group.post("instances/{id}/retry", use: retry)
        group.post("instances/{id}/cancel", use: cancel)
        group.post("instances/{id}/resume", use: resume)
        group.post("instances/{id}/signal", use: signal)
    }

    /// The filters, by their API names.
    static let filterNames = InstanceQuery.filterNames

    /// The filters and sort of a form or query string (`order=desc` is the older spelling of `sort=-id`).
    static func query(_ form: FormData) throws -> InstanceQuery {
        var query = try InstanceQuery.parse { form[$0] }
        if form["sort"] == nil, form["order"] == "desc" { query.sort = .idDescending }
        return query
    }

    static func filterItems(_ form: FormData) -> [(String, String?)] { filterNames.map { ($0, form[$0]) } }

    /// The sortable columns: header text and the order a click on it asks for.
    static let sortColumns: [(column: String, label: String)] = [("id", "Id"), ("run_at", "Run at"), ("updated_at", "Updated")]

    @Sendable func list(_ request: Request, context: ConsoleContext) async throws -> Response {
        let q = FormData(parsing: request.uri.query ?? "")
        let filters = Self.filterItems(q)
        var query: InstanceQuery
        var problem: String?
        do {
            query = try Self.query(q)
            if let text = q["cursor"] {
                guard let cursor = InstanceCursor(text: text) else { throw ConsoleError.invalid("that page link is not valid any more") }
                query.after = cursor
            }
        } catch let error as BatonError {
            (query, problem) = (InstanceQuery(), error.description)
        } catch ConsoleError.invalid(let message) {
            (query, problem) = (InstanceQuery(), message)
        }
        query.limit = 50
        let sort = q["sort"] == nil && query.sort == .idDescending ? "-id" : q["sort"].flatMap { InstanceSort(rawValue: $0) }?.rawValue
        var page: InstancePage?
        var total = 0
        if problem == nil {
            do {
                page = try await store.instancePage(query)
                // Counted up to a bound: the exact number of a huge match is shown by the confirmation.
                total = try await store.countInstances(query, upTo: Self.countBound)
            } catch let error as BatonError {
                problem = error.description
            }
        }
        let workflows = try await store.workflowNames().sorted()
        let rows: [[String: Any]] = (page?.items ?? []).map { item -> [String: Any] in
            [
                "id": item.id, "workflow": item.workflow, "version": item.version, "contact": item.contact,
                "contactLink": "/contacts/\(FormData.encode(item.contact))", "state": item.state, "step": item.step,
                "owner": item.owner ?? "", "team": item.team ?? "", "priority": item.priority,
                "runAt": ConsoleFormat.time(item.run_at) as Any, "updatedAt": ConsoleFormat.time(item.updated_at) as Any,
            ]
        }
        let here = ConsoleFormat.link("/instances", filters + [("sort", sort), ("cursor", q["cursor"])])
        var data: [String: Any] = [
            "rows": rows, "total": total > Self.countBound ? "more than 1,000" : String(total), "shown": rows.count, "hasRows": !rows.isEmpty, "here": here,
            "filters": filters.map { ["name": $0.0, "value": $0.1 ?? ""] },
            "states": instanceStates.map { ["value": $0, "selected": q["state"] == $0] },
            "workflows": workflows.map { ["value": $0, "selected": q["workflow"] == $0] },
            "filtered": filters.contains { $0.1 != nil },
            "clearLink": "/instances",
            "sort": sort ?? "",
        ]
        for (key, (column, label)) in zip(["sortId", "sortRunAt", "sortUpdated"], Self.sortColumns) {
            data[key] = { () -> [String: Any] in
                // A click sorts by the column ascending, or flips it when the list is already sorted by it.
                let current = query.sort.column == column ? query.sort : nil
                let next = current.map { $0.reversed } ?? InstanceSort(rawValue: column)!
                return ["label": label, "link": ConsoleFormat.link("/instances", filters + [("sort", next == .id ? nil : next.rawValue)]),
                        "ariaSort": current.map { $0.descending ? "descending" : "ascending" } ?? "none",
                        "arrow": current.map { $0.descending ? "▼" : "▲" } ?? ""]
            }()
        }
        if let problem { data["formError"] = problem }
        for (name, value) in filters { data["f_\(name)"] = value ?? "" }
        if let next = page?.next_cursor {
            data["nextLink"] = ConsoleFormat.link("/instances", filters + [("sort", sort), ("cursor", next)])
        }
        if q["cursor"] != nil { data["firstLink"] = ConsoleFormat.link("/instances", filters + [("sort", sort)]) }
        return await renderer.page("instances", title: "Instances", data, request: request, context: context,
                                   status: problem == nil ? .ok : .badRequest)
    }

    @Sendable func bulkRetry(_ request: Request, context: ConsoleContext) async throws -> Response {
        try await bulk(request, context: context, action: "retry")
    }

    @Sendable func bulkCancel(_ request: Request, context: ConsoleContext) async throws -> Response {
        try await bulk(request, context: context, action: "cancel")
    }

    /// A bulk action: without `confirm`, a page that shows how many instances it would touch; with
    /// it, the action on the selected ids (`id`, repeated) or on every instance the filters match (`all`).
    private func bulk(_ request: Request, context: ConsoleContext, action: String) async throws -> Response {
        let user = try context.require(.admin, to: action == "retry" ? "retrying instances" : "cancelling instances")
        let form = context.form
        let query = try Self.query(form)
        let all = form["all"] == "1"
        let ids: [Int]? = try all ? nil : form.all("id").map { text -> Int in
            guard let id = Int(text), id > 0 else { throw ConsoleError.invalid("\(text) is not an instance id") }
            return id
        }
        let back = ConsoleFormat.link("/instances", Self.filterItems(form))
        if let ids, ids.isEmpty {
            return ConsoleRenderer.redirect(back, error: "Select instances first, or tick “all matching this filter”.")
        }
        if form["confirm"] != "1" {
            let count = all ? try await store.countInstances(query) : ids!.count
            let data: [String: Any] = [
                "action": action, "isCancel": action == "cancel", "count": count, "all": all,
                "ids": (ids ?? []).map { ["id": $0] }, "back": back,
                "filters": Self.filterItems(form).compactMap { name, value in value.map { ["name": name, "value": $0] } },
                "verb": action == "retry" ? "Retry" : "Cancel",
            ]
            return await renderer.page("confirm", title: "Confirm", data, request: request, context: context)
        }
        if action == "retry" {
            let n = try await store.retryInstances(ids: ids, matching: query, by: user.tokenName)
            return ConsoleRenderer.redirect(back, notice: "Retried \(n) failed instance\(n == 1 ? "" : "s").")
        }
        let n = try await store.cancelInstances(ids: ids, matching: query, by: user.tokenName, reason: form["reason"])
        return ConsoleRenderer.redirect(back, notice: "Cancelled \(n) instance\(n == 1 ? "" : "s").")
    }

    @Sendable func show(_ request: Request, context: ConsoleContext) async throws -> Response {
        let id = try Self.instanceID(context)
        guard let detail = try await store.instanceDetail(id) else { throw ConsoleError.notFound("there is no instance \(id)") }
        let contact = try await store.contact(detail.contact)
        let stored = try await store.workflow(detail.workflow, version: detail.version)
        let definition = stored?.version == detail.version ? stored?.definition : nil
        let members = try await store.teamMembers().flatMap(\.members).filter(\.active)
        let path = detail.timeline.map(\.step)
        let live = !["completed", "cancelled"].contains(detail.state)
        var events = Set<String>()
        for step in definition?.steps ?? [] {
            if case .waitForSLA(let wait, _, _) = step.action { events.insert(wait.event); events.formUnion(wait.pauseEvents) }
        }
        func span(_ seconds: Int?) -> String { seconds.map { $0 == 0 ? "0s" : TimeSpan(seconds: $0).description } ?? "" }
        let data: [String: Any] = [
            "id": detail.id, "workflow": detail.workflow, "version": detail.version, "state": detail.state, "step": detail.step,
            "contact": detail.contact, "contactLink": "/contacts/\(FormData.encode(detail.contact))",
            "workflowLink": "/workflows/\(FormData.encode(detail.workflow))?version=\(detail.version)",
            "owner": detail.owner as Any, "team": detail.team as Any, "priority": detail.priority,
            "lastError": detail.last_error as Any, "runAt": ConsoleFormat.time(detail.run_at) as Any,
            "updatedAt": ConsoleFormat.time(detail.updated_at) as Any,
            "deadline": ConsoleFormat.time(detail.deadline) as Any, "paused": detail.paused,
            "sla": detail.elapsed_s == nil ? false : ["elapsed": span(detail.elapsed_s), "remaining": span(detail.remaining_s)],
            "timeline": detail.timeline.map { e -> [String: Any] in
                ["seq": e.seq, "step": e.step, "from": e.from_state, "to": e.to_state, "owner": e.owner ?? "",
                 "worker": e.worker ?? "", "attempt": e.attempt, "at": ConsoleFormat.time(e.at) as Any,
                 "detail": e.detail ?? "", "error": e.error as Any]
            },
            "graph": definition.map { WorkflowGraph.svg($0, path: path, current: live || detail.state == "failed" ? detail.step : nil) } ?? "",
            "attributes": (contact?.attributes ?? [:]).sorted { $0.key < $1.key }.map { ["name": $0.key, "value": $0.value] },
            "hasAttributes": !(contact?.attributes.isEmpty ?? true),
            "history": (contact?.history ?? []).reversed().map { Self.historyRow($0) },
            "backup": contact?.backup ?? "",
            "canRetry": detail.state == "failed", "canCancel": !["completed", "cancelled"].contains(detail.state),
            "canResume": detail.state != "completed",
            "steps": (definition?.steps ?? []).map { ["id": $0.id, "selected": $0.id == detail.step] },
            "events": events.sorted().map { ["name": $0] },
            "members": members.map { ["id": $0.id, "label": "\($0.id) — \($0.name) (\($0.team))", "selected": $0.id == detail.owner] },
            "here": "/instances/\(detail.id)",
        ]
        return await renderer.page("instance", title: "Instance \(detail.id)", data, request: request, context: context)
    }

    /// One ownership history row for a template.
    static func historyRow(_ change: ContactDetails.Change) -> [String: Any] {
        // Manual changes read `manual:<actor> <reason>`: show the actor on its own.
        var actor = "engine", reason = change.reason
        if change.reason.hasPrefix("manual:") {
            let rest = change.reason.dropFirst("manual:".count)
            let parts = rest.split(separator: " ", maxSplits: 1)
            actor = parts.first.map(String.init) ?? ""
            reason = parts.count > 1 ? String(parts[1]) : ""
        }
        return ["from": change.from ?? "–", "to": change.to ?? "–", "team": change.team ?? "", "reason": reason, "actor": actor,
                "instance": change.instance as Any, "at": ConsoleFormat.time(change.at) as Any]
    }

    @Sendable func retry(_ request: Request, context: ConsoleContext) async throws -> Response {
        let user = try context.require(.admin, to: "retrying an instance")
        let id = try Self.instanceID(context)
        return try await act(context, id) { try await store.retryFailed(instance: id, by: user.tokenName); return "Retrying instance \(id)." }
    }

    @Sendable func cancel(_ request: Request, context: ConsoleContext) async throws -> Response {
        let user = try context.require(.admin, to: "cancelling an instance")
        let id = try Self.instanceID(context)
        return try await act(context, id) {
            try await store.cancel(instance: id, by: user.tokenName, reason: context.form["reason"])
            return "Cancelled instance \(id)."
        }
    }

    @Sendable func resume(_ request: Request, context: ConsoleContext) async throws -> Response {
        let user = try context.require(.admin, to: "resuming an instance")
        let id = try Self.instanceID(context)
        return try await act(context, id) {
            guard let step = context.form["step"] else { throw BatonError.invalid("choose the step to resume at") }
            try await store.resume(instance: id, at: step, by: user.tokenName)
            return "Instance \(id) resumes at \(step)."
        }
    }

    @Sendable func signal(_ request: Request, context: ConsoleContext) async throws -> Response {
        _ = try context.require(.operator_, to: "sending a signal")
        let id = try Self.instanceID(context)
        return try await act(context, id) {
            guard let detail = try await store.instanceDetail(id) else { throw BatonError.notFound("there is no instance \(id)") }
            guard let event = context.form["event"] else { throw BatonError.invalid("name the event to send (e.g. first_touch)") }
            let result = try await store.signal(event, contact: detail.contact, payload: nil)
            return "Sent \(event) to contact \(detail.contact); it woke \(result.woken) waiting instance\(result.woken == 1 ? "" : "s")."
        }
    }

    /// Runs an action and goes back to the instance page with its outcome as a notice, or the
    /// one-line reason it was refused.
    private func act(_ context: ConsoleContext, _ id: Int, _ body: () async throws -> String) async throws -> Response {
        let back = context.form["return_to"] ?? "/instances/\(id)"
        do {
            return ConsoleRenderer.redirect(back, notice: try await body())
        } catch let error as BatonError {
            return ConsoleRenderer.redirect(back, error: error.description)
        }
    }

    static func instanceID(_ context: ConsoleContext) throws -> Int {
        let text = context.parameters.get("id") ?? ""
        guard let id = Int(text), id > 0 else { throw ConsoleError.notFound("there is no instance \(text)") }
        return id
    }
}
