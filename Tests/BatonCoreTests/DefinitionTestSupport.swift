import BatonCore
import Foundation

/// The issue lines a workflow text produces (empty when it loads).
func workflowIssues(_ text: String, file: String = "wf.yaml", known: KnownNames = KnownNames()) -> [String] {
    do {
        _ = try DefinitionLoader.workflow(from: text, file: file, known: known)
        return []
    } catch let error as DefinitionErrors {
        return error.issues.map(\.description)
    } catch {
        return ["unexpected error: \(error)"]
    }
}

/// The issue lines a team file produces (empty when it loads).
func teamsIssues(_ text: String, file: String = "teams.yaml") -> [String] {
    do {
        _ = try DefinitionLoader.teams(from: text, file: file)
        return []
    } catch let error as DefinitionErrors {
        return error.issues.map(\.description)
    } catch {
        return ["unexpected error: \(error)"]
    }
}

/// The issue lines a channel file produces (empty when it loads).
func channelsIssues(_ text: String, file: String = "channels.yaml") -> [String] {
    do {
        _ = try DefinitionLoader.channels(from: text, file: file)
        return []
    } catch let error as DefinitionErrors {
        return error.issues.map(\.description)
    } catch {
        return ["unexpected error: \(error)"]
    }
}

/// A file of the repository's `examples/` folder.
func example(_ name: String) throws -> String {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    return try String(contentsOf: root.appendingPathComponent("examples").appendingPathComponent(name), encoding: .utf8)
}

/// The names the example team and channel files define, as the database would know them after applying them.
func exampleKnownNames() throws -> KnownNames {
    let teams = try DefinitionLoader.teams(from: example("teams.yaml"), file: "teams.yaml")
    let channels = try DefinitionLoader.channels(from: example("channels.yaml"), file: "channels.yaml")
    return KnownNames(
        teams: Set(teams.teams.map(\.name)), calendars: Set(teams.calendars.map(\.name)),
        channels: Set(channels.channels.map(\.name)), members: Set(teams.teams.flatMap(\.members).map(\.id)),
        stages: teams.lifecycle)
}
