import ArgumentParser
import Baton
import BatonCore
import Foundation

struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a workflow file for a contact on a virtual clock, without storing or sending anything.",
        discussion: """
            Prints each step with its virtual time: who would be assigned and why, what would be sent to \
            whom, when each wait's deadline falls on its calendar, which branch is taken, and where an SLA \
            is met or breached given the events file (a YAML list: `- { at: +2h, event: first_touch }`, or \
            RFC 3339 times). With --teams FILE no database is needed; otherwise the live teams, members, \
            rotation positions and the stored contact are read (never written). \
            --matrix runs every row of a CSV file (a `contact` column, every other column an attribute) in \
            file order and prints one line each: result, final owner and team, breaches, path.

            Examples:
              batonctl simulate examples/inbound-lead.yaml --teams examples/teams.yaml --contact C-1 \\
                --attr country=FR --attr tier=smb --at 2026-12-24T14:00:00Z --events touches.yaml
              batonctl simulate examples/b2b/conversation.yaml --teams examples/b2b/teams.yaml \
                --record conversation:T-1 --events examples/b2b/conversation-events.yaml
              batonctl simulate examples/inbound-lead.yaml --matrix examples/contacts.csv
            """)

    @OptionGroup var database: DatabaseOptions
    @Argument(help: "The workflow file (YAML or JSON).") var file: String
    @Option(help: "The contact's id.") var contact: String?
    @Option(help: "A record of the workflow's subject kind, as KIND:ID (contact, company, deal, conversation).")
    var record: String?
    @Option(name: .customLong("attr"), help: "An attribute as key=value (repeatable).") var attributes: [String] = []
    @Option(help: "A YAML list of { at: +2h | RFC 3339, event: NAME }.") var events: String?
    @Option(help: "The virtual time the contact is enrolled, RFC 3339 (default: now).") var at: String?
    @Option(help: "A team file to route with instead of the database's teams.") var teams: String?
    @Option(help: "A CSV file of contacts (a `contact` column) to simulate one after the other.") var matrix: String?
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        if [contact, record, matrix].compactMap({ $0 }).count != 1 {
            throw ValidationError("give one of --contact ID, --record KIND:ID or --matrix FILE")
        }
        if let contact, let problem = RecordRef.contactIDProblem(contact) { throw ValidationError(problem) }
        if let record { do { _ = try RecordRef.parseOption(record) } catch { throw ValidationError(error.message) } }
        if matrix != nil, !attributes.isEmpty {
            throw ValidationError("--attr goes with --contact or --record; the matrix file has the attributes")
        }
        for attribute in attributes where !attribute.contains("=") {
            throw ValidationError("--attr takes key=value, got \(attribute)")
        }
        if let at, parseRFC3339(at) == nil {
            throw ValidationError("--at: bad time \(at) (write an RFC 3339 time such as 2026-12-01T09:00:00Z)")
        }
    }

    func run() async throws {
        let start = at.flatMap(parseRFC3339) ?? Date()
        let text = try readInputFile(file)
        let timeline = try events.map { try DefinitionLoader.simulationEvents(from: readInputFile($0), file: $0) } ?? []
        var directory: Directory
        var rotation: Rotation
        let known: KnownNames
        let store: Store? = teams == nil ? try database.store(connections: 1) : nil
        defer { if let store { Task { await store.pool.close() } } }
        if let teams {
            let teamsFile = try DefinitionLoader.teams(from: readInputFile(teams), file: teams)
            directory = teamsFile.directory()
            rotation = Rotation()
            known = KnownNames(teams: Set(teamsFile.teams.map(\.name)), calendars: Set(teamsFile.calendars.map(\.name)),
                               members: Set(teamsFile.teams.flatMap(\.members).map(\.id)), stages: teamsFile.lifecycle)
        } else if let live = store {
            known = try await live.knownNames()
            directory = try await live.directory()
            rotation = Rotation(starts: try await live.routingPositions())
        } else {
            throw ValidationError("give --teams FILE or a database")
        }
        let definition = try DefinitionLoader.workflow(from: text, file: file, known: known)
        let simulator = Simulator(definition: definition)

        var contacts: [ContactSnapshot] = []
        if let matrix {
            let parsed = ContactFile.parseCSV(try readInputFile(matrix))
            for problem in parsed.1 {
                FileHandle.standardError.write(Data("\(matrix):\(problem.line): \(problem.message) (skipped)\n".utf8))
            }
            contacts = parsed.0.map { ContactSnapshot(id: $0.contact, attributes: $0.attributes) }
        } else if let contact = try contact ?? record.map({ try RecordRef.parseOption($0).storageKey }) {
            let ref = RecordRef(storageKey: contact)
            let subject = definition.subjectKind
            if ref.kind != subject {
                throw BatonError.invalid(
                    "workflow \(definition.name) runs on \(subject.rawValue) records (subject: \(subject.rawValue)); \(ref) is a "
                    + "\(ref.kind.rawValue)" + (subject == .contact ? ": give --contact ID" : ": simulate it with --record \(subject.rawValue):ID"))
            }
            var snapshot = ContactSnapshot(id: contact)
            if let store, let stored = try await store.contact(contact) {
                snapshot = ContactSnapshot(id: contact, attributes: stored.attributes, owner: stored.owner,
                                           backupOwner: stored.backup, team: stored.team)
            }
            for attribute in attributes {
                let parts = attribute.split(separator: "=", maxSplits: 1)
                snapshot.attributes[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
            }
            contacts = [snapshot]
        }

        let before = directory
        let traces = contacts.map {
            simulator.run(contact: $0, start: start, events: timeline, directory: &directory, rotation: &rotation)
        }
        if json {
            if matrix != nil {
                struct Row: Encodable {
                    var contact: String
                    var attributes: [String: String]
                    var state: String
                    var outcome: String?
                    var owner: String?
                    var team: String?
                    var breaches: [String]
                    var path: [String]
                }
                try printJSON(traces.map {
                    Row(contact: $0.contact, attributes: $0.attributes, state: $0.result.state, outcome: $0.result.outcome,
                        owner: $0.result.owner, team: $0.result.team, breaches: $0.result.breaches, path: $0.result.path)
                })
            } else {
                try printJSON(traces[0])
            }
            return
        }
        if matrix != nil {
            print(SimulationReport.matrix(traces))
        } else {
            print(SimulationReport.text(traces[0], directory: before))
        }
    }
}
