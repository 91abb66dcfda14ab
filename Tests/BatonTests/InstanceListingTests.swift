import Baton
import BatonCore
import BatonTesting
import Foundation
import Postgres
import Testing

/// The instance listing's sorts and filters, through `GET /v1/instances` and the console's
/// `/instances`, against a real baton-server and database.
@Suite("Instance listing: sorts and filters")
struct InstanceListingTests {
    typealias Setup = HTTPAPITests.Setup

    static func encode(_ text: String) -> String { text.addingPercentEncoding(withAllowedCharacters: .alphanumerics)! }

    /// The ids of every page of `path` (37 a page), calling `between` after the fifth page.
    static func pageThrough(_ s: Setup, _ path: String, between: () async throws -> Void) async throws -> [Int] {
        var seen: [Int] = []
        var cursor: String?
        var pages = 0
        repeat {
            let page = try await s.server.get(path + "&limit=37" + (cursor.map { "&cursor=\(encode($0))" } ?? ""), token: s.viewer)
            #expect(page.status == 200, "\(path): \(page.text)")
            seen += (page.json["items"] as? [[String: Any]] ?? []).compactMap { ($0["id"] as? String).flatMap { Int($0) } }
            cursor = page.json["next_cursor"] as? String
            pages += 1
            if pages == 5 { try await between() }
        } while cursor != nil && pages < 200
        return seen
    }

