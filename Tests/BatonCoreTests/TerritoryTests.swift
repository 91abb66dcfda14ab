import BatonCore
import Foundation
import Testing

/// Teams sales-emea (ana, ben), sales-dach (dirk), leads (maria); a route step with a country rule
/// to sales-dach and a tier rule to maria.
private let directory = Directory(
    teams: [TeamInfo(name: "sales-emea", members: ["ana", "ben"]), TeamInfo(name: "sales-dach", members: ["dirk"]),
            TeamInfo(name: "leads", members: ["maria"])],
    members: [MemberInfo(id: "ana", name: "Ana", team: "sales-emea"), MemberInfo(id: "ben", name: "Ben", team: "sales-emea"),
              MemberInfo(id: "dirk", name: "Dirk", team: "sales-dach"), MemberInfo(id: "maria", name: "Maria", team: "leads")])

private let definition = WorkflowDefinition(name: "lead", start: "route", steps: [
    Step(id: "route", action: .assign(Assign(
        team: "sales-emea", strategy: .rules,
        rules: [Rule(name: "dach", when: Condition([.init(attribute: "country", tests: [.oneOf(["DE", "AT", "CH"])])]), team: "sales-dach"),
                Rule(name: "enterprise", when: Condition([.init(attribute: "tier", tests: [.equals("enterprise")])]), member: "maria")],
        otherwise: .roundRobin), next: "done")),
    Step(id: "done", action: .end(End())),
])

private func check(_ attributes: [String: String], owner: String?, _ dir: Directory = directory) -> Territory.Conflict? {
    Territory.conflict(definition: definition, attributes: attributes, owner: owner, directory: dir)
}

@Suite struct TerritoryTests {
    @Test func ownersInsideTheirTerritoryFit() {
        #expect(check(["country": "DE"], owner: "dirk") == nil)
        #expect(check(["country": "FR"], owner: "ana") == nil)
        #expect(check(["country": "FR", "tier": "enterprise"], owner: "maria") == nil)
        #expect(check(["country": "FR"], owner: nil) == nil)
    }

    @Test func aMatchingTeamRuleNamesTheRuleAndAttribute() {
        let found = check(["country": "AT"], owner: "ana")
        #expect(found?.step == "route")
        #expect(found?.rule == "rule:dach")
        #expect(found?.attributes == ["country"])
        #expect(found?.expectedTeam == "sales-dach")
        #expect(found?.detail == "step route: rule:dach matches (country=AT) and routes to team sales-dach; the owner ana is in sales-emea")
    }

    @Test func aMatchingMemberRuleWantsThatMember() {
        let found = check(["country": "FR", "tier": "enterprise"], owner: "ben")
        #expect(found?.rule == "rule:enterprise")
        #expect(found?.expectedMember == "maria")
        #expect(found?.attributes == ["tier"])
    }

    @Test func anInactiveRuleMemberFallsBackToTheStepsTeam() {
        var dir = directory
        dir.members["maria"]?.active = false
        #expect(check(["tier": "enterprise"], owner: "ben", dir) == nil)
        #expect(check(["tier": "enterprise"], owner: "dirk", dir)?.rule == "rule:enterprise")
    }

    @Test func anAttributeThatChangedLeavesTheOwnerOutsideAndSaysWhichRuleNoLongerHolds() {
        // Routed to DACH when the country was DE; the country is now FR.
        let found = check(["country": "FR"], owner: "dirk")
        #expect(found?.rule == "otherwise")
        #expect(found?.attributes == ["country"])
        #expect(found?.expectedTeam == "sales-emea")
        #expect(found?.detail.hasSuffix("dirk's territory is rule:dach, which no longer matches (country=FR)") == true)
    }

    @Test func workflowsWithoutRulesHaveNoTerritory() {
        let plain = WorkflowDefinition(name: "p", start: "a", steps: [
            Step(id: "a", action: .assign(Assign(team: "sales-emea"), next: "b")), Step(id: "b", action: .end(End())),
        ])
        #expect(Territory.conflict(definition: plain, attributes: [:], owner: "dirk", directory: directory) == nil)
    }
}
