import Baton
import BatonCore
import Foundation
import Hummingbird

/// `/contacts` (search by id, attribute or owner) and `/contacts/{id}` (owner, backup, team,
/// attributes, instances, the whole ownership and lifecycle stage history with reasons and actors;
/// reassign; set the stage). `{id}` is the record's storage key: `C-1`, or `deal:D-7` for other kinds.
struct ContactsPages {
    let store: Store
    let renderer: ConsoleRenderer

    func register(on group: RouterGroup<ConsoleContext>) {
        group.get("contacts", use: search)
        group.get("contacts/{id}", use: show)
        group.post("contacts/{id}/reassign", use: reassign)
        group.post("contacts/{id}/stage", use: stage)
    }

    /// `GET /contacts?q=C-10&owner=ana&attr=country=DE`: an exact id goes straight to its page.
    @Sendable func search(_ request: Request, context: ConsoleContext) async throws -> Response {
        let q = FormData(parsing: request.uri.query ?? "")
        var attribute: (name: String, value: String)?
        if let text = q["attr"] {
            let parts = text.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { throw ConsoleError.invalid("attribute filter: write name=value, e.g. country=DE") }
            attribute = (String(parts[0]), String(parts[1]))
        }
        let searched = q["q"] != nil || q["owner"] != nil || attribute != nil
        if let id = q["q"], q["owner"] == nil, attribute == nil, try await store.contact(id) != nil {
            return .redirect(to: "/contacts/\(FormData.encode(id))", type: .normal)
        }
        let matches = searched ? try await store.searchContacts(idPrefix: q["q"], owner: q["owner"], attribute: attribute) : []
        let data: [String: Any] = [
            "q": q["q"] ?? "", "owner": q["owner"] ?? "", "attr": q["attr"] ?? "", "searched": searched,
            "matches": matches.map { m -> [String: Any] in
                ["id": m.id, "link": "/contacts/\(FormData.encode(m.id))", "owner": m.owner ?? "–", "team": m.team ?? "–",
                 "attributes": m.attributes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")]
            },
            "hasMatches": !matches.isEmpty,
        ]
        return await renderer.page("contacts", title: "Contacts", data, request: request, context: context)
    }

    @Sendable func show(_ request: Request, context: ConsoleContext) async throws -> Response {
        let id = try context.parameters.require("id")
        guard let contact = try await store.contact(id) else { throw ConsoleError.notFound("there is no contact \(id)") }
        var query = InstanceQuery(contact: id)
        query.limit = 100
        let instances = try await store.instancePage(query).items
        let members = try await store.teamMembers().flatMap(\.members).filter(\.active)
        let ref = RecordRef(storageKey: contact.id)
        let survivor = contact.mergedInto.map { RecordRef(storageKey: $0) }
        // A merged-away record's stage is its survivor's to set: no form (the route refuses it too).
        let canStage = (context.session?.role ?? .viewer) >= .operator_ && survivor == nil
        let stages = canStage ? try await store.lifecycleStages().settable : []
        let data: [String: Any] = [
            "id": contact.id, "heading": ref.kind == .contact ? "Contact \(ref.id)" : "\(ref.kind.rawValue.capitalized) \(ref.id)",
            "owner": contact.owner ?? "–", "backup": contact.backup ?? "–", "team": contact.team ?? "–",
            "lifecycle": contact.lifecycle ?? "–",
            "merged": survivor.map { ["record": $0.description, "link": "/contacts/\(FormData.encode($0.storageKey))"] } as Any,
            "stages": contact.stages.reversed().map { Self.stageRow($0, shown: ref.description) },
            "canStage": canStage,
            "stageOptions": stages.map { ["name": $0, "selected": $0 == contact.lifecycle] },
            "attributes": contact.attributes.sorted { $0.key < $1.key }.map { ["name": $0.key, "value": $0.value] },
            "hasAttributes": !contact.attributes.isEmpty,
            "history": contact.history.reversed().map(InstancesPages.historyRow),
            "instances": instances.map { ["id": $0.id, "workflow": $0.workflow, "state": $0.state, "step": $0.step] },
            "members": members.map { ["id": $0.id, "label": "\($0.id) — \($0.name) (\($0.team))", "selected": $0.id == contact.owner] },
            "here": "/contacts/\(FormData.encode(contact.id))",
        ]
        return await renderer.page("contact", title: data["heading"] as? String ?? contact.id, data, request: request,
                                   context: context)
    }

    /// One stage history row for the template: the stored reason `stage FROM -> TO (CAUSE)` shown as
    /// its cause, with a manual change's actor on its own (`manual:ana: renewal signed`).
    static func stageRow(_ entry: StageHistoryEntry, shown record: String) -> [String: Any] {
        let prefix = "stage \(entry.from ?? "-") -> \(entry.to) (", cause: String
        if entry.reason.hasPrefix(prefix) && entry.reason.hasSuffix(")") {
            cause = String(entry.reason.dropFirst(prefix.count).dropLast())
        } else {
            cause = entry.reason
        }
        var actor = "engine", reason = cause
        if cause.hasPrefix("manual:") {
            let parts = cause.dropFirst("manual:".count).split(separator: ":", maxSplits: 1)
            actor = parts.first.map(String.init) ?? ""
            reason = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : ""
        }
        return [
            "from": entry.from ?? "–", "to": entry.to, "reason": reason.isEmpty ? "–" : reason, "actor": actor,
            "other": (entry.record == record ? nil : entry.record) as Any,
            "instance": entry.instance as Any, "at": ConsoleFormat.time(entry.at) as Any,
            "started": entry.started.map { ["workflow": $0.workflow, "instance": $0.instance] },
        ]
    }

    /// `POST /contacts/{id}/reassign to=&reason=`: recorded as `manual:<token name> <reason>`.
    @Sendable func reassign(_ request: Request, context: ConsoleContext) async throws -> Response {
        let user = try context.require(.admin, to: "reassigning a contact")
        let id = try context.parameters.require("id")
        let back = context.form["return_to"] ?? "/contacts/\(FormData.encode(id))"
        do {
            guard let member = context.form["to"] else { throw BatonError.invalid("choose the member to give the contact to") }
            try await store.reassignByHand(contact: id, to: member, reason: context.form["reason"] ?? "", by: user.tokenName)
            return ConsoleRenderer.redirect(back, notice: "Contact \(id) is now owned by \(member).")
        } catch let error as BatonError {
            return ConsoleRenderer.redirect(back, error: error.description)
        }
    }

    /// `POST /contacts/{id}/stage stage=&reason=`: `batonctl records stage` from the console (an
    /// operator's right, as over the API), recorded as `manual:<token name>: <reason>`.
    @Sendable func stage(_ request: Request, context: ConsoleContext) async throws -> Response {
        let user = try context.require(.operator_, to: "setting a lifecycle stage")
        let id = try context.parameters.require("id")
        let back = "/contacts/\(FormData.encode(id))"
        do {
            guard let stage = context.form["stage"], !stage.isEmpty else { throw BatonError.invalid("choose the stage to set") }
            let outcome = try await store.setStage(record: id, to: stage,
                                                   cause: Store.manualStageCause(by: user.tokenName, reason: context.form["reason"]))
            guard outcome.changed else { return ConsoleRenderer.redirect(back, notice: "\(outcome.record) is already \(stage).") }
            let started = outcome.started.map { "\($0.workflow) (instance \($0.instance))" }.joined(separator: ", ")
            return ConsoleRenderer.redirect(back, notice: "\(outcome.record): stage \(outcome.from ?? "-") -> \(outcome.to)"
                                            + (started.isEmpty ? "." : "; started \(started)."))
        } catch let error as BatonError {
            return ConsoleRenderer.redirect(back, error: error.description)
        }
    }
}
