import ArgumentParser
import Baton
import BatonCore
import Foundation

struct Teams: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage teams, members and calendars.",
        discussion: "Example:\n  batonctl teams apply examples/teams.yaml", subcommands: [Apply.self])

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a team file and upsert its calendars, teams and members.",
            discussion: """
                Members of the file's teams that the file no longer lists are deactivated (never deleted:
                their ownership history stays). A top-level lifecycle: list replaces the organisation's \
                lifecycle stages (a file without one leaves them as they are; none ever stored means lead, \
                mql, sql, customer, at_risk, churned). Nothing is stored when the file has a mistake; each \
                one is reported as FILE:LINE:COLUMN: field: problem.

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
            if let stages = result.lifecycle { print("lifecycle stages: \(stages.joined(separator: ", "))") }
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
                Secrets are never stored: the file names the environment variables (url_env, secret_env, \
                token_env, username_env, password_env, smtp_url_env) that the worker reads them from; each one \
                not set where batonctl runs is named in a warning on standard error (the channels are applied \
                all the same). The `log` channel always exists.

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
            // Stored all the same (the workers may run elsewhere, with their own environment).
            for item in UnsetChannelVariable.find(in: channels.channels, environment: ProcessInfo.processInfo.environment) {
                FileHandle.standardError.write(Data(("warning: channel \(item.channel): \(item.field) \(item.variable) is not set "
                    + "here; the workers need it, or the channel's deliveries fail\n").utf8))
            }
        }
    }
}
