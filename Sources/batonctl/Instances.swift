import ArgumentParser
import Baton
import BatonCore
import Foundation

struct Instances: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List and inspect workflow instances.", subcommands: [List.self, Show.self, InstancesMigrate.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List instances, oldest first.",
            discussion: "Example:\n  batonctl instances list --workflow inbound-lead --state waiting --json")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "Only this workflow.") var workflow: String?
        @Option(help: "Only this state: ready, running, waiting, completed, failed, cancelled.") var state: String?
        @Option(help: "Only contacts owned by this member.") var owner: String?
        @Option(help: "Only contacts in this team.") var team: String?
        @Option(help: "Only instances at this step.") var step: String?
        @Option(help: "Only this contact's instances.") var contact: String?
        @Option(help: "At most this many.") var limit = 100
        @Flag(help: "Print JSON.") var json = false

        func validate() throws {
            let states = ["ready", "running", "waiting", "completed", "failed", "cancelled"]
            if let state, !states.contains(state) { throw ValidationError("--state must be one of \(states.joined(separator: ", "))") }
            if limit < 1 { throw ValidationError("--limit must be at least 1") }
        }

        func run() async throws {
            let store = try database.store(connections: 1)
            let rows = try await store.instances(InstanceFilter(workflow: workflow, state: state, owner: owner, team: team, step: step, contact: contact, limit: limit))
            await store.pool.close()
            if json { try printJSON(rows); return }
            print(table(["ID", "WORKFLOW", "V", "CONTACT", "STATE", "STEP", "OWNER", "TEAM", "RUN_AT"], rows.map {
                [$0.id, $0.workflow, String($0.version), $0.contact, $0.state, $0.step, $0.owner ?? "-", $0.team ?? "-", rfc3339($0.run_at)]
            }))
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one instance and its whole timeline.",
            discussion: "Example:\n  batonctl instances show 42 --json")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The instance id.") var id: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            guard let number = Int(id) else { throw BatonError.invalid("instance ids are numbers, got \(id)") }
            let store = try database.store(connections: 1)
            let found = try await store.instance(number)
            let (sla, pauses) = found == nil ? (nil, []) : try await store.instanceSLA(number)
            await store.pool.close()
            guard let (summary, lastError, timeline) = found else { throw BatonError.notFound("no instance \(id)") }
            if json {
                try printJSON(InstanceDetail(summary, lastError: lastError, timeline: timeline, sla: sla, pauses: pauses))
                return
            }
            print("instance \(summary.id): \(summary.workflow) v\(summary.version), contact \(summary.contact)")
            print("state \(summary.state) at step \(summary.step); owner \(summary.owner ?? "-") (\(summary.team ?? "-")); priority \(summary.priority)")
            if let sla { print(slaLine(sla)) }
            if let lastError { print("last error: \(lastError)") }
            print(table(["SEQ", "AT", "STEP", "FROM", "TO", "OWNER", "WORKER", "TRY", "DETAIL"], timeline.map {
                [String($0.seq), rfc3339($0.at), $0.step, $0.from_state, $0.to_state, $0.owner ?? "-", $0.worker ?? "-",
                 String($0.attempt), ($0.error.map { "error: \($0)" } ?? $0.detail ?? "")]
            }))
        }
    }
}

/// `sla: deadline …, elapsed 1h20m, remaining 2h40m (business_hours (office))`, or paused since ….
func slaLine(_ sla: InstanceSLA) -> String {
    func span(_ seconds: Int) -> String { seconds == 0 ? "0s" : TimeSpan(seconds: seconds).description }
    var line = "sla: deadline \(rfc3339(sla.deadline)), elapsed \(span(sla.elapsedSeconds)), remaining \(span(sla.remainingSeconds))"
    line += " on the \(sla.clock) clock"
    if sla.paused, let since = sla.pausedAt {
        line += "; PAUSED since \(rfc3339(since)) by \(sla.pausedBy ?? "a pause_on event") (the deadline moves on resume)"
    }
    return line
}
