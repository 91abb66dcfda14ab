import BatonCore
import Foundation
import Testing

/// Lifecycle stages without a database: the team file's stages, `starts_on` in workflow files,
/// which workflows a stage change starts, a handoff's stage change, HubSpot's stage names and the
/// sources file's `stage: true`.
@Suite("Lifecycle stages")
struct LifecycleStageTests {
    static func flow(_ name: String, subject: String = "contact", startsOn: String, lifecycle: String = "") -> String {
        """
        name: \(name)
        subject: \(subject)
        \(lifecycle)starts_on: \(startsOn)
        start: done
        steps:
          done:
            end: {}
        """
    }

    static func load(_ text: String, stages: [String]? = nil) throws -> WorkflowDefinition {
        try DefinitionLoader.workflow(from: text, file: "wf.yaml", known: KnownNames(stages: stages))
    }

    // MARK: Which workflows a change starts

    @Test func aWorkflowStartsWhenTheRecordEntersItsStage() throws {
        let retention = try Self.load(Self.flow("retention", startsOn: "{ stage: at_risk }"))
        #expect(retention.startsOn == StartsOn(stages: ["at_risk"]))
        let toRisk = StageChange(record: "C-1", from: "customer", to: "at_risk", cause: "signal churn_risk")
        #expect(toRisk.starts([retention]).map(\.name) == ["retention"])
        #expect(StageChange(record: "C-1", from: nil, to: "at_risk", cause: "x").starts([retention]).count == 1)
        #expect(StageChange(record: "C-1", from: "lead", to: "customer", cause: "x").starts([retention]).isEmpty)
        // Staying in a stage is no change: nothing starts.
        #expect(StageChange(record: "C-1", from: "at_risk", to: "at_risk", cause: "x").starts([retention]).isEmpty)
        #expect(toRisk.reason == "stage customer -> at_risk (signal churn_risk)")
        #expect(StageChange(record: "C-1", from: nil, to: "lead", cause: "manual:ana").reason == "stage - -> lead (manual:ana)")
    }

    @Test func fromLimitsTheStagesTheRecordMayLeave() throws {
        let winBack = try Self.load(Self.flow("win-back", startsOn: "{ stage: at_risk, from: [customer, sql] }"))
        #expect(winBack.startsOn == StartsOn(stages: ["at_risk"], from: ["customer", "sql"]))
        #expect(StageChange(record: "C-1", from: "customer", to: "at_risk", cause: "x").starts([winBack]).count == 1)
        #expect(StageChange(record: "C-1", from: "sql", to: "at_risk", cause: "x").starts([winBack]).count == 1)
        #expect(StageChange(record: "C-1", from: "lead", to: "at_risk", cause: "x").starts([winBack]).isEmpty)
        // A record with no stage left none of them.
        #expect(StageChange(record: "C-1", from: nil, to: "at_risk", cause: "x").starts([winBack]).isEmpty)
        let several = try Self.load(Self.flow("onboard", startsOn: "{ stage: [customer, churned] }"))
        #expect(StageChange(record: "C-1", from: "sql", to: "churned", cause: "x").starts([several]).count == 1)
    }

