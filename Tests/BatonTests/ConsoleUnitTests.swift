import BatonCore
import BatonTesting
import Foundation
import Mustache
import Testing
@testable import BatonHTTP

/// The console's pure parts: charts, the workflow graph, diffs, forms, CSRF, return paths, and the
/// embedded templates and files.
@Suite("Console pieces")
struct ConsoleUnitTests {
    @Test("a bar chart has one bar per value, scaled to the largest, with titles")
    func barChart() {
        let svg = SVGChart.bars(title: "Per hour <48h>", series: [
            SVGChart.Series(name: "started", values: [0, 5, 10], cssClass: "s1"),
            SVGChart.Series(name: "completed", values: [1, 2, 3], cssClass: "s2"),
        ], labels: ["00h", "01h", "02h"], width: 300, height: 100)
        #expect(svg.hasPrefix("<svg class=\"chart\" viewBox=\"0 0 300 100\""))
        #expect(svg.components(separatedBy: "<rect ").count - 1 == 6)
        #expect(svg.contains("<title>02h: 10 started</title>"))
        #expect(svg.contains("Per hour &lt;48h&gt;"))
        #expect(svg.contains("<desc>started: 15, completed: 6</desc>"))
        // The tallest bar spans the plot (100 - 12 - 28 = 60), a zero bar has no height.
        #expect(svg.contains("height=\"60\""))
        #expect(svg.contains("height=\"0\""))
    }

    @Test("times are written as RFC 3339 for the script and as UTC text for people, seconds rounded down")
    func times() throws {
        let time = try #require(ConsoleFormat.time(Date(timeIntervalSince1970: 1_772_445_605.9)))
        #expect(time["iso"] as? String == "2026-03-02T10:00:05Z")
        #expect(time["utc"] as? String == "2026-03-02 10:00:05 UTC")
        #expect(ConsoleFormat.time(nil) == nil)
    }

    @Test("an empty chart still draws its axes")
    func emptyChart() {
        let svg = SVGChart.bars(title: "none", series: [SVGChart.Series(name: "x", values: [], cssClass: "s1")], labels: [])
        #expect(svg.contains("class=\"axis\""))
        #expect(!svg.contains("<rect"))
    }

    static let inboundish = """
        name: w
        start: route
        steps:
          route:
            assign: { team: sales, strategy: round_robin }
            next: wait
          wait:
            wait_for_sla: { event: first_touch, within: 1h }
            on_met: done
            on_breach: escalate
          escalate:
            escalate: { reassign_to: backup }
            next: wait
          done:
            end: {}
        """

    static func definition() throws -> WorkflowDefinition {
        let known = KnownNames(teams: ["sales"], calendars: [], channels: ["log"], members: [])
        return try DefinitionLoader.workflow(from: inboundish, file: "w.yaml", known: known)
    }

    @Test("steps sit in rows by distance from the start; a loop back stays where it is")
    func graphLayout() throws {
        let layout = WorkflowGraph.layout(try Self.definition())
        #expect(layout.position["route"]! == (0, 0))
        #expect(layout.position["wait"]! == (1, 0))
        #expect(layout.position["escalate"]! == (2, 0))
        #expect(layout.position["done"]! == (2, 1))
        #expect(layout.rows == 3 && layout.columns == 2)
    }

    @Test("the graph marks the path taken and the current step")
    func graphHighlights() throws {
        let svg = WorkflowGraph.svg(try Self.definition(), path: ["route", "wait", "escalate", "wait"], current: "wait")
        #expect(svg.components(separatedBy: "class=\"node visited").count - 1 == 3)
        #expect(svg.contains("class=\"node visited current\""))
        #expect(svg.components(separatedBy: "class=\"edge taken").count - 1 == 3)
        #expect(svg.contains("class=\"edge taken back\""))
        #expect(svg.contains(">met<") && svg.contains(">breach<"))
        #expect(WorkflowGraph.transitions(["a", "a", "b", "c"]) == ["a->b", "b->c"])
    }

    @Test("a line diff keeps, removes and adds lines in order")
    func diff() {
        let lines = TextDiff.lines("a\nb\nc\n", "a\nc\nd\n")
        #expect(lines.map(\.kind) == [.same, .removed, .same, .added, .same])
        #expect(lines.map(\.text) == ["a", "b", "c", "d", ""])
        #expect(TextDiff.lines("x", "x").allSatisfy { $0.kind == .same })
    }

    @Test("forms decode +, percent escapes and repeated names; bad escapes are dropped")
    func forms() {
        let form = FormData(parsing: "id=1&id=2&reason=a+b%2Fc&empty=&bad=%zz&csrf=x%3D")
        #expect(form.all("id") == ["1", "2"])
        #expect(form["reason"] == "a b/c")
        #expect(form["empty"] == nil)
        #expect(form["bad"] == nil)
        #expect(form["csrf"] == "x=")
        #expect(FormData.query([("state", "failed"), ("owner", nil), ("q", "a b&c")]) == "state=failed&q=a%20b%26c")
    }

