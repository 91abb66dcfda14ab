@testable import BatonCore
import Foundation
import Testing

/// Routes one contact; returns the decision, and the directory and rotation after it.
private func route(
    _ dir: inout Directory, rotation: inout Rotation, team: String = "sales", strategy: Strategy = .roundRobin,
    rules: [Rule] = [], otherwise: Strategy? = nil, fallback: Fallback = .queue,
    contact: ContactSnapshot = ContactSnapshot(id: "C-1"), now: Date = t0
) -> Router.Decision {
    Router.route(team: team, strategy: strategy, rules: rules, otherwise: otherwise, fallback: fallback, contact: contact,
                 directory: &dir, rotation: &rotation, now: now)
}

/// One routing at rotation position `position` against a fresh copy of `dir`.
private func route(
    _ dir: Directory, at position: Int = 0, team: String = "sales", strategy: Strategy = .roundRobin, rules: [Rule] = [],
    otherwise: Strategy? = nil, fallback: Fallback = .queue, contact: ContactSnapshot = ContactSnapshot(id: "C-1")
) -> Router.Decision {
    var dir = dir
    var rotation = Rotation(starts: [team: position])
    return route(&dir, rotation: &rotation, team: team, strategy: strategy, rules: rules, otherwise: otherwise,
                 fallback: fallback, contact: contact)
}

/// The member ids chosen for `count` consecutive positions from `start`, the directory updated as it goes.
private func picks(_ dir: inout Directory, count: Int, start: Int = 0, team: String = "sales",
                   strategy: Strategy = .roundRobin) -> [String] {
    var rotation = Rotation(starts: [team: start])
    return (0..<count).map { _ in
        if case .member(let id, _, _) = route(&dir, rotation: &rotation, team: team, strategy: strategy) { return id }
        return "-"
    }
}

private func counts(_ ids: [String]) -> [String: Int] { ids.reduce(into: [:]) { $0[$1, default: 0] += 1 } }

private func spread(_ ids: [String], over members: [String]) -> Int {
    let c = counts(ids)
    let values = members.map { c[$0, default: 0] }
    return values.max()! - values.min()!
}

private func threeSellers(_ ana: MemberInfo = member("ana"), _ ben: MemberInfo = member("ben"),
                          _ cara: MemberInfo = member("cara")) -> Directory {
    directory(team("sales", [cara, ana, ben]), team("leads", [member("maria")]))
}

@Suite struct RotationTests {
    @Test func positionsStartAtTheReservedBlock() {
        var rotation = Rotation(starts: ["sales": 10])
        let positions = [rotation.next("sales"), rotation.next("sales")]
        #expect(positions == [10, 11])
        #expect(rotation.used == ["sales": 2])
    }

    @Test func aCountingRotationStartsAtZeroPerTeam() {
        var rotation = Rotation()
        let positions = [rotation.next("a"), rotation.next("b"), rotation.next("a")]
        #expect(positions == [0, 0, 1])
        #expect(rotation.used == ["a": 2, "b": 1])
    }
}

