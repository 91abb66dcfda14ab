import ArgumentParser
import Baton
import BatonCore
import Foundation
import Postgres

/// The admin CLI. Exit status: 0 ok, 1 a user error (one line says what and how to fix it),
/// 2 an internal fault.
@main
struct Batonctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batonctl",
        abstract: "Apply Baton's teams and workflows, enroll contacts, send signals, inspect instances.",
        discussion: """
            The database comes from --database-url (or --database-url-file), then DATABASE_URL, then the \
            configuration file baton-worker reads (--config, BATON_CONFIG, or ./baton.yaml: its \
            database_url, database_url_file and pooler; other keys are ignored), then libpq's PG* variables.

            A first session:
              batonctl migrate
              batonctl teams apply examples/teams.yaml
              batonctl workflows apply examples/inbound-lead.yaml
              batonctl start inbound-lead --contact C-1001 --attr country=DE --attr tier=enterprise
              batonctl signal first_touch --contact C-1001
            """,
        subcommands: [
            Migrate.self, Teams.self, Channels.self, Workflows.self, Start.self, SignalCommand.self, Instances.self,
            Simulate.self, StatsCommand.self, Outbox.self, Stuck.self, Retry.self, Cancel.self, Resume.self, Contacts.self, Records.self,
            Reassign.self, Audit.self, Tokens.self, SourcesCommand.self, Prune.self, Schedules.self, Roles.self,
        ])

    static func main() async {
        do {
            var command = try parseAsRoot(Self.globalOptionsLast(Array(CommandLine.arguments.dropFirst())))
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withCode: Self.report(error))
        }
    }

    /// The options every database command takes (`--database-url`, `--database-url-file`,
    /// `--config`) may also come before the subcommand, as in git or kubectl:
    /// `batonctl --database-url URL instances list`. They are moved behind the subcommand's own
    /// arguments (before a `--`, if any).
    static func globalOptionsLast(_ arguments: [String]) -> [String] {
        let global = ["--database-url", "--database-url-file", "--config"]
        let end = arguments.firstIndex(of: "--") ?? arguments.count
        var rest: [String] = []
        var moved: [String] = []
        var i = 0
        while i < end {
            let argument = arguments[i]
            if global.contains(argument), i + 1 < end {
                moved += [argument, arguments[i + 1]]
                i += 2
            } else if global.contains(where: { argument.hasPrefix($0 + "=") }) {
                moved.append(argument)
                i += 1
            } else {
                rest.append(argument)
                i += 1
            }
        }
        return rest + moved + arguments[end...]
    }

    /// Prints an error as one line (or one line per definition issue) and picks the exit status.
    static func report(_ error: Error) -> Int32 {
        let code = exitCode(for: error)
        if code.rawValue == 0 || error is CleanExit {
            // --help, --version
            Self.exit(withError: error)
        }
        switch error {
        case let issues as DefinitionErrors:
            FileHandle.standardError.write(Data((issues.description + "\n").utf8))
            return 1
        case let error as BatonError:
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            return 1
        case let error as PostgresError where error.isInsufficientPrivilege:
            FileHandle.standardError.write(Data((privilegeLine(error) + "\n").utf8))
            return 1
        case let error as PostgresError:
            var line = "error: \(error)"
            if error.code == .connectionFailed {
                let env = ProcessInfo.processInfo.environment
                let given = ["DATABASE_URL", "PGHOST", "BATON_DATABASE_URL_FILE", "BATON_CONFIG"].contains { !(env[$0] ?? "").isEmpty }
                    || CommandLine.arguments.contains { $0.hasPrefix("--database-url") || $0.hasPrefix("--config") }
                    || FileManager.default.fileExists(atPath: "baton.yaml")
                if !given {
                    line += "\n  no database was named: pass --database-url URL, set DATABASE_URL, or write database_url_file in baton.yaml"
                        + " (a private one for trying Baton: export DATABASE_URL=$(scripts/pg start))"
                }
            }
            FileHandle.standardError.write(Data((line + "\n").utf8))
            return error.code == .connectionFailed || error.code == .invalidConfiguration ? 1 : 2
        case let error as ExitCode:
            return error.rawValue
        default:
            if code.rawValue == 64 || error is ValidationError {  // usage errors from ArgumentParser
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                return 1
            }
            FileHandle.standardError.write(Data("internal error: \(error)\n".utf8))
            return 2
        }
    }

    /// A refused privilege as one line: who lacks what, and which role has it. `migrate` and
    /// `roles` are the owner's; every other command is baton_admin's (docs/operations.md, Roles).
    static func privilegeLine(_ error: PostgresError) -> String {
        // The subcommand's words ("teams apply"), up to the first option or file.
        let words = globalOptionsLast(Array(CommandLine.arguments.dropFirst()))
            .prefix { $0.allSatisfy { $0.isLowercase || $0 == "-" } && !$0.hasPrefix("-") }.prefix(2)
        let command = words.joined(separator: " ")
        let role = ["migrate", "roles"].contains(words.first ?? "") ? "baton_owner" : "baton_admin"
        let who = error.user.map { "database user \($0)" } ?? "this database user"
        return "error: the \(who) may not do this: \(error.message); `batonctl \(command)` needs a member of \(role)"
            + " (see docs/operations.md, Roles)"
    }

    static func exit(withCode code: Int32) -> Never {
        Foundation.exit(code)
    }
}

