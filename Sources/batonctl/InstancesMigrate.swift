import ArgumentParser
import Baton
import BatonCore
import Foundation

/// `batonctl instances migrate`: moves running instances of one version of a workflow to another.
struct InstancesMigrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Move live instances of a workflow version to another version, step by step.",
        discussion: """
            First a plan: every step where a selected instance stands must map to a step of the target \
            version of the same kind (a wait to a wait) — the step with the same id, or the one --map names. \
            An unmapped or removed step is refused, naming it and the instances there; nothing changes then. \
            Then the instances move in batches, each in one transaction. An instance a worker holds (mid-step) \
            is skipped and retried, never moved mid-step; its fence is bumped like a worker's claim. A wait \
            keeps its deadline unless --recompute-deadlines counts the new wait's duration again from when it \
            began. Each moved instance's timeline records the migration and who ran it ($BATON_USER, else \
            $USER). Interrupted, the same command finishes the rest; no instance moves twice. \
            By default ready, waiting, running (lease expired) and failed instances are selected.

            Examples:
              batonctl instances migrate --workflow inbound-lead --from-version 1 --to-version 2 --dry-run
              batonctl instances migrate --workflow inbound-lead --from-version 1 --to-version 2 \\
                --map first-touch=first-touch-window --where state=waiting,step=first-touch
            """)

    @OptionGroup var database: DatabaseOptions
    @Option(help: "The workflow's name.") var workflow: String
    @Option(help: "The version the instances are on.") var fromVersion: Int
    @Option(help: "The version to move them to.") var toVersion: Int
    @Option(help: "old_step=new_step: where instances at a step go when the ids differ (repeatable).") var map: [String] = []
    @Option(name: .customLong("where"), help: "state=S,step=ID filters (repeatable; several values of a key: any of them).")
    var filters: [String] = []
    @Flag(help: "Print the plan and change nothing.") var dryRun = false
    @Flag(help: "Count each wait's duration again on the new step's clock, from when it began.") var recomputeDeadlines = false
    @Option(help: "Instances per transaction.") var batchSize = 200
    @Flag(help: "Print JSON.") var json = false

    static let states = ["ready", "running", "waiting", "failed"]

    func validate() throws {
        if fromVersion < 1 || toVersion < 1 { throw ValidationError("versions are numbers from 1") }
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
        _ = try mapping()
        _ = try selection()
    }

    func mapping() throws -> [String: String] {
        var result: [String: String] = [:]
        for entry in map {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw ValidationError("--map takes old_step=new_step, got \(entry)")
            }
            if let earlier = result[parts[0]], earlier != parts[1] {
                throw ValidationError("--map maps \(parts[0]) twice (to \(earlier) and \(parts[1]))")
            }
            result[parts[0]] = parts[1]
        }
        return result
    }

    func selection() throws -> MigrationSelection {
        var states: [String] = [], steps: [String] = []
        for filter in filters {
            for clause in filter.split(separator: ",") {
                let parts = clause.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2, !parts[1].isEmpty else {
                    throw ValidationError("--where takes state=S,step=ID, got \(filter)")
                }
                switch parts[0] {
                case "state":
                    guard Self.states.contains(parts[1]) else {
                        throw ValidationError("--where state=\(parts[1]): instances in state \(parts[1]) cannot move; one of \(Self.states.joined(separator: ", "))")
                    }
                    states.append(parts[1])
                case "step": steps.append(parts[1])
                default: throw ValidationError("--where \(parts[0])=…: unknown filter (use state= and step=)")
                }
            }
        }
        return MigrationSelection(workflow: workflow, fromVersion: fromVersion,
                                  states: states.isEmpty ? MigrationSelection.defaultStates : states,
                                  steps: steps.isEmpty ? nil : steps)
    }

    func run() async throws {
        let store = try database.store(connections: 2)
        defer { Task { await store.pool.close() } }
        guard let source = try await store.stepOutline(workflow, version: fromVersion) else {
            throw BatonError.notFound("workflow \(workflow) has no version \(fromVersion): see `batonctl workflows list`")
        }
        guard let target = try await store.workflow(workflow, version: toVersion), target.version == toVersion else {
            throw BatonError.notFound("workflow \(workflow) has no version \(toVersion): apply it first with `batonctl workflows apply FILE`")
        }
        let selection = try selection()
        let standing = try await store.migrationStanding(selection)
        let plan: MigrationPlan
        do {
            plan = try MigrationPlanner.plan(
                workflow: workflow, fromVersion: fromVersion, source: source, toVersion: toVersion,
                target: target.definition, map: try mapping(), standing: standing.groups)
        } catch let refusal as MigrationRefusal {
            for problem in refusal.problems { FileHandle.standardError.write(Data("error: \(problem)\n".utf8)) }
            FileHandle.standardError.write(Data("error: nothing was migrated\n".utf8))
            throw ExitCode(1)
        }

        var progress: MigrationProgress?
        if !dryRun, plan.total > 0 {
            progress = try await store.migrateInstances(
                plan, selection: selection,
                options: MigrationOptions(actor: currentUser(), batchSize: batchSize, recomputeDeadlines: recomputeDeadlines))
        }
        let remaining = progress?.remaining.groups.reduce(0) { $0 + $1.count } ?? 0
        if json {
            struct Move: Encodable { var from: String; var to: String; var kind: String; var count: Int; var instances: [String] }
            struct Output: Encodable {
                var workflow: String
                var from_version: Int
                var to_version: Int
                var dry_run: Bool
                var moves: [Move]
                var held: Int
                var moved: Int
                var remaining: Int
            }
            try printJSON(Output(
                workflow: workflow, from_version: fromVersion, to_version: toVersion, dry_run: dryRun,
                moves: plan.moves.map { Move(from: $0.from, to: $0.to, kind: $0.kind, count: $0.count, instances: $0.sample.map(String.init)) },
                held: standing.held, moved: progress?.moved ?? 0, remaining: remaining))
        } else {
            print(Self.describe(plan, held: standing.held, recompute: recomputeDeadlines))
            if dryRun {
                print("dry run: nothing changed")
            } else if let progress {
                print("moved \(progress.moved) instance(s) to \(workflow) v\(toVersion) in \(progress.batches) batch(es)")
            }
        }
        if let progress, remaining > 0 {
            let steps = progress.remaining.groups.map { "\($0.step) (\($0.count))" }.joined(separator: ", ")
            FileHandle.standardError.write(Data(
                "error: \(remaining) instance(s) are still on v\(fromVersion) (\(progress.remaining.held) held by a worker; at \(steps)); run the same command again to finish\n".utf8))
            throw ExitCode(1)
        }
    }

    static func describe(_ plan: MigrationPlan, held: Int, recompute: Bool) -> String {
        var lines = ["plan: \(plan.workflow) v\(plan.fromVersion) -> v\(plan.toVersion), \(plan.total) instance(s)"]
        if plan.moves.isEmpty { lines.append("  no selected instance stands on v\(plan.fromVersion)") }
        for move in plan.moves {
            let ids = move.sample.prefix(5).map(String.init).joined(separator: ", ") + (move.count > min(5, move.sample.count) ? ", …" : "")
            lines.append("  \(move.from) -> \(move.to) (\(move.kind)): \(move.count) (\(ids))")
        }
        if held > 0 { lines.append("held by a worker now: \(held) (retried until the worker lets go)") }
        if plan.moves.contains(where: { $0.kind == "wait_for_sla" }) {
            lines.append(recompute ? "deadlines: recomputed on the new waits' clocks from when each wait began"
                                   : "deadlines: kept (--recompute-deadlines counts them again on the new waits)")
        }
        return lines.joined(separator: "\n")
    }
}
