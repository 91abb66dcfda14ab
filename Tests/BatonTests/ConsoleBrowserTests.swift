import Baton
import BatonCore
import BatonTesting
import Foundation
import Postgres
import Testing

/// The web console in a real headless Chromium (Debian's chromium + chromium-driver, through
/// WebDriver) against a real baton-server process and database. Serialized: one browser at a time
/// is plenty for two cores. Each test saves a screenshot to .build/screenshots/NAME.png.
@Suite("Console in a browser", .serialized)
struct ConsoleBrowserTests {
    static let teams = Engine.sevenMembers + "\n  - name: empty\n    kind: other\n"
    static let failing = """
        name: failing
        start: assign
        steps:
          assign:
            assign: { team: empty, fallback: fail }
            max_attempts: 1
            next: done
          done:
            end: {}
        """

    /// A database with teams and workflows, a server, an admin and a viewer token, and a browser.
    struct Setup {
        let engine: Engine
        let server: APIServer
        let browser: WebDriver
        let admin: String
        let viewer: String

        static func make(_ label: String) async throws -> Setup {
            let engine = try await Engine.make(label, teams: ConsoleBrowserTests.teams,
                                               workflows: [HTTPAPITests.flow, ConsoleBrowserTests.failing])
            let server = try await APIServer(engine)
            let browser = try await WebDriver(port: try freePort())
            return Setup(engine: engine, server: server, browser: browser,
                         admin: try await engine.store.createToken(name: "ops-admin", role: .admin, createdBy: "test"),
                         viewer: try await engine.store.createToken(name: "sales-viewer", role: .viewer, createdBy: "test"))
        }

        /// Runs `body` with a fresh setup and always stops the browser, server and pool afterwards
        /// (a `defer { Task { … } }` could outlive the test process and leave them running).
        static func with(_ label: String, _ body: (Setup) async throws -> Void) async throws {
            let s = try await make(label)
            do {
                try await body(s)
            } catch {
                await s.close()
                throw error
            }
            await s.close()
        }

        func close() async {
            await browser.quit()
            _ = await server.stop()
            await engine.close()
        }

        func open(_ path: String) async throws { try await browser.navigate(server.base + path) }

        /// Signs in through the form with `token`, landing on `path`.
        func signIn(_ token: String, then path: String = "/") async throws {
            try await open(path)
            _ = try await browser.waitFor("#token")
            try await browser.type(token, into: "#token")
            try await browser.click(".login button[type=submit]")
            _ = try await browser.waitFor("form.signout")
        }

        func shot(_ name: String) async throws {
            try await browser.screenshot(to: packageRoot.appendingPathComponent(".build/screenshots/\(name).png").path)
        }

        /// Waits until `condition` holds, polling every 200 ms, for up to 30 s.
        func until(_ what: String, _ condition: () async throws -> Bool) async throws {
            #expect(try await eventually(timeout: .seconds(30), condition), "\(what) did not happen within 30 s")
        }

        /// Sets a select's value by script (WebDriver has no "select option" command).
        func choose(_ css: String, _ value: String) async throws {
            try await browser.execute("document.querySelector(arguments[0]).value = arguments[1];", args: [css, value])
        }

        /// A POST from the page by script (as a forged form would send it); returns the status.
        func post(_ path: String, _ body: String) async throws -> Int {
            let status = try await browser.execute("""
                const done = arguments[arguments.length - 1];
                fetch(arguments[0], {method: 'POST', body: arguments[1], redirect: 'manual',
                    headers: {'Content-Type': 'application/x-www-form-urlencoded'}})
                  .then(r => done(r.status)).catch(e => done(-1));
                """, args: [path, body], async: true)
            return (status as? Int) ?? -1
        }

        /// Waiting instances of `flow` for contacts C-1…C-n, owned round robin by m1…m7.
        func waiting(_ n: Int) async throws -> [Int] {
            var ids: [Int] = []
            for i in 1...n { ids.append(try await engine.start("flow", "C-\(i)")) }
            try await engine.drain()
            return ids
        }
    }

