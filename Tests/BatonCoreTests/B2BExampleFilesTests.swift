import BatonCore
import Foundation
import Testing

/// The B2B example in `examples/b2b/` loads cleanly against its own team file.
@Suite struct B2BExampleFilesTests {
    static func known() throws -> KnownNames {
        let teams = try DefinitionLoader.teams(from: example("b2b/teams.yaml"), file: "examples/b2b/teams.yaml")
        return KnownNames(
            teams: Set(teams.teams.map(\.name)), calendars: Set(teams.calendars.map(\.name)), channels: [],
            members: Set(teams.teams.flatMap(\.members).map(\.id)))
    }

    @Test(arguments: ["company.yaml", "contact.yaml", "deal.yaml", "conversation.yaml"])
    func workflowLoadsAgainstTheB2BTeams(name: String) throws {
        #expect(workflowIssues(try example("b2b/\(name)"), file: "examples/b2b/\(name)", known: try Self.known()) == [])
    }

    @Test func eachKindHasItsWorkflowAndContactsAndDealsInherit() throws {
        let load = { (name: String) in try DefinitionLoader.workflow(from: example("b2b/\(name).yaml"), file: name) }
        #expect(try load("company").subjectKind == .company)
        #expect(try load("contact").subjectKind == .contact)
        #expect(try load("deal").subjectKind == .deal)
        #expect(try load("conversation").subjectKind == .conversation)
        for name in ["contact", "deal"] {
            guard case .assign(let assign, _) = try load(name).steps.first?.action else { Issue.record("\(name): no assign"); continue }
            #expect(assign.strategy == .account)
        }
        guard case .assign(let service, _) = try load("conversation").steps.first?.action else { Issue.record("no assign"); return }
        #expect(service.team == "service")
        #expect(service.workingHours == .wait)
    }
}
