import BatonCore
import Testing

private func holds(_ test: Condition.Test, _ value: String?) -> Bool {
    Condition([.init(attribute: "x", tests: [test])]).matches(value.map { ["x": $0] } ?? [:])
}

@Suite struct ConditionTests {
    @Test func equalsMatchesTheSameText() {
        #expect(holds(.equals("DE"), "DE"))
        #expect(!holds(.equals("DE"), "AT"))
    }

    @Test func equalsIsCaseSensitive() { #expect(!holds(.equals("DE"), "de")) }

    @Test func inMatchesAnyListedValue() {
        #expect(holds(.oneOf(["DE", "AT", "CH"]), "AT"))
        #expect(!holds(.oneOf(["DE", "AT", "CH"]), "FR"))
    }

    @Test func notInMatchesValuesNotListed() {
        #expect(holds(.noneOf(["DE", "AT"]), "FR"))
        #expect(!holds(.noneOf(["DE", "AT"]), "DE"))
    }

    @Test func notInHoldsForAMissingAttribute() { #expect(holds(.noneOf(["DE"]), nil)) }

    @Test func prefixMatchesTheStart() {
        #expect(holds(.prefix("+49"), "+49 30 1234"))
        #expect(!holds(.prefix("+49"), "+43 1 1234"))
    }

    @Test func gteComparesNumbers() {
        #expect(holds(.atLeast(50), "50"))
        #expect(holds(.atLeast(50), "120.5"))
        #expect(!holds(.atLeast(50), "49.9"))
        #expect(holds(.atLeast(50), "100"))  // as numbers, not as text ("100" < "50" as text)
    }

    @Test func lteComparesNumbers() {
        #expect(holds(.atMost(10), "10"))
        #expect(holds(.atMost(10), "-3"))
        #expect(!holds(.atMost(10), "10.01"))
        #expect(holds(.atMost(10), "9"))  // "9" > "10" as text
    }

    @Test func gteAndLteAreFalseForANonNumericValue() {
        #expect(!holds(.atLeast(0), "high"))
        #expect(!holds(.atMost(100), "high"))
        #expect(!holds(.atMost(100), ""))
    }

    @Test func existsTrueNeedsTheAttribute() {
        #expect(holds(.exists(true), ""))
        #expect(!holds(.exists(true), nil))
    }

    @Test func existsFalseNeedsTheAttributeAbsent() {
        #expect(holds(.exists(false), nil))
        #expect(!holds(.exists(false), "x"))
    }

    @Test(arguments: [Condition.Test.equals("a"), .oneOf(["a"]), .prefix(""), .atLeast(0), .atMost(0)])
    func aMissingAttributeFailsEveryValueTest(test: Condition.Test) {
        #expect(!holds(test, nil))
    }

    @Test func everyClauseMustHold() {
        let condition = Condition([.init(attribute: "country", tests: [.oneOf(["DE", "AT"])]),
                                   .init(attribute: "tier", tests: [.equals("enterprise")]),
                                   .init(attribute: "score", tests: [.atLeast(50)])])
        #expect(condition.matches(["country": "DE", "tier": "enterprise", "score": "70"]))
        #expect(!condition.matches(["country": "DE", "tier": "enterprise", "score": "20"]))
        #expect(!condition.matches(["country": "FR", "tier": "enterprise", "score": "70"]))
        #expect(!condition.matches(["country": "DE", "score": "70"]))
    }

    @Test func everyTestOfAClauseMustHold() {
        let condition = Condition([.init(attribute: "score", tests: [.atLeast(10), .atMost(20)])])
        #expect(condition.matches(["score": "15"]))
        #expect(!condition.matches(["score": "25"]))
        #expect(!condition.matches(["score": "5"]))
    }

    @Test func otherAttributesAreIgnored() {
        #expect(Condition([.init(attribute: "tier", tests: [.equals("gold")])]).matches(["tier": "gold", "country": "DE"]))
    }

    @Test func aConditionWithNoClausesHolds() { #expect(Condition([]).matches([:])) }

    @Test func loadedConditionMatchesAsWritten() throws {
        let wf = try DefinitionLoader.workflow(from: """
            name: wf
            start: check
            steps:
              check:
                branch:
                  cases:
                    - when: { country: { in: [DE, AT] }, tier: enterprise, score: { gte: 50, lte: 100 }, phone: { prefix: "+49" }, churned: { exists: false }, region: { not_in: [apac] } }
                      next: done
                  otherwise: done
              done:
                end: {}
            """, file: "wf.yaml")
        guard case .branch(let branch)? = wf.step("check")?.action else { Issue.record("not a branch"); return }
        let condition = branch.cases[0].when
        let good = ["country": "AT", "tier": "enterprise", "score": "75", "phone": "+49 89 1", "region": "emea"]
        #expect(condition.matches(good))
        #expect(!condition.matches(good.merging(["churned": "yes"]) { $1 }))
        #expect(!condition.matches(good.merging(["score": "101"]) { $1 }))
        #expect(!condition.matches(good.merging(["region": "apac"]) { $1 }))
        #expect(!condition.matches(good.merging(["phone": "+43 1"]) { $1 }))
    }
}