    @Test("sign in with a token, see who is signed in, sign out")
    func signInAndOut() async throws {
        try await Setup.with("cons_signin") { s in
            try await s.open("/instances")
            #expect(try await s.browser.currentURL().contains("/login?next=%2Finstances"))
            try await s.browser.type("not-a-token", into: "#token")
            try await s.browser.click(".login button[type=submit]")
            #expect(try await s.browser.text(".flash-error").contains("unknown or revoked"))
            try await s.browser.type(s.admin, into: "#token")
            try await s.browser.click(".login button[type=submit]")
            _ = try await s.browser.waitFor("form.signout")
            #expect(try await s.browser.currentURL().hasSuffix("/instances"))
            #expect(try await s.browser.text(".who").contains("ops-admin"))
            try await s.shot("sign-in")
            try await s.browser.click("form.signout button")
            _ = try await s.browser.waitFor("#token")
            try await s.open("/")
            #expect(try await s.browser.currentURL().contains("/login"))
        }
    }

    @Test("the overview's counts match store.stats")
    func overviewMatchesStats() async throws {
        try await Setup.with("cons_overview") { s in
            _ = try await s.waiting(6)
            for contact in ["C-1", "C-2"] { _ = try await s.engine.store.signal("first_touch", contact: contact, payload: nil) }
            _ = try await s.engine.start("failing", "C-F1")
            _ = try await s.engine.start("failing", "C-F2")
            try await s.engine.drain()
            let stats = try await s.engine.store.stats(workflow: nil, since: Date(timeIntervalSince1970: 0))
            try await s.signIn(s.admin)
            for workflow in stats.workflows {
                let row = "tr[data-workflow=\"\(workflow.workflow)\"]"
                #expect(try await s.browser.text("\(row) [data-field=started]") == String(workflow.started))
                #expect(try await s.browser.text("\(row) [data-field=completed]") == String(workflow.completed))
                #expect(try await s.browser.text("\(row) [data-field=active]") == String(workflow.active))
                #expect(try await s.browser.text("\(row) [data-field=failed]") == String(workflow.failed))
                #expect(try await s.browser.text("\(row) [data-field=escalations]") == String(workflow.escalations))
            }
            let waiting: Int = try await s.engine.scalar("SELECT count(*)::int FROM workflow_instances WHERE state = 'waiting'")
            #expect(try await s.browser.text("a[data-state=waiting] .n") == String(waiting))
            #expect(try await s.browser.text("a[data-reason=failed] .n") == "2")
            #expect(try await s.browser.findAll("svg.chart").count == 2)
            try await s.shot("overview")
            try await s.browser.resize(width: 390, height: 844)
            try await s.shot("overview-390")
        }
    }

    @Test("every page fits a 390 px phone screen: no sideways scrolling of the page, wide tables scroll in their box")
    func everyPageFitsAPhone() async throws {
        try await Setup.with("cons_phone") { s in
            let ids = try await s.waiting(3)
            _ = try await s.engine.start("failing", "C-F1")
            try await s.engine.drain()
            // A stage history on the contact page, so its table is measured too.
            _ = try await s.engine.store.setStage(record: "C-1", to: "customer", cause: "manual:test: signed the yearly plan")
            try await s.signIn(s.admin)
            try await s.browser.resize(width: 390, height: 844)
            let pages = ["/", "/instances", "/instances/\(ids[0])", "/stuck", "/contacts/C-1", "/teams", "/workflows",
                         "/workflows/flow", "/outbox"]
            for page in pages {
                try await s.open(page)
                _ = try await s.browser.waitFor("main")
                let overflow = try await s.browser.execute(
                    "return document.documentElement.scrollWidth - document.documentElement.clientWidth;") as? Int ?? -1
                #expect(overflow == 0, "\(page) is \(overflow) px wider than a 390 px screen")
                let name = page == "/" ? "overview" : page.dropFirst().replacingOccurrences(of: "/", with: "-")
                try await s.shot("phone-\(name)")
            }
        }
    }

