import Baton
import Foundation
import Hummingbird

/// `/teams`: members with open work against capacity, weight, out of office, active; marking a
/// member out of office until a day, back, inactive or active again (recorded with the actor).
struct TeamsPages {
    let store: Store
    /// Open work is counted over every owned contact: shared by viewers, refreshed in the background when slow.
    let cache: ConsoleCache
    let renderer: ConsoleRenderer

    func register(on group: RouterGroup<ConsoleContext>) {
        group.get("teams", use: list)
        group.post("teams/members/{id}/away", use: away)
        group.post("teams/members/{id}/active", use: active)
    }

    @Sendable func list(_ request: Request, context: ConsoleContext) async throws -> Response {
        let teams = try await store.teamMembers(openWork: try await cache.currentOpenWork())
        let changes = try await store.memberChanges(limit: 20)
        let data: [String: Any] = [
            "teams": teams.map { team -> [String: Any] in
                [
                    "name": team.name, "kind": team.kind, "manager": team.manager ?? "–",
                    "open": team.members.reduce(0) { $0 + $1.open },
                    "instancesLink": ConsoleFormat.link("/instances", [("team", team.name)]),
                    "members": team.members.map { m -> [String: Any] in
                        [
                            "id": m.id, "name": m.name, "email": m.email ?? "", "open": m.open,
                            "capacity": m.capacity.map(String.init) ?? "∞", "limited": m.capacity != nil,
                            "max": m.capacity ?? max(m.open, 1), "over": m.capacity.map { m.open > $0 } ?? false,
                            "high": m.capacity.map { $0 * 8 / 10 } ?? 0,
                            "weight": m.weight, "active": m.active, "away": m.outOfOfficeUntil as Any,
                            "ownerLink": ConsoleFormat.link("/instances", [("owner", m.id)]),
                        ]
                    },
                ]
            },
            "changes": changes.map { ["member": $0.member, "change": $0.change, "actor": $0.actor, "at": ConsoleFormat.time($0.at) as Any] },
            "hasChanges": !changes.isEmpty,
        ]
        return await renderer.page("teams", title: "Teams", data, request: request, context: context)
    }

    /// `POST /teams/members/{id}/away until=YYYY-MM-DD` (an empty `until` means back in office).
    @Sendable func away(_ request: Request, context: ConsoleContext) async throws -> Response {
        let user = try context.require(.admin, to: "changing a member")
        let id = try context.parameters.require("id")
        let until = context.form["until"]
        return try await act {
            try await store.setOutOfOffice(member: id, until: until, by: user.tokenName)
            return until.map { "\(id) is out of office until \($0)." } ?? "\(id) is back in office."
        }
    }

    /// `POST /teams/members/{id}/active active=true|false`.
    @Sendable func active(_ request: Request, context: ConsoleContext) async throws -> Response {
        let user = try context.require(.admin, to: "changing a member")
        let id = try context.parameters.require("id")
        let active = context.form["active"] == "true"
        return try await act {
            try await store.setActive(member: id, active, by: user.tokenName)
            return "\(id) is \(active ? "active" : "inactive") now."
        }
    }

    private func act(_ body: () async throws -> String) async throws -> Response {
        do {
            return ConsoleRenderer.redirect("/teams", notice: try await body())
        } catch let error as BatonError {
            return ConsoleRenderer.redirect("/teams", error: error.description)
        }
    }
}
