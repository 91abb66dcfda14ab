import Baton
import BatonCore
import Foundation
import Hummingbird

/// `/workflows` (every workflow, its newest version, live instances) and `/workflows/{name}`
/// (`?version=N`: that version's graph and file; `?diff=A..B`: what changed; instances per step).
struct WorkflowsPages {
    let store: Store
    /// Live instances per workflow and instances per step count whole tables: shared by viewers.
    let cache: ConsoleCache
    let renderer: ConsoleRenderer

    func register(on group: RouterGroup<ConsoleContext>) {
        group.get("workflows", use: list)
        group.get("workflows/{name}", use: show)
    }

    @Sendable func list(_ request: Request, context: ConsoleContext) async throws -> Response {
        let workflows = try await cache.workflowSummaries()
        let data: [String: Any] = [
            "workflows": workflows.map { w -> [String: Any] in
                ["name": w.name, "link": "/workflows/\(FormData.encode(w.name))", "version": w.version, "active": w.active,
                 "activeLink": ConsoleFormat.link("/instances", [("workflow", w.name)]),
                 "updatedAt": ConsoleFormat.time(w.updatedAt) as Any]
            },
            "hasWorkflows": !workflows.isEmpty,
        ]
        return await renderer.page("workflows", title: "Workflows", data, request: request, context: context)
    }

    @Sendable func show(_ request: Request, context: ConsoleContext) async throws -> Response {
        let name = try context.parameters.require("name")
        let q = FormData(parsing: request.uri.query ?? "")
        let versions = try await store.workflowVersions(name)
        guard let newest = versions.first else { throw ConsoleError.notFound("there is no workflow \(name)") }
        let chosen = try q["version"].map { text -> Int in
            guard let n = Int(text), versions.contains(where: { $0.version == n }) else {
                throw ConsoleError.notFound("workflow \(name) has no version \(text)")
            }
            return n
        } ?? newest.version
        guard let stored = try await store.workflow(name, version: chosen) else { throw ConsoleError.notFound("workflow \(name) has no version \(chosen)") }
        let counts = try await cache.stepCounts(name)
        var data: [String: Any] = [
            "name": name, "version": chosen, "description": stored.definition.description ?? "",
            "graph": WorkflowGraph.svg(stored.definition), "source": stored.source,
            "versions": versions.map { v -> [String: Any] in
                ["version": v.version, "link": "/workflows/\(FormData.encode(name))?version=\(v.version)", "current": v.version == chosen,
                 "file": v.file ?? "", "createdAt": ConsoleFormat.time(v.createdAt) as Any,
                 "diffLink": v.version > 1 ? "/workflows/\(FormData.encode(name))?diff=\(v.version - 1)..\(v.version)" : ""]
            },
            "manyVersions": versions.count > 1,
            "versionOptions": versions.map { ["version": $0.version] },
            "steps": counts.map { c -> [String: Any] in
                ["version": c.version, "step": c.step, "state": c.state, "count": c.count,
                 "link": ConsoleFormat.link("/instances", [("workflow", name), ("step", c.step), ("state", c.state)])]
            },
            "hasSteps": !counts.isEmpty,
        ]
        let requestedDiff = q["diff"] ?? q["from"].flatMap { from in q["to"].map { "\(from)..\($0)" } }
        if let diff = requestedDiff {
            let parts = diff.components(separatedBy: "..").compactMap { Int($0) }
            guard parts.count == 2, let a = try await store.workflow(name, version: parts[0]), a.version == parts[0],
                  let b = try await store.workflow(name, version: parts[1]), b.version == parts[1] else {
                throw ConsoleError.invalid("diff: give two versions of \(name) as A..B, e.g. 1..2")
            }
            let lines = TextDiff.lines(a.source, b.source)
            data["diff"] = [
                "from": a.version, "to": b.version, "unchanged": !lines.contains { $0.kind != .same },
                "lines": lines.map { ["kind": $0.kind.rawValue, "mark": $0.kind == .added ? "+" : $0.kind == .removed ? "−" : " ", "text": $0.text] },
            ] as [String: Any]
        }
        return await renderer.page("workflow", title: "Workflow \(name)", data, request: request, context: context)
    }
}