    @Test("filter instances by state and owner with the form")
    func filterByStateAndOwner() async throws {
        try await Setup.with("cons_filter") { s in
            _ = try await s.waiting(10)
            _ = try await s.engine.store.signal("first_touch", contact: "C-1", payload: nil)
            try await s.engine.drain()
            try await s.signIn(s.admin, then: "/instances")
            try await s.choose("#f-state", "waiting")
            try await s.browser.type("m2", into: "#f-owner")
            try await s.browser.click("form.filters button[type=submit]")
            _ = try await s.browser.waitFor("[data-field=total]")
            let url = try await s.browser.currentURL()
            #expect(url.contains("state=waiting") && url.contains("owner=m2"))
            let expected: Int = try await s.engine.scalar("""
                SELECT count(*)::int FROM workflow_instances i JOIN contacts c ON c.id = i.contact
                WHERE i.state = 'waiting' AND c.owner = 'm2'
                """)
            #expect(expected > 0)
            #expect(try await s.browser.findAll("tr[data-instance]").count == expected)
            #expect(try await s.browser.text("[data-field=total]") == String(expected))
            for row in try await s.browser.findAll("tr[data-instance]") {
                let text = try await s.browser.text(row)
                #expect(text.contains("waiting") && text.contains("m2"))
            }
            try await s.shot("instances-filtered")
        }
    }

    @Test("open an instance: its timeline and its path on the graph")
    func openTimeline() async throws {
        try await Setup.with("cons_timeline") { s in
            let ids = try await s.waiting(1)
            try await s.signIn(s.admin, then: "/instances")
            try await s.browser.click("tr[data-instance=\"\(ids[0])\"] a")
            _ = try await s.browser.waitFor("#timeline")
            let detail = try #require(try await s.engine.store.instanceDetail(ids[0]))
            #expect(try await s.browser.findAll("#timeline tbody tr").count == detail.timeline.count)
            #expect(try await s.browser.text("#instance-state") == "waiting")
            #expect(try await s.browser.findAll("svg.graph .node.current").count == 1)
            #expect(try await s.browser.findAll("svg.graph .edge.taken").count >= 1)
            try await s.shot("instance")
        }
    }

    @Test("retry a failed instance and watch it complete without a reload")
    func retryWithLiveUpdate() async throws {
        try await Setup.with("cons_retry") { s in
            let id = try await s.engine.start("failing", "C-F")
            try await s.engine.drain()
            #expect(try await s.engine.state(id).state == "failed")
            // The fix: the empty team gets a member.
            _ = try await s.engine.store.applyTeams(try DefinitionLoader.teams(
                from: ConsoleBrowserTests.teams + "    members:\n      - { id: newbie, name: New Bie }\n", file: "teams.yaml"))
            try await s.signIn(s.admin, then: "/instances/\(id)")
            try await s.browser.click("#retry-button")
            _ = try await s.browser.waitFor(".notice")
            #expect(try await s.browser.text("#instance-state") == "ready")
            try await s.browser.execute("window.batonMarker = 42;")
            try await s.engine.drain()
            try await s.until("the page showing completed") { try await s.browser.text("#instance-state") == "completed" }
            // Still the same page: a reload would have dropped the marker.
            #expect(try await s.browser.execute("return window.batonMarker;") as? Int == 42)
            let timeline = try await s.browser.text("#timeline")
            #expect(timeline.contains("manual retry by ops-admin"))
            try await s.shot("retry-live")
        }
    }

    @Test("bulk-cancel all instances matching a filter, after a confirmation with the count")
    func bulkCancelAllMatching() async throws {
        try await Setup.with("cons_bulk") { s in
            _ = try await s.waiting(7)
            _ = try await s.engine.store.signal("first_touch", contact: "C-1", payload: nil)
            try await s.engine.drain()
            try await s.signIn(s.admin, then: "/instances?state=waiting&workflow=flow")
            try await s.browser.click("#all-matching")
            try await s.browser.click("#bulk-cancel")
            _ = try await s.browser.waitFor("#confirm-count")
            #expect(try await s.browser.text("#confirm-count") == "6")
            #expect(try await s.engine.scalar("SELECT count(*)::int FROM workflow_instances WHERE state = 'cancelled'") == 0)
            try await s.shot("bulk-confirm")
            try await s.browser.type("campaign withdrawn", into: "#reason")
            try await s.browser.click("#confirm-button")
            _ = try await s.browser.waitFor(".notice")
            #expect(try await s.browser.text(".notice") == "Cancelled 6 instances.")
            #expect(try await s.engine.scalar("SELECT count(*)::int FROM workflow_instances WHERE state = 'cancelled'") == 6)
            #expect(try await s.engine.scalar("SELECT count(*)::int FROM workflow_instances WHERE state = 'completed'") == 1)
            let details: Int = try await s.engine.scalar(
                "SELECT count(*)::int FROM instance_events WHERE detail = 'cancelled by ops-admin: campaign withdrawn'")
            #expect(details == 6)
            try await s.shot("bulk-cancelled")
        }
    }

