import ArgumentParser
import Baton
import BatonCore

struct SourcesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sources", abstract: "Manage inbound sources (CRM webhooks).",
        discussion: "Example:\n  batonctl sources apply examples/sources.yaml", subcommands: [Apply.self])

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a sources file and upsert its sources.",
            discussion: """
                Each source maps its events to Baton actions (start a workflow, send a signal, record an \
                owner change made in the CRM). Secrets are never stored: secret_env names the variable \
                baton-server reads the signing secret from. Workflows named by start: must be applied first. \
                Events arrive at POST /hooks/hubspot/NAME or /hooks/webhook/NAME on baton-server.

                Example:
                  batonctl sources apply examples/sources.yaml
                """)

        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The sources file (YAML).") var file: String

        func run() async throws {
            let text = try readInputFile(file)
            let store = try database.store(connections: 1)
            defer { Task { await store.pool.close() } }
            let sources = try DefinitionLoader.sources(from: text, file: file, workflows: try await store.workflowNames())
            let count = try await store.applySources(sources)
            print("applied \(count) source(s)")
        }
    }
}
