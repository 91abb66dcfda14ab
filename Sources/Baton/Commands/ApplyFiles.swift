import BatonCore
import Foundation

/// Applying the files sales ops write, from their text: the one path `batonctl … apply` and the
/// API's `PUT /v1/workflows/{name}` and `PUT /v1/teams` share, so both validate alike.
extension Store {
    /// Validates a workflow file against the stored teams, calendars and channels and stores it as a
    /// new version when it changed. `expectedName`, when given, must be the file's `name`.
    /// Throws `DefinitionErrors` (every mistake, located) and stores nothing then.
    public func applyWorkflow(text: String, file: String, expectedName: String? = nil) async throws -> WorkflowApplyResult {
        let known = try await knownNames()
        let definition = try DefinitionLoader.workflow(from: text, file: file, known: known)
        if let expectedName, definition.name != expectedName {
            throw DefinitionErrors(issues: [DefinitionIssue(
                file: file, line: 1, column: 1, path: "name",
                message: "the file names workflow \"\(definition.name)\" but was sent for \"\(expectedName)\": they must be the same")])
        }
        return try await applyWorkflow(definition, source: text, file: file)
    }

    /// Validates a team file and upserts its calendars, teams and members. Throws `DefinitionErrors`.
    public func applyTeams(text: String, file: String) async throws -> TeamsApplyResult {
        try await applyTeams(try DefinitionLoader.teams(from: text, file: file))
    }
}