    @Test("the CSRF check needs the exact token")
    func csrf() {
        #expect(CSRF.matches("abc", "abc"))
        #expect(!CSRF.matches(nil, "abc"))
        #expect(!CSRF.matches("abd", "abc"))
        #expect(!CSRF.matches("ab", "abc"))
        #expect(!CSRF.matches("", ""))
    }

    @Test("actions return only to local paths, without an earlier notice")
    func returnPaths() {
        #expect(ConsoleRenderer.safeReturn("/instances?state=failed&notice=x") == "/instances?state=failed")
        #expect(ConsoleRenderer.safeReturn("//evil.example/x") == "/")
        #expect(ConsoleRenderer.safeReturn("https://evil.example/") == "/")
        #expect(ConsoleRenderer.safeReturn("/\\evil") == "/")
        #expect(ConsoleRenderer.safeReturn(nil) == "/")
    }

    @Test("the session cookie is HttpOnly and SameSite=Strict, Secure over TLS")
    func cookie() {
        let plain = SessionCookie.header("baton_session", value: "abc", maxAge: 60, secure: false)
        #expect(plain == "baton_session=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=60")
        #expect(SessionCookie.header("baton_session", value: "abc", maxAge: 60, secure: true).hasSuffix("; Secure"))
        #expect(SessionCookie.header("baton_session", value: nil, maxAge: 60, secure: false).contains("Max-Age=0"))
    }

    @Test("every template parses, and the embedded copies equal the files (run scripts/gen-console)")
    func assets() throws {
        let folder = packageRoot.appendingPathComponent("Sources/BatonHTTP/Console/Resources")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        var seen = 0
        for file in files {
            let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            if file.hasSuffix(".mustache") {
                let name = String(file.dropLast(".mustache".count))
                let embedded = try #require(ConsoleAssets.templates[name], "\(file) is not embedded: run scripts/gen-console")
                #expect(embedded + "\n" == text || embedded == text, "\(file) differs from the embedded copy: run scripts/gen-console")
                _ = try MustacheTemplate(string: text)
            } else {
                let embedded = try #require(ConsoleAssets.files[file], "\(file) is not embedded: run scripts/gen-console")
                #expect(embedded + "\n" == text || embedded == text, "\(file) differs from the embedded copy: run scripts/gen-console")
            }
            seen += 1
        }
        #expect(seen == ConsoleAssets.templates.count + ConsoleAssets.files.count, "an embedded file was deleted: run scripts/gen-console")
    }

    @Test("pages escape what they show")
    func escaping() {
        let renderer = ConsoleRenderer()
        let html = renderer.library.render(["status": 404, "message": "<script>alert(1)</script>"], withTemplate: "error") ?? ""
        #expect(html.contains("&lt;script&gt;"))
        #expect(!html.contains("<script>alert"))
    }
}

@Suite("Console page data")
struct ConsolePageDataTests {
    @Test("nil optionals are dropped from page data, so sections do not print nil")
    func nilsDropped() {
        let missing: String? = nil
        let data: [String: Any] = ["a": missing as Any, "b": "x", "rows": [["c": missing as Any, "d": 1] as [String: Any]]]
        let renderer = ConsoleRenderer()
        let cleaned = ConsoleRenderer.droppingNils(data) as? [String: Any] ?? [:]
        #expect(cleaned["a"] == nil && cleaned["b"] as? String == "x")
        let rows = cleaned["rows"] as? [[String: Any]] ?? []
        #expect(rows.first?["c"] == nil && rows.first?["d"] as? Int == 1)
        _ = renderer
    }

    @Test("every kind of nil is dropped, at any depth, and present values are kept as they were")
    func nilsOfEveryKindDropped() {
        let noTime: [String: Any]? = nil, noNumber: Int? = nil, noList: [Any]? = nil
        let someTime: [String: Any]? = ["iso": "2026-03-02T10:00:05Z"]
        let data: [String: Any] = [
            "t": noTime as Any, "n": noNumber as Any, "l": noList as Any, "s": someTime as Any, "zero": 0, "no": false, "empty": "",
            "list": [noNumber as Any, 1, "two"] as [Any],
            "deep": ["rows": [["x": noTime as Any, "y": someTime as Any] as [String: Any]]] as [String: Any],
        ]
        let cleaned = ConsoleRenderer.droppingNils(data) as? [String: Any] ?? [:]
        #expect(Set(cleaned.keys) == ["s", "zero", "no", "empty", "list", "deep"])
        #expect((cleaned["s"] as? [String: Any])?["iso"] as? String == "2026-03-02T10:00:05Z")
        #expect(cleaned["zero"] as? Int == 0 && cleaned["no"] as? Bool == false && cleaned["empty"] as? String == "")
        #expect((cleaned["list"] as? [Any])?.count == 2)
        let rows = (cleaned["deep"] as? [String: Any])?["rows"] as? [[String: Any]] ?? []
        #expect(rows.count == 1 && rows[0]["x"] == nil && rows[0]["y"] != nil)
    }
}
