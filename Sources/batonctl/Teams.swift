import ArgumentParser
import Baton
import BatonCore

struct Teams: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage teams, members and calendars.",
        discussion: "Example:\n  batonctl teams apply examples/teams.yaml", subcommands: [Apply.self])

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a team file and upsert its calendars, teams and members.",
            discussion: """
                Members of the file's teams that the file no longer lists are deactivated (never deleted:
                their ownership history stays). Nothing is stored when the file has a mistake; each one is \
                reported as FILE:LINE:COLUMN: field: problem.

                Example:
                  batonctl teams apply examples/teams.yaml
                """)

        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The team file (YAML).") var file: String

        func run() async throws {
            let text = try readInputFile(file)
            let teams = try DefinitionLoader.teams(from: text, file: file)
            let store = try database.store(connections: 1)
            let result = try await store.applyTeams(teams)
            print("applied \(result.calendars) calendar(s), \(result.teams) team(s), \(result.members) member(s)")
            if !result.deactivated.isEmpty { print("deactivated: \(result.deactivated.joined(separator: ", "))") }
            await store.pool.close()
        }
    }
}

struct Channels: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage notification channels.",
        discussion: "Example:\n  batonctl channels apply examples/channels.yaml", subcommands: [Apply.self])

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a channel file and upsert its channels.",
            discussion: """
                Secrets are never stored: the file names the environment variables (secret_env, url_env) \
                that the worker reads them from. The `log` channel always exists.

                Example:
                  batonctl channels apply examples/channels.yaml
                """)

        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The channel file (YAML).") var file: String

        func run() async throws {
            let text = try readInputFile(file)
            let channels = try DefinitionLoader.channels(from: text, file: file)
            let store = try database.store(connections: 1)
            let count = try await store.applyChannels(channels)
            print("applied \(count) channel(s)")
            await store.pool.close()
        }
    }
}