@Suite struct EligibilityTests {
    @Test func inactiveMemberIsNotEligible() { #expect(!member("a", active: false).isEligible(at: t0)) }
    @Test func memberOutOfOfficeUntilAFutureInstantIsNotEligible() {
        #expect(!member("a", away: t0.addingTimeInterval(1)).isEligible(at: t0))
    }
    @Test func memberWhoseOutOfOfficeEndedIsEligible() { #expect(member("a", away: t0).isEligible(at: t0)) }
    @Test func memberAtCapacityIsNotEligible() { #expect(!member("a", capacity: 3, open: 3).isEligible(at: t0)) }
    @Test func memberUnderCapacityIsEligible() { #expect(member("a", capacity: 3, open: 2).isEligible(at: t0)) }
    @Test func memberWithoutCapacityIsAlwaysEligible() { #expect(member("a", open: 10_000).isEligible(at: t0)) }
}

@Suite struct RoundRobinTests {
    @Test func membersTakeTurnsInSortedIdOrder() {
        var dir = threeSellers()
        #expect(picks(&dir, count: 4) == ["ana", "ben", "cara", "ana"])
    }

    @Test func positionPicksTheMember() {
        #expect(route(threeSellers(), at: 5) == .member("cara", team: "sales", reason: "round_robin"))
    }

    @Test func inactiveMemberIsSkipped() {
        var dir = threeSellers(member("ana", active: false))
        #expect(picks(&dir, count: 4) == ["ben", "cara", "ben", "cara"])
    }

    @Test func outOfOfficeMemberIsSkipped() {
        var dir = threeSellers(member("ana"), member("ben", away: t0.addingTimeInterval(86400)))
        #expect(picks(&dir, count: 4) == ["ana", "cara", "ana", "cara"])
    }

    @Test func memberAtCapacityIsSkipped() {
        var dir = threeSellers(member("ana", capacity: 1))
        // ana is full after the first; the rotation goes on over ben and cara.
        #expect(picks(&dir, count: 4) == ["ana", "cara", "ben", "cara"])
    }

    @Test func assignmentCountsTowardsCapacity() {
        var dir = threeSellers()
        _ = picks(&dir, count: 4)
        #expect(dir.members.mapValues(\.openCount) == ["ana": 2, "ben": 1, "cara": 1, "maria": 0])
    }

    @Test func nobodyEligibleQueuesByDefault() {
        let dir = threeSellers(member("ana", active: false), member("ben", active: false), member("cara", active: false))
        #expect(route(dir) == .queue(team: "sales", reason: "queued: nobody eligible in sales"))
    }

    @Test func nobodyEligibleWithFallbackFailFails() {
        let dir = threeSellers(member("ana", active: false), member("ben", active: false), member("cara", active: false))
        #expect(route(dir, fallback: .fail) == .fail("nobody eligible in team sales"))
    }

    @Test func nobodyEligibleWithFallbackBackupTakesTheContactsBackupOwner() {
        let dir = threeSellers(member("ana", active: false), member("ben", active: false), member("cara", active: false))
        let contact = ContactSnapshot(id: "C-1", owner: "ana", backupOwner: "maria")
        #expect(route(dir, fallback: .backup, contact: contact) == .member("maria", team: "leads", reason: "fallback:backup"))
    }

    @Test func fallbackBackupUsesTheOwnersMemberBackupWhenTheContactHasNone() {
        let dir = threeSellers(member("ana", active: false, backup: "maria"), member("ben", active: false), member("cara", active: false))
        let contact = ContactSnapshot(id: "C-1", owner: "ana")
        #expect(route(dir, fallback: .backup, contact: contact) == .member("maria", team: "leads", reason: "fallback:backup"))
    }

    @Test func fallbackBackupWithNoEligibleBackupQueues() {
        let dir = threeSellers(member("ana", active: false, backup: "ben"), member("ben", active: false), member("cara", active: false))
        #expect(route(dir, fallback: .backup, contact: ContactSnapshot(id: "C-1", owner: "ana"))
                == .queue(team: "sales", reason: "queued: nobody eligible in sales and no eligible backup"))
    }

    @Test func unknownTeamFails() {
        #expect(route(threeSellers(), team: "nowhere") == .fail("unknown team nowhere"))
    }

    @Test func emptyTeamFallsBack() {
        #expect(route(directory(team("empty", [])), team: "empty") == .queue(team: "empty", reason: "queued: nobody eligible in empty"))
    }
}

@Suite struct FairnessTests {
    private let seven = ["m1", "m2", "m3", "m4", "m5", "m6", "m7"]

    private func sevenSellers() -> Directory { directory(team("sales", seven.map { member($0) })) }

    @Test func thousandAssignmentsOverSevenMembersDifferByAtMostOne() {
        var dir = sevenSellers()
        let ids = picks(&dir, count: 1000)
        #expect(spread(ids, over: seven) <= 1)
        #expect(ids.count == 1000)
    }

    @Test func blocksOfConsecutivePositionsTakenByManyWorkersStayFair() {
        // Ten workers each reserve a block of 100 positions, in any order.
        var ids: [String] = []
        for block in [3, 0, 7, 1, 9, 2, 8, 4, 6, 5] {
            var dir = sevenSellers()
            ids += picks(&dir, count: 100, start: block * 100)
        }
        #expect(spread(ids, over: seven) <= 1)
    }

    @Test func aMemberLeavingMidRotationLeavesTheRestSharingEvenly() {
        var dir = sevenSellers()
        _ = picks(&dir, count: 500)
        dir.members["m3"]?.active = false
        let after = picks(&dir, count: 600, start: 500)
        #expect(counts(after)["m3"] == nil)
        #expect(spread(after, over: seven.filter { $0 != "m3" }) <= 1)
    }
}

@Suite struct WeightedTests {
    @Test func sharesAreProportionalToWeight() {
        var dir = directory(team("sales", [member("a", weight: 3), member("b", weight: 2), member("c", weight: 1)]))
        #expect(counts(picks(&dir, count: 600, strategy: .weighted)) == ["a": 300, "b": 200, "c": 100])
    }

    @Test func sharesStayProportionalFromAnyStartingPosition() {
        var dir = directory(team("sales", [member("a", weight: 3), member("b", weight: 1)]))
        let c = counts(picks(&dir, count: 401, start: 13, strategy: .weighted))
        #expect(abs(c["a", default: 0] - 301) <= 2)
        #expect(abs(c["b", default: 0] - 100) <= 2)
    }

    @Test func weightZeroIsNeverChosen() {
        var dir = directory(team("sales", [member("a", weight: 2), member("b", weight: 0), member("c", weight: 1)]))
        #expect(counts(picks(&dir, count: 300, strategy: .weighted))["b"] == nil)
    }

    @Test func allWeightsZeroFallsBack() {
        let dir = directory(team("sales", [member("a", weight: 0), member("b", weight: 0)]))
        #expect(route(dir, strategy: .weighted) == .queue(team: "sales", reason: "queued: nobody eligible in sales"))
        #expect(route(dir, strategy: .weighted, fallback: .fail) == .fail("nobody eligible in team sales"))
    }

    @Test func twoToOneNeverGivesTheSameMemberThreeTimesInARow() {
        var dir = directory(team("sales", [member("a", weight: 2), member("b", weight: 1)]))
        let ids = picks(&dir, count: 300, strategy: .weighted)
        for i in 2..<ids.count {
            #expect(!(ids[i] == ids[i - 1] && ids[i] == ids[i - 2]), "three in a row ending at \(i)")
        }
    }

    @Test func smoothOrderSpreadsTheHeavierMember() {
        #expect((0..<6).map { Router.smoothWeightedIndex(weights: [2, 1], position: $0) } == [0, 1, 0, 0, 1, 0])
        #expect((0..<5).map { Router.smoothWeightedIndex(weights: [1, 4], position: $0) } == [1, 1, 0, 1, 1])
    }

    @Test func ineligibleMembersDropOutOfTheWeightedRotation() {
        var dir = directory(team("sales", [member("a", weight: 5, active: false), member("b", weight: 1), member("c", weight: 1)]))
        #expect(counts(picks(&dir, count: 100, strategy: .weighted)) == ["b": 50, "c": 50])
    }

    @Test func weightedDecisionIsRecordedAsWeighted() {
        #expect(route(directory(team("sales", [member("a")])), strategy: .weighted) == .member("a", team: "sales", reason: "weighted"))
    }
}

@Suite struct LeastLoadedTests {
    @Test func lowestOpenWorkToCapacityWins() {
        let dir = threeSellers(member("ana", capacity: 40, open: 10), member("ben", capacity: 10, open: 3), member("cara", capacity: 2, open: 1))
        #expect(route(dir, strategy: .leastLoaded) == .member("ana", team: "sales", reason: "least_loaded"))
    }

    @Test func tiesTakeTurnsThroughTheRotation() {
        let dir = threeSellers(member("ana", open: 1), member("ben", open: 1), member("cara", open: 4))
        #expect((0..<4).map { route(dir, at: $0, strategy: .leastLoaded) } == [
            .member("ana", team: "sales", reason: "least_loaded"), .member("ben", team: "sales", reason: "least_loaded"),
            .member("ana", team: "sales", reason: "least_loaded"), .member("ben", team: "sales", reason: "least_loaded"),
        ])
    }

    @Test func repeatedAssignmentsEvenOutTheLoad() {
        var dir = threeSellers(member("ana", open: 5), member("ben", open: 0), member("cara", open: 2))
        _ = picks(&dir, count: 8, strategy: .leastLoaded)
        #expect(dir.members.filter { $0.value.team == "sales" }.mapValues(\.openCount) == ["ana": 5, "ben": 5, "cara": 5])
    }

    @Test func memberAtCapacityIsSkipped() {
        let dir = threeSellers(member("ana", capacity: 2, open: 2), member("ben", capacity: 10, open: 9), member("cara", active: false))
        #expect(route(dir, strategy: .leastLoaded) == .member("ben", team: "sales", reason: "least_loaded"))
    }
}

@Suite struct RulesStrategyTests {
    private let german = ContactSnapshot(id: "C-1", attributes: ["country": "DE", "tier": "enterprise"])

    @Test func firstMatchingRuleWins() {
        let rules = [Rule(name: "dach", when: when(("country", .oneOf(["DE", "AT"]))), member: "cara"),
                     Rule(name: "big", when: when(("tier", .equals("enterprise"))), member: "maria")]
        #expect(route(threeSellers(), strategy: .rules, rules: rules, contact: german) == .member("cara", team: "sales", reason: "rule:dach"))
    }

    @Test func memberRulePicksThatMemberInWhateverTeam() {
        let rules = [Rule(when: when(("tier", .equals("enterprise"))), member: "maria")]
        #expect(route(threeSellers(), strategy: .rules, rules: rules, contact: german) == .member("maria", team: "leads", reason: "rule:rules[0]"))
    }

    @Test func teamRuleRoutesThroughThatTeam() {
        var dir = directory(team("sales", [member("ana")]), team("dach", [member("dirk"), member("greta")]))
        let rules = [Rule(name: "dach", when: when(("country", .equals("DE"))), team: "dach")]
        var rotation = Rotation(starts: ["dach": 1])
        #expect(route(&dir, rotation: &rotation, strategy: .rules, rules: rules, contact: german)
                == .member("greta", team: "dach", reason: "rule:dach"))
        #expect(rotation.used == ["dach": 1])
    }

    @Test func teamRuleUsesTheOtherwiseStrategyInThatTeam() {
        let dir = directory(team("sales", [member("ana")]), team("dach", [member("dirk", open: 3), member("greta", open: 1)]))
        let rules = [Rule(name: "dach", when: when(("country", .equals("DE"))), team: "dach")]
        #expect(route(dir, strategy: .rules, rules: rules, otherwise: .leastLoaded, contact: german)
                == .member("greta", team: "dach", reason: "rule:dach"))
    }

