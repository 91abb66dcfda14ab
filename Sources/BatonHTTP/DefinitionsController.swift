import Baton
import Foundation
import Hummingbird

/// `/v1/workflows` and `/v1/teams`: reading workflow versions and applying the YAML files sales ops
/// write, validated exactly as `batonctl … apply` validates them.
struct DefinitionsController {
    let store: Store
    let settings: ServerSettings

    func register(on group: RouterGroup<BatonRequestContext>) {
        group.get("workflows", use: list)
        group.get("workflows/{name}", use: show)
        group.get("workflows/{name}/versions/{version}", use: showVersion)
        group.put("workflows/{name}", use: applyWorkflow)
        group.put("teams", use: applyTeams)
    }

    @Sendable func list(_ request: Request, context: BatonRequestContext) async throws -> Response {
        JSON.response(try await store.workflowList())
    }

    @Sendable func show(_ request: Request, context: BatonRequestContext) async throws -> Response {
        let name = try context.parameters.require("name")
        guard let stored = try await store.workflow(name) else { throw Problem.notFound("unknown workflow \(name)") }
        return JSON.response(WorkflowVersionDetail(stored))
    }

    @Sendable func showVersion(_ request: Request, context: BatonRequestContext) async throws -> Response {
        let name = try context.parameters.require("name")
        let text = try context.parameters.require("version")
        guard let version = Int(text), version > 0 else { throw Problem.notFound("workflow \(name) has no version \(text)") }
        guard let stored = try await store.workflow(name, version: version) else {
            throw Problem.notFound("workflow \(name) has no version \(version)")
        }
        return JSON.response(WorkflowVersionDetail(stored))
    }

    /// What applying a workflow did: 201 with a new version, 200 when it was unchanged.
    struct Applied: Codable {
        var name: String
        var version: Int
        var created: Bool
    }

    /// `PUT /v1/workflows/{name}` with the workflow file (YAML or JSON) as the body.
    @Sendable func applyWorkflow(_ request: Request, context: BatonRequestContext) async throws -> Response {
        _ = try context.require(.admin, to: "applying a workflow")
        let name = try context.parameters.require("name")
        let text = try await bodyText(request)
        let result = try await store.applyWorkflow(text: text, file: "\(name).yaml", expectedName: name)
        return Reply(Applied(name: result.name, version: result.version, created: result.created),
                     status: result.created ? .created : .ok, location: "/v1/workflows/\(result.name)/versions/\(result.version)").response
    }

    /// What applying a team file did.
    struct TeamsApplied: Codable {
        var calendars: Int
        var teams: Int
        var members: Int
        var deactivated: [String]
    }

    /// `PUT /v1/teams` with the team file as the body.
    @Sendable func applyTeams(_ request: Request, context: BatonRequestContext) async throws -> Response {
        _ = try context.require(.admin, to: "applying teams")
        let text = try await bodyText(request)
        let result = try await store.applyTeams(text: text, file: "teams.yaml")
        return JSON.response(TeamsApplied(calendars: result.calendars, teams: result.teams, members: result.members,
                                          deactivated: result.deactivated))
    }

    private func bodyText(_ request: Request) async throws -> String {
        let body = try await request.body.collect(upTo: settings.maxBodyBytes)
        guard body.readableBytes > 0 else { throw Problem.malformed("the request body is empty: send the file's YAML") }
        guard let text = String(validating: Data(buffer: body), as: UTF8.self) else {
            throw Problem.malformed("the body is not UTF-8 text")
        }
        return text
    }
}