    @Test("reassign a contact and see the history row with the actor")
    func reassignContact() async throws {
        try await Setup.with("cons_reassign") { s in
            _ = try await s.waiting(1)
            let before = try #require(try await s.engine.store.contact("C-1"))
            let target = before.owner == "m3" ? "m4" : "m3"
            try await s.signIn(s.admin, then: "/contacts/C-1")
            try await s.choose("#reassign-to", target)
            try await s.browser.type("customer asked for a German speaker", into: "#reassign-reason")
            try await s.browser.click("#reassign-button")
            _ = try await s.browser.waitFor(".notice")
            #expect(try await s.browser.text("#contact-owner") == target)
            let newest = try await s.browser.text(".history tbody tr:first-child")
            #expect(newest.contains("customer asked for a German speaker") && newest.contains("ops-admin") && newest.contains(target))
            #expect(try await s.engine.store.contact("C-1")?.owner == target)
            try await s.shot("reassign")
        }
    }

    @Test("a viewer sees no action buttons; forged POSTs are refused")
    func viewerAndForgedPosts() async throws {
        try await Setup.with("cons_viewer") { s in
            let id = try await s.engine.start("failing", "C-F")
            try await s.engine.drain()
            try await s.signIn(s.viewer, then: "/instances/\(id)")
            #expect(try await s.browser.findAll("main form[method=post]").isEmpty)
            #expect(try await s.browser.findAll("#retry-button, #cancel-button").isEmpty)
            try await s.shot("viewer-instance")
            try await s.open("/instances")
            #expect(try await s.browser.findAll("input[type=checkbox]").isEmpty)
            try await s.open("/teams")
            #expect(try await s.browser.findAll("main form").isEmpty)
            // The viewer's own valid CSRF token does not make an admin action allowed.
            let csrf = try await s.browser.execute("return document.querySelector('form.signout input[name=csrf]').value;") as? String ?? ""
            #expect(try await s.post("/instances/\(id)/retry", "csrf=\(csrf)") == 403)
            #expect(try await s.post("/instances/\(id)/cancel", "csrf=\(csrf)") == 403)
            // An admin's session without the CSRF token is refused too.
            try await s.browser.click("form.signout button")
            try await s.signIn(s.admin, then: "/instances/\(id)")
            #expect(try await s.post("/instances/\(id)/cancel", "reason=forged") == 403)
            #expect(try await s.post("/instances/\(id)/cancel", "csrf=wrong&reason=forged") == 403)
            #expect(try await s.engine.state(id).state == "failed")
            // The API refuses the viewer too (it never had these rights).
            #expect(try await s.server.send("POST", "/v1/instances/\(id)/retry", token: s.viewer).status == 403)
        }
    }
}

