import ArgumentParser
import Baton
import BatonCore
import Foundation

struct Instances: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List and inspect workflow instances.",
        discussion: """
            Examples:
              batonctl instances list --workflow inbound-lead --state waiting
              batonctl instances show 42
              batonctl instances migrate --workflow inbound-lead --from-version 1 --to-version 2 --dry-run
            """,
        subcommands: [List.self, Show.self, InstancesMigrate.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List instances, oldest first (or as --sort says), a page at a time.",
            discussion: """
                The filters and sorts are those of GET /v1/instances and the console's instances page. When \
                more rows match than --limit, the command that prints the next page goes to standard error.

                Examples:
                  batonctl instances list --workflow inbound-lead --state waiting --json
                  batonctl instances list --sort -updated_at --started-after 2026-11-01T00:00:00Z
                """)
        @OptionGroup var database: DatabaseOptions
        @Option(help: "Only this workflow.") var workflow: String?
        @Option(help: "Only this version of the workflow.") var version: String?
        @Option(help: "Only this state: ready, running, waiting, completed, failed, cancelled.") var state: String?
        @Option(help: "Only contacts owned by this member.") var owner: String?
        @Option(help: "Only contacts in this team.") var team: String?
        @Option(help: "Only instances at this step.") var step: String?
        @Option(help: "Only this contact's instances.") var contact: String?
        @Option(help: "Only instances started at or after this RFC 3339 time.") var startedAfter: String?
        @Option(help: "Only instances started before this RFC 3339 time.") var startedBefore: String?
        @Option(parsing: .unconditional, help: "Order: id, -id, run_at, -run_at, updated_at, -updated_at (- is descending).")
        var sort: String?
        @Option(help: "Continue after this cursor (printed when there are more rows).") var after: String?
        @Option(help: "At most this many (read from the database 1,000 at a time).") var limit = 100
        @Flag(help: "Print JSON.") var json = false

        /// The options as the API's query parameters, so that both check them with the same words.
        func query() throws -> InstanceQuery {
            let given: [String: String?] = [
                "workflow": workflow, "version": version, "state": state, "owner": owner, "team": team, "step": step,
                "contact": contact, "started_after": startedAfter, "started_before": startedBefore, "sort": sort,
            ]
            var query: InstanceQuery
            do {
                query = try InstanceQuery.parse { name in given[name].flatMap { $0 }.flatMap { $0.isEmpty ? nil : $0 } }
            } catch {
                throw ValidationError(String(describing: error).replacingOccurrences(of: "_", with: "-"))
            }
            query.limit = min(limit, 1000)
            if let after {
                guard let cursor = InstanceCursor(text: after) else {
                    throw ValidationError("--after takes the cursor a previous page printed")
                }
                query.after = cursor
            }
            return query
        }

        func validate() throws {
            if limit < 1 { throw ValidationError("--limit must be at least 1") }
            _ = try query()
        }

        func run() async throws {
            let store = try database.store(connections: 1)
            // Pages of at most 1,000 (the API's bound), followed until --limit rows are read.
            var query = try query()
            var page = try await store.instancePage(query)
            while page.items.count < limit, let next = page.next_cursor {
                query.after = InstanceCursor(text: next)
                query.limit = min(1000, limit - page.items.count)
                let more = try await store.instancePage(query)
                page.items += more.items
                page.next_cursor = more.next_cursor
            }
            await store.pool.close()
            if json {
                try printJSON(page.items)
            } else {
                print(table(["ID", "WORKFLOW", "V", "CONTACT", "STATE", "STEP", "OWNER", "TEAM", "RUN_AT"], page.items.map {
                    [$0.id, $0.workflow, String($0.version), $0.contact, $0.state, $0.step, $0.owner ?? "-", $0.team ?? "-", rfc3339($0.run_at)]
                }))
            }
            if let next = page.next_cursor {
                // The same command again without its cursor (and never the database URL: it may hold a password).
                var words: [String] = []
                var skip = false
                for word in CommandLine.arguments.dropFirst() {
                    if skip { skip = false; continue }
                    if ["--after", "--database-url"].contains(word) { skip = true; continue }
                    if word.hasPrefix("--after=") || word.hasPrefix("--database-url=") { continue }
                    words.append(word)
                }
                FileHandle.standardError.write(Data("more: batonctl \(words.joined(separator: " ")) --after \(next)\n".utf8))
            }
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