    @Test func onlyWorkflowsOfTheRecordsKindStart() throws {
        let contacts = try Self.load(Self.flow("contact-save", startsOn: "{ stage: at_risk }"))
        let companies = try Self.load(Self.flow("account-save", subject: "company", startsOn: "{ stage: at_risk }"))
        let plain = try Self.load("name: plain\nstart: done\nsteps:\n  done:\n    end: {}\n")
        let all = [companies, contacts, plain]
        #expect(StageChange(record: "C-1", from: "customer", to: "at_risk", cause: "x").starts(all).map(\.name) == ["contact-save"])
        #expect(StageChange(record: "company:acme", from: "customer", to: "at_risk", cause: "x").starts(all).map(\.name)
                == ["account-save"])
        #expect(StageChange(record: "deal:D-7", from: "customer", to: "at_risk", cause: "x").starts(all).isEmpty)
    }

    // MARK: The workflow file

    @Test func startsOnNamesKnownStagesOnly() {
        #expect(workflowIssues(Self.flow("w", startsOn: "{ stage: at_rsk, from: custmer }")) == [
            #"wf.yaml:3:21: starts_on.stage: unknown lifecycle stage "at_rsk" (did you mean "at_risk"?); one of: lead, mql, sql, customer, at_risk, churned (the team file's lifecycle: names them; a workflow's lifecycle: lists its own)"#,
            #"wf.yaml:3:35: starts_on.from: unknown lifecycle stage "custmer" (did you mean "customer"?); one of: lead, mql, sql, customer, at_risk, churned (the team file's lifecycle: names them; a workflow's lifecycle: lists its own)"#,
        ])
        #expect(workflowIssues(Self.flow("w", startsOn: "{ from: customer }")) == [
            #"wf.yaml:3:12: starts_on.stage: missing required field "stage""#,
        ])
        #expect(workflowIssues(Self.flow("w", startsOn: "{ stage: at_risk, form: customer }")) == [
            #"wf.yaml:3:30: starts_on.form: unknown key "form" (did you mean "from"?)"#,
        ])
        #expect(workflowIssues(Self.flow("w", startsOn: "{ stage: at_risk, from: at_risk }")) == [
            #"wf.yaml:3:36: starts_on.from: from names every stage of stage, so no change of stage can start the workflow (a record that stays in its stage does not change)"#,
        ])
        #expect(workflowIssues(Self.flow("w", startsOn: "at_risk")).first?.contains("starts_on: expected a mapping with stage") == true)
    }

    @Test func stagesComeFromTheWorkflowElseTheTeamFileElseTheDefaults() throws {
        let trial = Self.flow("w", startsOn: "{ stage: paying, from: trial }")
        // The team file names the organisation's stages: a workflow without its own uses them.
        #expect(try Self.load(trial, stages: ["trial", "paying", "gone"]).startsOn == StartsOn(stages: ["paying"], from: ["trial"]))
        #expect(workflowIssues(trial).count == 2)  // not default stages
        // A workflow's own lifecycle: wins over the team file's.
        let own = Self.flow("w", startsOn: "{ stage: paying }", lifecycle: "lifecycle: [free, paying]\n")
        #expect(try Self.load(own, stages: ["lead", "customer"]).startsOn == StartsOn(stages: ["paying"]))
        // A handoff's stage: is checked against the team file's stages too.
        let handoff = """
            name: h
            start: hand
            steps:
              hand:
                handoff: { team: retention, stage: customer }
                next: done
              done:
                end: {}
            """
        #expect(workflowIssues(handoff, known: KnownNames(stages: ["trial", "paying"])) == [
            #"wf.yaml:5:40: steps.hand.handoff.stage: unknown lifecycle stage "customer"; one of: trial, paying (the team file's lifecycle: names them; a workflow's lifecycle: lists its own)"#,
        ])
    }

    @Test func aDryRunShowsAChangedStartsOn() throws {
        let before = try Self.load(Self.flow("w", startsOn: "{ stage: at_risk }"))
        let after = try Self.load(Self.flow("w", startsOn: "{ stage: [at_risk, churned], from: customer }"))
        #expect(WorkflowDiff.between(before, after).lines == ["~ starts_on: { stage: at_risk } -> { stage: [at_risk, churned], from: customer }"])
        var none = before
        none.startsOn = nil
        #expect(WorkflowDiff.between(none, before).lines == ["~ starts_on: (none) -> { stage: at_risk }"])
    }

    @Test func aStoredWorkflowWithoutStartsOnEncodesAsBefore() throws {
        let plain = try Self.load("name: plain\nstart: done\nsteps:\n  done:\n    end: {}\n")
        let json = String(decoding: try JSONEncoder().encode(plain), as: UTF8.self)
        #expect(!json.contains("startsOn"))  // unchanged files stay "unchanged" on apply
        let decoded = try JSONDecoder().decode(WorkflowDefinition.self, from: Data(#"{"name":"p","start":"d","steps":[]}"#.utf8))
        #expect(decoded.startsOn == nil)
    }

    // MARK: The team file

    @Test func theTeamFileNamesTheOrganisationsStages() throws {
        let text = """
            lifecycle: [subscriber, lead, mql, sql, customer, at_risk, churned]
            teams:
              - name: sales
                members:
                  - { id: ana, name: Ana }
            """
        #expect(try DefinitionLoader.teams(from: text, file: "teams.yaml").lifecycle?.first == "subscriber")
        #expect(try DefinitionLoader.teams(from: "teams: []\n", file: "teams.yaml").lifecycle == nil)
        #expect(teamsIssues("lifecycle: [lead, mql, lead, \"at risk\"]\nteams: []\n") == [
            #"teams.yaml:1:24: lifecycle[2]: stage "lead" is listed twice (first at line 1)"#,
            #"teams.yaml:1:30: lifecycle[3]: a stage is one word (letters, digits, '_' or '-'), not "at risk""#,
        ])
        #expect(teamsIssues("lifecycle: []\nteams: []\n") == [#"teams.yaml:1:12: lifecycle: give at least one stage"#])
        #expect(teamsIssues("lifecycles: [lead]\nteams: []\n") == [
            #"teams.yaml:1:1: lifecycles: unknown key "lifecycles" (did you mean "lifecycle"?)"#,
        ])
    }

    // MARK: Setting a stage

    @Test func aHandoffThatMovesTheStageReportsTheChange() {
        let dir = directory(team("retention", [member("rita", team: "retention")]))
        let flow = workflow(step("hand", .handoff(Handoff(team: "retention", reason: "purchased", stage: "customer"), next: "done")),
                            endStep)
        let moved = advance(instance(at: "hand", contact: ContactSnapshot(id: "C-1", lifecycle: "sql")), flow, dir)
        #expect(moved.advance.stageChanges == [StageChange(record: "C-1", from: "sql", to: "customer", cause: "handoff purchased")])
        let already = advance(instance(at: "hand", contact: ContactSnapshot(id: "C-1", lifecycle: "customer")), flow, dir)
        #expect(already.advance.stageChanges.isEmpty)
    }

    @Test func unknownStagesAreNamedWithTheKnownOnes() {
        #expect(Lifecycle.problem(with: "customer", stages: Lifecycle.defaultStages) == nil)
        #expect(Lifecycle.problem(with: "custmer", stages: Lifecycle.defaultStages)
                == #"unknown lifecycle stage "custmer" (did you mean "customer"?); one of: lead, mql, sql, customer, at_risk, churned (the team file's lifecycle: names them)"#)
    }

    @Test func hubspotsInternalNamesMapToTheDefaultStages() {
        let stages = Lifecycle.defaultStages
        #expect(Lifecycle.stage(forCRMValue: "marketingqualifiedlead", stages: stages) == "mql")
        #expect(Lifecycle.stage(forCRMValue: "salesqualifiedlead", stages: stages) == "sql")
        #expect(Lifecycle.stage(forCRMValue: "lead", stages: stages) == "lead")
        #expect(Lifecycle.stage(forCRMValue: "customer", stages: stages) == "customer")
        #expect(Lifecycle.stage(forCRMValue: "at_risk", stages: stages) == "at_risk")  // already a stage
        #expect(Lifecycle.stage(forCRMValue: "opportunity", stages: stages) == nil)  // unmapped, not a stage
        #expect(Lifecycle.stage(forCRMValue: "evangelist", stages: stages + ["evangelist"]) == "evangelist")
        // An organisation without mql keeps HubSpot's name when it lists that instead.
        #expect(Lifecycle.stage(forCRMValue: "marketingqualifiedlead", stages: ["marketingqualifiedlead"]) == "marketingqualifiedlead")
    }

    @Test func aSourceMappingMaySetTheStage() throws {
        let text = """
            sources:
              - name: hubspot
                kind: hubspot
                secret_env: HUBSPOT_CLIENT_SECRET
                events:
                  - { type: contact.propertyChange, property: lifecyclestage, stage: true }
            """
        let source = try #require(try DefinitionLoader.sources(from: text, file: "s.yaml").sources.first)
        #expect(source.mapping(type: "contact.propertyChange", property: "lifecyclestage", value: "customer")?.action == .stage)
        let withValue = text.replacingOccurrences(of: "stage: true", with: "value: customer, stage: true")
        #expect(throws: DefinitionErrors.self) { try DefinitionLoader.sources(from: withValue, file: "s.yaml") }
        let twice = text.replacingOccurrences(of: "stage: true", with: "stage: true, signal: purchased")
        #expect(throws: DefinitionErrors.self) { try DefinitionLoader.sources(from: twice, file: "s.yaml") }
    }
}
