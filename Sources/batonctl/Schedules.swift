import ArgumentParser
import Baton
import BatonCore
import Foundation

struct Schedules: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage schedules: work the workers run on a clock, such as the weekly exception report.",
        discussion: """
            Examples:
              batonctl schedules apply examples/schedules.yaml
              batonctl schedules list
              batonctl schedules report weekly-exceptions
            """,
        subcommands: [Apply.self, List.self, Report.self, Remove.self])

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a schedules file and upsert its schedules.",
            discussion: """
                Each schedule has a cron expression (5 fields, or 6 with seconds first) read in its \
                timezone, and an action; the workers run each period exactly once. Re-applying an \
                unchanged cron and timezone keeps the next run. A schedule the file leaves out stays \
                (remove it with batonctl schedules remove NAME). Nothing is stored when the file has a \
                mistake; each one is reported as FILE:LINE:COLUMN: field: problem.

                Example:
                  batonctl schedules apply examples/schedules.yaml
                """)
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The schedules file (YAML).") var file: String

        func run() async throws {
            let text = try readInputFile(file)
            let store = try database.store(connections: 1)
            defer { Task { await store.pool.close() } }
            let schedules = try DefinitionLoader.schedules(from: text, file: file, known: try await store.knownNames())
            for result in try await store.applySchedules(schedules) {
                print("\(result.name) \(result.outcome), next run \(rfc3339(result.nextRunAt))")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List schedules with their next and last run.",
            discussion: "Example:\n  batonctl schedules list --json")
        @OptionGroup var database: DatabaseOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let store = try database.store(connections: 1)
            let schedules = try await store.schedules()
            await store.pool.close()
            if json { try printJSON(schedules); return }
            if schedules.isEmpty { print("no schedules (apply a file with batonctl schedules apply FILE)"); return }
            print(table(["NAME", "CRON", "TIMEZONE", "ACTION", "CHANNEL", "NEXT RUN", "LAST RUN", "RUNS"], schedules.map {
                [$0.name, $0.cron, $0.timezone, $0.action, $0.channel, rfc3339($0.next_run_at),
                 $0.last_run_at.map(rfc3339) ?? "-", String($0.runs)]
            }))
        }
    }

    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print what a schedule's last run sent, message by message.",
            discussion: "Example:\n  batonctl schedules report weekly-exceptions")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The schedule's name.") var name: String

        func run() async throws {
            let store = try database.store(connections: 1)
            let found = try await store.lastScheduleMessages(name)
            await store.pool.close()
            guard let (period, messages) = found else { throw BatonError.notFound("no schedule \(name): see batonctl schedules list") }
            guard let period else { print("\(name) has not run yet"); return }
            print("\(name): last run for \(rfc3339(period)), \(messages.count) message(s)")
            for message in messages {
                let to = message.recipient.map { id in message.recipientEmail.map { "\(id) <\($0)>" } ?? id } ?? "nobody in particular"
                print("\n-- via \(message.channel) to \(to)")
                print(message.message)
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a schedule (and its run records).",
            discussion: "Example:\n  batonctl schedules remove weekly-exceptions")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The schedule's name.") var name: String

        func run() async throws {
            let store = try database.store(connections: 1)
            let removed = try await store.removeSchedule(name)
            await store.pool.close()
            guard removed else { throw BatonError.notFound("no schedule \(name): see batonctl schedules list") }
            print("removed \(name)")
        }
    }
}