/// The database options of every command that talks to the database: `--database-url`,
/// `--database-url-file` and `--config`. Each database setting (`SettingsCatalogue.client`) comes
/// from its flag, then its variable, then the configuration file the worker and server read, then
/// the default; the file's other keys are theirs and ignored here.
struct DatabaseOptions: ParsableArguments {
    @Option(help: "Read the database settings (database_url_file, pooler) from this YAML file, the one baton-worker reads (default: BATON_CONFIG, then ./baton.yaml if it exists).")
    var config: String?
    @Option(name: .customLong("database-url"), help: "libpq URL or key=value string (default: DATABASE_URL, then the configuration file, then PG* variables).")
    var databaseURL: String?
    @Option(name: .customLong("database-url-file"), help: "Read the database URL from this file (keeps it out of `ps`).")
    var databaseURLFile: String?

    /// The database settings: flag, then environment, then the configuration file, then the default.
    func settings(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Settings {
        let flags: [String: String?] = ["database_url": databaseURL, "database_url_file": databaseURLFile]
        return try Settings.resolve(SettingsCatalogue.client, otherKeys: SettingsCatalogue.allKeys, flags: flags.compactMapValues { $0 },
                                    configFlag: config, environment: environment)
    }

    /// Where the commands connect, as the settings say.
    func connectionConfig() throws -> ConnectionConfig {
        let settings = try settings()
        var config = try ConnectionConfig.fromEnvironment(
            url: try Baton.databaseURL(flag: settings["database_url"], file: settings["database_url_file"]), applicationName: "batonctl")
        config.pooling = try Baton.pooling(flag: settings["pooler"], environment: [:])
        return config
    }

    func store(connections: Int = 4) throws -> Store {
        Store(pool: ConnectionPool(try connectionConfig(), maxConnections: connections))
    }
}

/// Reads a file given on the command line, with a one-line error when it cannot be read.
func readInputFile(_ path: String) throws -> String {
    guard FileManager.default.fileExists(atPath: path) else { throw BatonError.notFound("no such file: \(path)") }
    guard let data = FileManager.default.contents(atPath: path) else { throw BatonError.invalid("cannot read \(path)") }
    guard let text = String(data: data, encoding: .utf8) else { throw BatonError.invalid("\(path) is not UTF-8 text") }
    return text
}

/// Prints a value as pretty JSON with RFC 3339 UTC times.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .rfc3339
    let text = String(decoding: try encoder.encode(value), as: UTF8.self)
    // An empty array prints as [] (the encoder's pretty form is "[\n\n]").
    print(text.filter { !$0.isWhitespace } == "[]" ? "[]" : text)
}

/// Formats rows as an aligned table.
func table(_ header: [String], _ rows: [[String]]) -> String {
    var widths = header.map(\.count)
    for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { i, cell in
            i == cells.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
    }
    return ([line(header)] + rows.map(line)).joined(separator: "\n")
}

func rfc3339(_ date: Date?) -> String {
    guard let date else { return "-" }
    return RFC3339.string(date)
}
