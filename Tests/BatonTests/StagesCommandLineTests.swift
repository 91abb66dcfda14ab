import Baton
import BatonCore
import BatonTesting
import Foundation
import Testing

/// Lifecycle stages against a real database: set by a handoff, a signal's payload, a CRM source and
/// `batonctl records stage`; workflows that start on a stage change; `stats --by stage`.
@Suite("Lifecycle stages through the command line")
struct StagesCommandLineTests {
    func ctl(_ engine: Engine, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await runProgram(try Engine.binary("batonctl"), arguments,
                             environment: ["DATABASE_URL": engine.config.urlForChildren, "BATON_USER": "tester"])
    }

    func json(_ text: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] ?? [:]
    }

    /// A lead is routed in sales and waits for a purchase; the purchase hands it to retention as a customer.
    static let lead = """
        name: lead-flow
        start: route
        steps:
          route:
            assign: { team: sales, strategy: round_robin }
            next: wait-purchase
          wait-purchase:
            wait_for_sla: { event: purchased, within: 30d }
            on_met: to-retention
            on_breach: done
          to-retention:
            handoff: { team: retention, strategy: round_robin, reason: purchased, stage: customer }
            next: done
          done:
            end: {}
        """
    /// Starts when a contact becomes a customer (from any stage, or none).
    static let onboarding = """
        name: onboarding
        starts_on: { stage: customer }
        start: wait
        steps:
          wait:
            wait_for_sla: { event: kickoff, within: 30d }
            on_met: done
            on_breach: done
          done:
            end: {}
        """
    /// Starts when a customer becomes at risk.
    static let retention = """
        name: retention-save
        starts_on: { stage: at_risk, from: customer }
        start: route
        steps:
          route:
            assign: { team: retention, strategy: round_robin }
            next: wait
          wait:
            wait_for_sla: { event: renewed, within: 30d }
            on_met: done
            on_breach: done
          done:
            end: {}
        """
    /// A company flow starting on the same stage: a contact's change must not start it.
    static let accounts = """
        name: account-save
        subject: company
        starts_on: { stage: at_risk }
        start: done
        steps:
          done:
            end: {}
        """

    func count(_ engine: Engine, _ workflow: String, _ contact: String) async throws -> Int {
        try await engine.scalar("SELECT count(*) FROM workflow_instances WHERE workflow = $1 AND contact = $2", [workflow, contact])
    }

    /// The issue's story: a handoff makes the contact a customer (onboarding starts), a signal moves
    /// it to at_risk (retention starts), the same move again starts nothing new.
    @Test func aHandoffAndASignalMoveTheStageAndStartTheWorkflowsThatWaitForIt() async throws {
        let engine = try await Engine.make("stagesignal", workflows: [Self.lead, Self.onboarding, Self.retention, Self.accounts])
        defer { Task { await engine.close() } }
        #expect(try await ctl(engine, ["start", "lead-flow", "--contact", "C-1"]).status == 0)
        try await engine.drain()
        let leadInstance: Int = try await engine.scalar("SELECT id FROM workflow_instances WHERE workflow = 'lead-flow'")

        // The handoff moves the contact to customer: onboarding starts in the worker's transaction.
        #expect(try await ctl(engine, ["signal", "purchased", "--contact", "C-1"]).status == 0)
        try await engine.drain()
        #expect(try await engine.scalar("SELECT lifecycle_stage FROM contacts WHERE id = 'C-1'") == "customer")
        #expect(try await count(engine, "onboarding", "C-1") == 1)
        let handoffRow = try await engine.rows("SELECT reason, instance, cardinality(started) AS n FROM stage_history WHERE contact = 'C-1'")
        #expect(handoffRow.count == 1)
        #expect(try handoffRow[0].decode(String.self, "reason") == "stage - -> customer (handoff purchased)")
        #expect(try handoffRow[0].decode(Int?.self, "instance") == leadInstance)
        #expect(try handoffRow[0].decode(Int.self, "n") == 1)

        // A signal's payload moves it to at_risk: retention starts, in the signal's transaction.
        let risk = try await ctl(engine, ["signal", "churn_risk", "--contact", "C-1", "--payload", #"{"lifecycle": "at_risk", "score": 0.9}"#])
        #expect(risk.status == 0, "\(risk.output)")
        let saved: Int = try await engine.scalar("SELECT id FROM workflow_instances WHERE workflow = 'retention-save' AND contact = 'C-1'")
        #expect(risk.output == "signal 2 churn_risk for C-1: woke 0 waiting instance(s); stage customer -> at_risk; "
                + "started retention-save (instance \(saved))\n")
        #expect(try await count(engine, "account-save", "C-1") == 0)  // a company workflow: not for a contact
        #expect(try await engine.scalar("SELECT reason FROM stage_history WHERE contact = 'C-1' ORDER BY id DESC LIMIT 1")
                == "stage customer -> at_risk (signal churn_risk)")

        // The same move again: nothing changes, nothing new starts, no history row.
        let again = try await ctl(engine, ["signal", "churn_risk", "--contact", "C-1", "--payload", #"{"lifecycle": "at_risk"}"#])
        #expect(again.output == "signal 3 churn_risk for C-1: woke 0 waiting instance(s); stage already at_risk\n", "\(again.output)")
        #expect(try await count(engine, "retention-save", "C-1") == 1)
        #expect(try await engine.scalar("SELECT count(*) FROM stage_history WHERE contact = 'C-1'") == 2)

        // Back to customer and at risk again while retention still runs: one live instance per workflow and record.
        #expect(try await ctl(engine, ["records", "stage", "--contact", "C-1", "customer", "--reason", "renewed early"]).status == 0)
        #expect(try await ctl(engine, ["records", "stage", "contact:C-1", "at_risk"]).status == 0)
        #expect(try await count(engine, "retention-save", "C-1") == 1)
        #expect(try await count(engine, "onboarding", "C-1") == 1)
        try await engine.drain()

        // records show lists the stage history, what moved it and what it started.
        let shown = try await ctl(engine, ["records", "show", "contact:C-1", "--json"])
        let stages = try #require(try json(shown.output)["stages"] as? [[String: Any]])
        #expect(stages.map { $0["reason"] as? String } == [
            "stage - -> customer (handoff purchased)", "stage customer -> at_risk (signal churn_risk)",
            "stage at_risk -> customer (manual:tester: renewed early)", "stage customer -> at_risk (manual:tester)",
        ])
        #expect((stages[1]["started"] as? [[String: Any]])?.first?["workflow"] as? String == "retention-save")
        #expect((stages[1]["started"] as? [[String: Any]])?.first?["instance"] as? String == String(saved))
        #expect(stages[0]["instance"] as? String == String(leadInstance))
        #expect((stages[3]["started"] as? [Any])?.isEmpty == true)
        let text = try await ctl(engine, ["contacts", "show", "C-1"])
        #expect(text.output.contains("signal churn_risk"), "\(text.output)")
        #expect(text.output.contains("retention-save (\(saved))"))
    }

    @Test func anUnknownStageOrRecordIsAnErrorAndWritesNothing() async throws {
        let engine = try await Engine.make("stageerrors", workflows: [Self.lead, Self.retention])
        defer { Task { await engine.close() } }
        #expect(try await ctl(engine, ["start", "lead-flow", "--contact", "C-1"]).status == 0)
        let signal = try await ctl(engine, ["signal", "churn_risk", "--contact", "C-1", "--payload", #"{"lifecycle": "at-risk"}"#])
        #expect(signal.status == 1)
        #expect(signal.output.contains(#"signal churn_risk: unknown lifecycle stage "at-risk" (did you mean "at_risk"?); one of: lead, mql, sql, customer, at_risk, churned"#),
                "\(signal.output)")
        let notText = try await ctl(engine, ["signal", "churn_risk", "--contact", "C-1", "--payload", #"{"lifecycle": 3}"#])
        #expect(notText.status == 1)
        #expect(notText.output.contains("the payload's lifecycle must be a stage name"))
        #expect(try await engine.scalar("SELECT count(*) FROM signals") == 0)

        let bad = try await ctl(engine, ["records", "stage", "contact:C-1", "custmer"])
        #expect(bad.status == 1)
        #expect(bad.output.contains(#"unknown lifecycle stage "custmer" (did you mean "customer"?)"#), "\(bad.output)")
        let missing = try await ctl(engine, ["records", "stage", "deal:D-404", "customer"])
        #expect(missing.status == 1)
        #expect(missing.output.contains("unknown record deal:D-404"), "\(missing.output)")
        let usage = try await ctl(engine, ["records", "stage", "--contact", "C-1", "contact:C-1", "customer"])
        #expect(usage.status != 0)
        #expect(usage.output.contains("with --contact ID give the stage alone"))
        #expect(try await engine.scalar("SELECT count(*) FROM stage_history") == 0)
        #expect(try await engine.scalar("SELECT lifecycle_stage FROM contacts WHERE id = 'C-1'") == String?.none)

        let set = try await ctl(engine, ["records", "stage", "contact:C-1", "lead", "--json"])
        #expect(set.status == 0, "\(set.output)")
        let outcome = try json(set.output)
        #expect(outcome["record"] as? String == "contact:C-1")
        #expect(outcome["from"] is NSNull)
        #expect(outcome["to"] as? String == "lead")
        #expect(outcome["changed"] as? Bool == true)
        #expect(outcome["started"] as? [Any] != nil)
    }

    /// A record merged into another has no stage of its own any more: `records stage` refuses it with
    /// one line naming the record it went to, and writes nothing; the survivor takes the stage.
    @Test func aMergedAwayRecordRefusesAStageAndNamesTheSurvivor() async throws {
        let engine = try await Engine.make("stagemerged", workflows: [RecordsCommandLineTests.deals, Self.lead])
        defer { Task { await engine.close() } }
        for deal in ["deal:D-3", "deal:D-7"] {
            let started = try await ctl(engine, ["start", "new-deal", "--record", deal])
            #expect(started.status == 0, "\(started.output)")
        }
        for contact in ["C-1", "C-2"] { #expect(try await ctl(engine, ["start", "lead-flow", "--contact", contact]).status == 0) }
        try await engine.drain()
        #expect(try await ctl(engine, ["records", "merge", "deal:D-3", "deal:D-7", "--reason", "same deal"]).status == 0)
        #expect(try await ctl(engine, ["records", "merge", "contact:C-1", "contact:C-2", "--reason", "same email"]).status == 0)

        let refused = try await ctl(engine, ["records", "stage", "deal:D-7", "customer", "--reason", "contract signed"])
        #expect(refused.status == 1)
        #expect(refused.output == "error: deal:D-7 was merged into deal:D-3: set the stage on deal:D-3\n", "\(refused.output)")
        let json = try await ctl(engine, ["records", "stage", "--contact", "C-2", "customer", "--json"])
        #expect(json.status == 1)
        #expect(json.output == "error: contact:C-2 was merged into contact:C-1: set the stage on contact:C-1\n", "\(json.output)")
        #expect(try await engine.scalar("SELECT count(*) FROM stage_history") == 0)
        #expect(try await engine.scalar("SELECT count(*) FROM contacts WHERE lifecycle_stage IS NOT NULL") == 0)

        // `records show` of the merged-away record says where it went; the survivor takes the stage.
        let shown = try await ctl(engine, ["records", "show", "deal:D-7"])
        #expect(shown.output.contains("merged into deal:D-3"), "\(shown.output)")
        let survivor = try await ctl(engine, ["records", "stage", "deal:D-3", "customer"])
        #expect(survivor.output == "deal:D-3: stage - -> customer\n", "\(survivor.output)")
    }

    /// The team file names the organisation's stages: workflows, signals and `records stage` use them.
    @Test func theTeamFilesStagesAreTheOnesInForce() async throws {
        let engine = try await Engine.make("stageteams")
        defer { Task { await engine.close() } }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("stages-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let teams = directory.appendingPathComponent("teams.yaml").path
        try ("lifecycle: [trial, paying, at_risk, gone]\n" + Engine.sevenMembers).write(toFile: teams, atomically: true, encoding: .utf8)
        let applied = try await ctl(engine, ["teams", "apply", teams])
        #expect(applied.status == 0, "\(applied.output)")
        #expect(applied.output.contains("lifecycle stages: trial, paying, at_risk, gone\n"))

        // A workflow naming a default stage the organisation dropped is refused, located.
        let customer = directory.appendingPathComponent("customer.yaml").path
        try Self.onboarding.write(toFile: customer, atomically: true, encoding: .utf8)
        let refused = try await ctl(engine, ["workflows", "apply", customer])
        #expect(refused.status == 1)
        #expect(refused.output.contains(#"customer.yaml:2:21: starts_on.stage: unknown lifecycle stage "customer"; one of: trial, paying, at_risk, gone"#),
                "\(refused.output)")
        let paying = directory.appendingPathComponent("paying.yaml").path
        try Self.onboarding.replacingOccurrences(of: "stage: customer", with: "stage: paying, from: trial")
            .write(toFile: paying, atomically: true, encoding: .utf8)
        #expect(try await ctl(engine, ["workflows", "apply", paying]).status == 0)

        _ = try await engine.start("onboarding", "C-9")  // creates the contact; its onboarding instance runs
        try await engine.drain()
        #expect(try await ctl(engine, ["records", "stage", "contact:C-9", "customer"]).status == 1)
        #expect(try await ctl(engine, ["records", "stage", "contact:C-9", "trial"]).status == 0)
        let paid = try await ctl(engine, ["records", "stage", "contact:C-9", "paying"])
        #expect(paid.output == "contact:C-9: stage trial -> paying\n", "\(paid.output)")  // onboarding runs already: one live instance
        #expect(try await count(engine, "onboarding", "C-9") == 1)
    }

    /// `stage: true` in a sources file: HubSpot's lifecyclestage becomes the record's stage.
    @Test func aCRMSourceSetsTheStageFromHubSpotsValue() async throws {
        let engine = try await Engine.make("stagesource", workflows: [Self.lead, Self.onboarding])
        defer { Task { await engine.close() } }
        let sources = try DefinitionLoader.sources(from: """
            sources:
              - name: hubspot
                kind: hubspot
                secret_env: HUBSPOT_CLIENT_SECRET
                events:
                  - { type: contact.propertyChange, property: lifecyclestage, stage: true }
            """, file: "sources.yaml")
        let source = try #require(sources.sources.first)
        for id in ["101", "102", "103"] { _ = try await engine.start("lead-flow", id) }
        func change(_ event: String, _ contact: String, _ value: String) -> InboundEvent {
            InboundEvent(id: event, type: "contact.propertyChange", contact: contact, property: "lifecyclestage", value: value,
                         attributes: ["lifecyclestage": value])
        }
        let report = try await engine.store.ingest([
            change("e1", "101", "marketingqualifiedlead"), change("e2", "102", "opportunity"), change("e3", "103", "customer"),
            change("e4", "999", "customer"),
        ], from: source)
        #expect(report.staged == 2)
        #expect(report.rejected == 1)
        #expect(report.ignored == 1)  // 999 is no record Baton knows
        #expect(report.errors == [
            #"event e2: lifecyclestage "opportunity" is no lifecycle stage (stages: lead, mql, sql, customer, at_risk, churned): add it to the team file's lifecycle:"#,
        ])
        #expect(try await engine.scalar("SELECT lifecycle_stage FROM contacts WHERE id = '101'") == "mql")
        #expect(try await engine.scalar("SELECT lifecycle_stage FROM contacts WHERE id = '102'") == String?.none)
        #expect(try await engine.scalar("SELECT lifecycle_stage FROM contacts WHERE id = '103'") == "customer")
        #expect(try await engine.scalar("SELECT reason FROM stage_history WHERE contact = '101'")
                == "stage - -> mql (hubspot lifecyclestage marketingqualifiedlead)")
        #expect(try await count(engine, "onboarding", "103") == 1)
        // HubSpot redelivers: the event is a duplicate and changes nothing.
        let again = try await engine.store.ingest([change("e3", "103", "customer")], from: source)
        #expect(again.duplicates == 1)
        #expect(try await engine.scalar("SELECT count(*) FROM stage_history") == 2)
    }

    /// A handoff's stage change starts workflows from inside the worker's commit: the worker's
    /// database role may insert instances and stage history (sql/roles.sql).
    @Test func aWorkerRunningAsBatonWorkerStartsTheWorkflowsAHandoffTriggers() async throws {
        let setup = try await DatabaseRolesTests.Setup.make("roles_stages")
        defer { Task { await setup.close() } }
        #expect(try await setup.run(as: "baton_admin", ["teams", "apply", try setup.file("teams.yaml", Engine.sevenMembers)]).status == 0)
        for (name, text) in [("lead.yaml", Self.lead), ("onboarding.yaml", Self.onboarding)] {
            let applied = try await setup.run(as: "baton_admin", ["workflows", "apply", try setup.file(name, text)])
            #expect(applied.status == 0, "\(applied.output)")
        }
        #expect(try await setup.run(as: "baton_admin", ["start", "lead-flow", "--contact", "R-1"]).status == 0)
        #expect(try await setup.run(as: "baton_worker", ["--until-idle", "--log-level", "warning"], program: "baton-worker").status == 0)
        #expect(try await setup.run(as: "baton_admin", ["signal", "purchased", "--contact", "R-1"]).status == 0)
        let worker = try await setup.run(as: "baton_worker", ["--until-idle", "--log-level", "warning"], program: "baton-worker")
        #expect(worker.status == 0, "\(worker.output)")
        #expect(!worker.output.contains("permission denied"), "\(worker.output)")
        let onboarding = try await setup.store.pool.withConnection {
            try await $0.query("SELECT count(*) FROM workflow_instances WHERE workflow = 'onboarding' AND contact = 'R-1'")[0]
                .decode(Int.self, at: 0)
        }
        #expect(onboarding == 1)
    }

    /// Over HTTP: `POST /v1/signals` with a lifecycle payload answers the stage change; an unknown
    /// stage is a 400 that stores nothing; `GET /v1/stats?by=stage` answers `stats --by stage`.
    @Test func theAPISetsStagesBySignalAndCountsByStage() async throws {
        let engine = try await Engine.make("stagehttp", workflows: [Self.lead, Self.onboarding, Self.retention])
        let server = try await APIServer(engine)
        defer { Task { _ = await server.stop(); await engine.close() } }
        let token = try await engine.store.createToken(name: "crm", role: .operator_, createdBy: "test")
        _ = try await engine.start("lead-flow", "H-1")
        let moved = try await server.send("POST", "/v1/signals", token: token, json: [
            "event": "won", "contact": "H-1", "payload": ["lifecycle": "customer", "amount": 900],
        ])
        #expect(moved.status == 201, "\(moved.text)")
        let stage = try #require(moved.json["stage"] as? [String: Any])
        #expect(stage["record"] as? String == "contact:H-1")
        #expect(stage["from"] is NSNull)
        #expect(stage["to"] as? String == "customer")
        #expect(stage["changed"] as? Bool == true)
        let started = try #require(stage["started"] as? [[String: Any]])
        #expect(started.map { $0["workflow"] as? String } == ["onboarding"])
        let plain = try await server.send("POST", "/v1/signals", token: token, json: ["event": "ping", "contact": "H-1"])
        #expect(plain.json["stage"] is NSNull, "\(plain.text)")
        let unknown = try await server.send("POST", "/v1/signals", token: token, json: [
            "event": "won", "contact": "H-1", "payload": ["lifecycle": "custmer"],
        ])
        #expect(unknown.status == 400)
        #expect((unknown.json["detail"] as? String)?.contains(#"unknown lifecycle stage "custmer" (did you mean "customer"?)"#) == true,
                "\(unknown.text)")
        #expect(try await engine.scalar("SELECT count(*) FROM signals WHERE name = 'won'") == 1)

        let stats = try await server.get("/v1/stats?by=stage&workflow=onboarding", token: token)
        #expect(stats.status == 200, "\(stats.text)")
        #expect(stats.json["by"] as? String == "stage")
        let rows = try #require(stats.json["rows"] as? [[String: Any]])
        #expect(rows.count == 1)
        #expect(rows.first?["stage"] as? String == "customer")
        #expect(rows.first?["instances"] as? Int == 1)
        #expect(rows.first?["active"] as? Int == 1)
        #expect(try await server.get("/v1/stats?by=phase", token: token).status == 400)
    }

    /// `stats --by stage` over real runs: two leads bought (handoff to customer), one still waits
    /// (no stage), one was cancelled before it had a stage and became an mql afterwards.
    @Test func statsByStageCountOutcomesPerStageReached() async throws {
        let engine = try await Engine.make("stagestats", workflows: [Self.lead, Self.onboarding])
        defer { Task { await engine.close() } }
        for id in ["S-1", "S-2", "S-3", "S-4"] { #expect(try await ctl(engine, ["start", "lead-flow", "--contact", id]).status == 0) }
        try await engine.drain()
        for id in ["S-1", "S-2"] { #expect(try await ctl(engine, ["signal", "purchased", "--contact", id]).status == 0) }
        let cancelled: Int = try await engine.scalar("SELECT id FROM workflow_instances WHERE contact = 'S-4'")
        #expect(try await ctl(engine, ["cancel", String(cancelled), "--reason", "spam"]).status == 0)
        try await engine.drain()
        #expect(try await ctl(engine, ["records", "stage", "contact:S-4", "mql"]).status == 0)  // after it ended

        let result = try await ctl(engine, ["stats", "--by", "stage", "--workflow", "lead-flow", "--json"])
        #expect(result.status == 0, "\(result.output)")
        let stats = try json(result.output)
        #expect(stats["by"] as? String == "stage")
        #expect(stats["workflow"] as? String == "lead-flow")
        #expect((stats["stage_reached"] as? String)?.hasPrefix("the record's lifecycle stage when the instance ended") == true)
        let rows = try #require(stats["rows"] as? [[String: Any]])
        #expect(rows.map { $0["stage"] as? String } == ["customer", nil])
        let customer = rows[0], none = rows[1]
        #expect(customer["instances"] as? Int == 2)
        #expect(customer["completed"] as? Int == 2)
        #expect(customer["sla_met"] as? Int == 2)
        #expect(customer["sla_breached"] as? Int == 0)
        #expect(customer["handoffs"] as? Int == 2)
        #expect(customer["escalations"] as? Int == 0)
        #expect(none["instances"] as? Int == 2)  // S-3 waits with no stage; S-4 ended with none
        #expect(none["active"] as? Int == 1)
        #expect(none["cancelled"] as? Int == 1)
        #expect(none["handoffs"] as? Int == 0)

        // Every workflow: the onboarding instances the handoffs started count under customer too.
        let all = try json(try await ctl(engine, ["stats", "--by", "stage", "--json"]).output)
        let allRows = try #require(all["rows"] as? [[String: Any]])
        #expect(allRows.first?["stage"] as? String == "customer")
        #expect(allRows.first?["instances"] as? Int == 4)
        let text = try await ctl(engine, ["stats", "--by", "stage"])
        #expect(text.output.contains("STAGE"), "\(text.output)")
        #expect(text.output.contains("stage reached: the record's lifecycle stage when the instance ended"))
        #expect(try await ctl(engine, ["stats", "--by", "phase"]).status != 0)
    }
}
