import ArgumentParser
import Baton
import BatonCore
import Foundation

struct Workflows: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply, list and show workflow definitions.",
        discussion: """
            Examples:
              batonctl workflows apply examples/inbound-lead.yaml --dry-run
              batonctl workflows list
              batonctl workflows show inbound-lead --version 1
            """,
        subcommands: [Apply.self, List.self, Show.self])

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate workflow files and store each as a new version when it changed.",
            discussion: """
                Prints NAME vN for a new version and NAME vN unchanged when the newest stored version is \
                the same. Running instances stay on the version they started on. Every mistake in every \
                file is reported as FILE:LINE:COLUMN: field: problem, and then nothing is stored. \
                Apply the team and channel files first: steps may only name known teams and channels. \
                --dry-run validates and prints, step by step, what would change against the newest stored \
                version, and stores nothing.

                Examples:
                  batonctl workflows apply examples/inbound-lead.yaml
                  batonctl workflows apply --dry-run examples/inbound-lead.yaml
                """)

        @OptionGroup var database: DatabaseOptions
        @Argument(help: "Workflow files (YAML or JSON).") var files: [String]
        @Flag(help: "Print what would change against the stored version; store nothing.") var dryRun = false

        func validate() throws {
            if files.isEmpty { throw ValidationError("give at least one workflow file") }
        }

        func run() async throws {
            let store = try database.store(connections: 1)
            defer { Task { await store.pool.close() } }
            let known = try await store.knownNames()
            var parsed: [(WorkflowDefinition, String, String)] = []
            var issues: [DefinitionIssue] = []
            for file in files {
                let text = try readInputFile(file)
                do {
                    parsed.append((try DefinitionLoader.workflow(from: text, file: file, known: known), text, file))
                } catch let error as DefinitionErrors {
                    issues += error.issues
                }
            }
            if !issues.isEmpty { throw DefinitionErrors(issues: issues) }
            if dryRun {
                let active = Dictionary(try await store.workflowSummaries().map { ($0.name, $0.active) }, uniquingKeysWith: { a, _ in a })
                for (definition, _, _) in parsed {
                    print(Self.dryRunReport(definition, stored: try await store.workflow(definition.name), active: active[definition.name] ?? 0))
                }
                return
            }
            for (definition, text, file) in parsed {
                let result = try await store.applyWorkflow(definition, source: text, file: file)
                print("\(result.name) v\(result.version)\(result.created ? "" : " unchanged")")
            }
        }

        /// What applying `definition` would do: a new workflow, unchanged, or a new version and its diff.
        static func dryRunReport(_ definition: WorkflowDefinition, stored: StoredWorkflow?, active: Int) -> String {
            guard let stored else {
                return "\(definition.name): new workflow; would be stored as v1 (\(definition.steps.count) steps)"
            }
            let diff = WorkflowDiff.between(stored.definition, definition)
            if diff.isEmpty { return "\(definition.name) v\(stored.version) unchanged" }
            var lines = ["\(definition.name): would be stored as v\(stored.version + 1); changes against v\(stored.version):"]
            lines += diff.lines.map { "  " + $0 }
            if active > 0 {
                lines.append("\(active) live instance(s) stay on the version they started on; to move them afterwards:")
                lines.append("  batonctl instances migrate --workflow \(definition.name) --from-version \(stored.version) --to-version \(stored.version + 1) --dry-run")
            }
            lines.append("dry run: nothing stored")
            return lines.joined(separator: "\n")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List workflows: newest version, live instances, last applied.",
            discussion: "Example:\n  batonctl workflows list --json")

        @OptionGroup var database: DatabaseOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let store = try database.store(connections: 1)
            let summaries = try await store.workflowList()
            await store.pool.close()
            if json { try printJSON(summaries); return }
            if summaries.isEmpty { print("no workflows yet: batonctl workflows apply FILE"); return }
            print(table(["NAME", "VERSION", "ACTIVE", "UPDATED"], summaries.map {
                [$0.name, "v\($0.version)", String($0.active), rfc3339($0.updated_at)]
            }))
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one version of a workflow (the newest by default).",
            discussion: "Example:\n  batonctl workflows show inbound-lead --version 1")

        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The workflow's name.") var name: String
        @Option(help: "The version to show.") var version: Int?
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let store = try database.store(connections: 1)
            let stored = try await store.workflow(name, version: version)
            await store.pool.close()
            guard let stored else {
                if let version { throw BatonError.notFound("workflow \(name) has no version \(version)") }
                throw BatonError.notFound("unknown workflow \(name): see `batonctl workflows list`")
            }
            if json { try printJSON(WorkflowVersionDetail(stored)); return }
            print("# \(stored.name) v\(stored.version), applied \(rfc3339(stored.createdAt))\(stored.file.map { " from \($0)" } ?? "")")
            print(stored.source, terminator: stored.source.hasSuffix("\n") ? "" : "\n")
        }
    }
}