    @Test func noMatchingRuleUsesTheOtherwiseStrategy() {
        let rules = [Rule(name: "fr", when: when(("country", .equals("FR"))), member: "maria")]
        let dir = threeSellers(member("ana", open: 2), member("ben", open: 0), member("cara", open: 1))
        #expect(route(dir, strategy: .rules, rules: rules, otherwise: .leastLoaded, contact: german)
                == .member("ben", team: "sales", reason: "least_loaded"))
    }

    @Test func noMatchingRuleWithoutOtherwiseIsRoundRobin() {
        let rules = [Rule(name: "fr", when: when(("country", .equals("FR"))), member: "maria")]
        #expect(route(threeSellers(), at: 2, strategy: .rules, rules: rules, contact: german) == .member("cara", team: "sales", reason: "round_robin"))
    }

    @Test func ruleNamingAnIneligibleMemberRoutesThroughTheStepsTeam() {
        let dir = directory(team("sales", [member("ana")]), team("leads", [member("maria", away: t0.addingTimeInterval(86400))]))
        let rules = [Rule(name: "big", when: when(("tier", .equals("enterprise"))), member: "maria")]
        #expect(route(dir, strategy: .rules, rules: rules, fallback: .fail, contact: german) == .member("ana", team: "sales", reason: "round_robin"))
    }

    @Test func ruleNamingAnIneligibleMemberInATeamWithNobodyEligibleUsesTheFallback() {
        let dir = directory(team("sales", [member("ana", active: false)]), team("leads", [member("maria", active: false)]))
        let rules = [Rule(name: "big", when: when(("tier", .equals("enterprise"))), member: "maria")]
        #expect(route(dir, strategy: .rules, rules: rules, fallback: .fail, contact: german) == .fail("nobody eligible in team sales"))
    }
}