    @Test("every sort pages through 1,000 instances with inserts in between: each row once, in order, none skipped")
    func sortsPaginate() async throws {
        let s = try await Setup.make("listsorts")
        defer { Task { await s.close() } }
        // Ten batches of 100: each batch shares its times, so ties are broken by id.
        for batch in 0..<10 {
            _ = try await s.engine.store.enroll((0..<100).map { EnrollmentRequest(contact: "P-\(batch)-\($0)") }, in: "flow")
        }
        // Spread run_at and updated_at so that neither follows the id order.
        _ = try await s.engine.rows("""
            UPDATE workflow_instances SET run_at = now() + (id % 7) * interval '1 minute',
                updated_at = now() - (id % 5) * interval '1 second'
            """)
        var extra = 0
        for sort in InstanceSort.allCases {
            let column = sort.column == "id" ? "id" : "\(sort.column), id"
            let direction = sort.descending ? " DESC" : ""
            let expected = try await s.engine.rows(
                "SELECT id FROM workflow_instances ORDER BY " + column.split(separator: ",").map { "\($0)\(direction)" }.joined(separator: ","))
                .map { try $0.decode(Int.self, at: 0) }
            #expect(expected.count == 1000 + extra)
            let seen = try await Self.pageThrough(s, "/v1/instances?sort=\(Self.encode(sort.rawValue))") {
                _ = try await s.engine.store.enroll((0..<20).map { EnrollmentRequest(contact: "Q-\(sort.rawValue)-\($0)") }, in: "flow")
            }
            extra += 20
            #expect(Set(seen).count == seen.count, "sort=\(sort.rawValue) repeated a row")
            let known = Set(expected)
            #expect(seen.filter(known.contains) == expected, "sort=\(sort.rawValue) skipped or misordered a row")
            if sort == .id || sort == .updatedAt { #expect(seen.count == expected.count + 20, "sort=\(sort.rawValue) missed new rows") }
            if sort == .idDescending || sort == .updatedAtDescending { #expect(seen.count == expected.count) }
        }
    }

    @Test("version and started between filter the page, the count and the bulk actions, combined with the others")
    func filters() async throws {
        let s = try await Setup.make("listfilters")
        defer { Task { await s.close() } }
        let store = s.engine.store
        _ = try await store.enroll((0..<30).map { EnrollmentRequest(contact: "A-\($0)") }, in: "flow")
        _ = try await store.applyWorkflow(text: HTTPAPITests.flow.replacingOccurrences(of: "within: 1h", with: "within: 2h"), file: "flow.yaml")
        _ = try await store.enroll((0..<20).map { EnrollmentRequest(contact: "B-\($0)") }, in: "flow")
        // A-0..A-9 started on 1 January, A-10..A-19 on 2 January (both UTC), the rest now.
        _ = try await s.engine.rows("""
            UPDATE workflow_instances SET created_at = CASE WHEN contact ~ '^A-[0-9]$' THEN timestamptz '2026-01-01T00:00:00Z'
                ELSE timestamptz '2026-01-02T00:00:00Z' END
            WHERE contact ~ '^A-1?[0-9]$'
            """)
        func ids(_ query: String) async throws -> [String] {
            let page = try await s.server.get("/v1/instances?limit=1000&" + query, token: s.viewer)
            #expect(page.status == 200, "\(query): \(page.text)")
            return (page.json["items"] as? [[String: Any]] ?? []).compactMap { $0["contact"] as? String }
        }
        #expect(try await ids("version=2").count == 20)
        #expect(try await ids("workflow=flow&version=1&state=ready").count == 30)
        #expect(try await ids("version=3").isEmpty)
        // started_after is inclusive, started_before exclusive; an offset is honoured.
        #expect(try await ids("started_after=2026-01-01T00:00:00Z&started_before=2026-01-02T00:00:00Z").count == 10)
        #expect(try await ids("started_after=2026-01-01T00:00:00.000001Z&started_before=2026-01-03T00:00:00Z").count == 10)
        #expect(try await ids("started_before=\(Self.encode("2026-01-02T01:00:00+01:00"))").count == 10)
        #expect(try await ids("version=1&started_after=2026-01-02T00:00:00Z&sort=-run_at").count == 20)
        #expect(try await ids("version=2&started_after=2026-01-02T00:00:00Z&contact=B-3") == ["B-3"])
        #expect(try await ids("version=2&started_before=2026-01-03T00:00:00Z").isEmpty)

        let january = InstanceQuery(version: 1, startedBefore: InstanceQuery.timestamp("2026-01-02T00:00:00Z"))
        #expect(try await store.countInstances(january) == 10)
        #expect(try await store.cancelInstances(ids: nil, matching: january, by: "test", reason: "old") == 10)
        #expect(try await store.countInstances(InstanceQuery(state: "cancelled")) == 10)
        #expect(try await store.countInstances(InstanceQuery(version: 2, state: "ready")) == 20)
    }

    @Test("bad sorts, filters and cursors are one-line 400 problems")
    func badValues() async throws {
        let s = try await Setup.make("listbad")
        defer { Task { await s.close() } }
        _ = try await s.engine.store.enroll((0..<5).map { EnrollmentRequest(contact: "C-\($0)") }, in: "flow")
        let runAt = try await s.server.get("/v1/instances?sort=run_at&limit=2", token: s.viewer)
        let cursor = try #require(runAt.json["next_cursor"] as? String)
        let byID = try await s.server.get("/v1/instances?limit=2", token: s.viewer)
        let idCursor = try #require(byID.json["next_cursor"] as? String)
        #expect(try await s.server.get("/v1/instances?sort=run_at&cursor=\(Self.encode(cursor))", token: s.viewer).status == 200)
        let cases: [(String, String)] = [
            ("sort=name", "sort must be one of"),
            ("sort=-run_at&order=desc", "sort or order"),
            ("version=0", "version must be"),
            ("version=two", "version must be"),
            ("version=99999999999", "version must be"),
            ("started_after=yesterday", "started_after must be an RFC 3339 time"),
            ("started_before=2026-13-01T00:00:00Z", "started_before must be an RFC 3339 time"),
            ("started_after=0000-01-01T00:00:00Z", "started_after must be"),
            ("sort=-run_at&cursor=\(Self.encode(cursor))", "belongs to sort=run_at"),
            ("sort=updated_at&cursor=\(Self.encode(cursor))", "belongs to sort=run_at"),
            ("cursor=\(Self.encode(cursor))", "belongs to sort=run_at"),
            ("sort=run_at&cursor=\(Self.encode(idCursor))", "belongs to sort=id"),
            ("sort=run_at&cursor=\(Self.encode(Data("run_at:not-a-time:3".utf8).base64EncodedString()))", "cursor is not one"),
        ]
        for (query, message) in cases {
            let reply = try await s.server.get("/v1/instances?" + query, token: s.viewer)
            #expect(reply.status == 400, "\(query)")
            #expect(reply.contentType == "application/problem+json", "\(query)")
            let detail = reply.json["detail"] as? String ?? ""
            #expect(detail.contains(message) && !detail.contains("\n"), "\(query): \(detail)")
        }
    }

    @Test("the console sorts by a heading's link, keeps the filters, and shows a bad filter as a message on the page")
    func console() async throws {
        let s = try await Setup.make("listconsole")
        defer { Task { await s.close() } }
        _ = try await s.engine.store.enroll((0..<60).map { EnrollmentRequest(contact: "D-\($0)") }, in: "flow")
        let session = try #require(try await s.engine.store.signIn(token: s.viewer, lifetime: 3600)).id
        func page(_ path: String) async throws -> APIServer.Reply {
            try await s.server.send("GET", path, headers: ["Cookie": "baton_session=\(session)"])
        }
        let sorted = try await page("/instances?state=ready&version=1&sort=run_at")
        #expect(sorted.status == 200)
        #expect(sorted.text.contains(#"href="/instances?version=1&amp;state=ready&amp;sort=-run_at""#), "\(sorted.text)")
        #expect(sorted.text.contains(#"aria-sort="ascending""#))
        #expect(sorted.text.contains(#"href="/instances?version=1&amp;state=ready&amp;sort=updated_at""#))
        #expect(sorted.text.contains(#"id="f-version" name="version" value="1""#))
        let next = try #require(sorted.text.range(of: #"href="(/instances\?[^"]*cursor=[^"]*)" rel="next""#, options: .regularExpression))
        let nextLink = String(sorted.text[next]).dropFirst(6).prefix { $0 != "\"" }.replacingOccurrences(of: "&amp;", with: "&")
        #expect(nextLink.contains("sort=run_at"))
        #expect(try await page(nextLink).status == 200)
        let bad = try await page("/instances?version=x&started_after=soon")
        #expect(bad.status == 400)
        #expect(bad.text.contains("version must be a whole number from 1, got x"))
        #expect(bad.text.contains(#"id="filter-error""#) && bad.text.contains(#"<form class="filters""#))
        let wrongCursor = try await page(nextLink.replacingOccurrences(of: "sort=run_at", with: "sort=-updated_at"))
        #expect(wrongCursor.status == 400)
        #expect(wrongCursor.text.contains("belongs to sort=run_at"))
    }
}