extension ConsoleBrowserTests {
    @Test("mark a member out of office and inactive; the change is recorded with the actor and the audit sees it")
    func memberOutOfOffice() async throws {
        try await Setup.with("cons_teams") { s in
            _ = try await s.waiting(1)
            let owner = try #require(try await s.engine.store.contact("C-1")?.owner)
            try await s.signIn(s.admin, then: "/teams")
            try await s.browser.execute("document.getElementById(arguments[0]).value = '2099-12-31';", args: ["away-\(owner)"])
            try await s.browser.click("form[action=\"/teams/members/\(owner)/away\"] button")
            _ = try await s.browser.waitFor(".notice")
            #expect(try await s.browser.text("tr[data-member=\"\(owner)\"] [data-field=away]") == "until 2099-12-31")
            #expect(try await s.browser.text("#teams-live").contains("\(owner): out of office until 2099-12-31 (by ops-admin)"))
            let audit = try await s.engine.store.audit(queuedLongerThan: 3600)
            #expect(audit.contains { $0.kind == "out_of_office_owner" && $0.member == owner })
            try await s.browser.click("form[action=\"/teams/members/m7/active\"] button")
            // The page already shows the first change's notice: wait for the second change's page itself.
            #expect(try await eventually(timeout: .seconds(30)) {
                (try? await s.browser.text("tr[data-member=m7] [data-field=active]")) == "no"
            })
            #expect(try await s.engine.scalar("SELECT count(*)::int FROM member_changes WHERE actor = 'ops-admin'") == 2)
            try await s.shot("teams")
        }
    }

    @Test("set a lifecycle stage with the form and see the history row; a merged-away record links to the survivor; a viewer may not")
    func setLifecycleStage() async throws {
        try await Setup.with("cons_stage") { s in
            _ = try await s.waiting(2)
            let operatorToken = try await s.engine.store.createToken(name: "ops-operator", role: .operator_, createdBy: "test")
            /// After a marker of the new page was found: waits until that page is parsed to its end.
            func settled() async throws {
                try await s.until("the page loaded") {
                    try await s.browser.execute("return document.readyState;") as? String == "complete"
                }
            }
            try await s.signIn(operatorToken, then: "/contacts/C-1")
            try await settled()
            #expect(try await s.browser.text("#contact-stage") == "–")
            try await s.choose("#stage-to", "customer")
            try await s.browser.type("contract signed", into: "#stage-reason")
            try await s.browser.click("#stage-button")
            _ = try await s.browser.waitFor(".notice")
            try await settled()
            #expect(try await s.browser.text("#contact-stage") == "customer")
            let first = try await s.browser.text(".stages tbody tr:first-child")
            #expect(first.contains("customer") && first.contains("contract signed") && first.contains("ops-operator"), "\(first)")
            // A second change without a reason: the newest row comes first.
            try await s.choose("#stage-to", "at_risk")
            try await s.browser.click("#stage-button")
            _ = try await s.browser.waitFor(".notice")
            try await settled()
            #expect(try await s.browser.text("#contact-stage") == "at_risk")
            let newest = try await s.browser.text(".stages tbody tr:first-child")
            #expect(newest.contains("customer") && newest.contains("at_risk") && newest.contains("ops-operator"), "\(newest)")
            #expect(try await s.browser.findAll(".stages tbody tr").count == 2)
            #expect(try await s.engine.scalar("SELECT lifecycle_stage FROM contacts WHERE id = 'C-1'") == "at_risk")
            _ = try await s.browser.execute("document.getElementById('stage-h').scrollIntoView();")
            try await s.shot("stage")
            // The form on a phone: usable without sideways scrolling.
            try await s.browser.resize(width: 390, height: 844)
            let overflow = try await s.browser.execute(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth;") as? Int ?? -1
            #expect(overflow == 0, "the contact page is \(overflow) px wider than a 390 px screen")
            _ = try await s.browser.execute("document.getElementById('set-stage-h').scrollIntoView();")
            try await s.shot("phone-stage")
            try await s.browser.resize(width: 1280, height: 900)

            // A record merged into another: a banner links to the survivor, no stage form, and a
            // forged stage POST writes nothing.
            _ = try await s.engine.store.merge(keep: "C-1", drop: "C-2", reason: "same email", by: "test")
            try await s.open("/contacts/C-2")
            try await settled()
            let banner = try await s.browser.text(".merged")
            #expect(banner.contains("merged into contact:C-1"), "\(banner)")
            #expect(try await s.browser.findAll("#stage-button").isEmpty)
            try await s.shot("stage-merged")
            let csrf = try await s.browser.execute("return document.querySelector('form.signout input[name=csrf]').value;") as? String ?? ""
            _ = try await s.post("/contacts/C-2/stage", "csrf=\(csrf)&stage=churned")
            #expect(try await s.engine.scalar("SELECT count(*) FROM stage_history WHERE contact = 'C-2'") == 0)
            try await s.browser.click(".merged a")
            try await s.until("the banner's link leads to the survivor") { try await s.browser.currentURL().hasSuffix("/contacts/C-1") }
            try await settled()

            // A viewer sees the history but no form, and a forged POST with its own CSRF token is refused.
            try await s.browser.click("form.signout button")
            _ = try await s.browser.waitFor("#token")
            try await s.signIn(s.viewer, then: "/contacts/C-1")
            try await settled()
            #expect(try await s.browser.findAll(".stages tbody tr").count == 2)
            #expect(try await s.browser.findAll("#stage-button, #stage-to").isEmpty)
            let viewerCSRF = try await s.browser.execute("return document.querySelector('form.signout input[name=csrf]').value;") as? String ?? ""
            #expect(try await s.post("/contacts/C-1/stage", "csrf=\(viewerCSRF)&stage=lead") == 403)
            #expect(try await s.engine.scalar("SELECT lifecycle_stage FROM contacts WHERE id = 'C-1'") == "at_risk")
        }
    }
}