@Suite struct StickyStrategyTests {
    @Test func eligibleCurrentOwnerKeepsTheContact() {
        let contact = ContactSnapshot(id: "C-1", owner: "cara", team: "sales")
        #expect(route(threeSellers(), strategy: .sticky, contact: contact) == .member("cara", team: "sales", reason: "sticky"))
    }

    @Test func accountOwnerAttributeIsKeptWhenThereIsNoOwner() {
        let contact = ContactSnapshot(id: "C-1", attributes: ["account_owner": "ben"])
        #expect(route(threeSellers(), at: 0, strategy: .sticky, contact: contact) == .member("ben", team: "sales", reason: "sticky"))
    }

    @Test func ineligibleOwnerFallsThroughToTheOtherwiseStrategy() {
        let dir = threeSellers(member("ana"), member("ben", away: t0.addingTimeInterval(60)), member("cara", open: 9))
        let contact = ContactSnapshot(id: "C-1", owner: "ben", team: "sales")
        #expect(route(dir, strategy: .sticky, otherwise: .leastLoaded, contact: contact) == .member("ana", team: "sales", reason: "least_loaded"))
    }

    @Test func ineligibleOwnerWithoutOtherwiseFallsThroughToRoundRobin() {
        let contact = ContactSnapshot(id: "C-1", owner: "ben", team: "sales")
        let dir = threeSellers(member("ana"), member("ben", active: false))
        #expect(route(dir, at: 1, strategy: .sticky, contact: contact) == .member("cara", team: "sales", reason: "round_robin"))
    }
}
