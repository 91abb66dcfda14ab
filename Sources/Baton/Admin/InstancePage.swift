import BatonCore
import Foundation
import Postgres

/// A filtered, keyset-paginated listing of instances: the API's `GET /v1/instances`.
public struct InstanceQuery: Sendable, Equatable {
    public var workflow: String?
    public var state: String?
    public var owner: String?
    public var team: String?
    public var step: String?
    public var contact: String?
    /// Rows per page, 1...1000.
    public var limit: Int
    /// Rows after this id (in the listing's order); nil for the first page.
    public var after: Int?
    /// Newest first when true; by id ascending (the CLI's order) otherwise.
    public var newestFirst: Bool

    public init(workflow: String? = nil, state: String? = nil, owner: String? = nil, team: String? = nil,
                step: String? = nil, contact: String? = nil, limit: Int = 100, after: Int? = nil, newestFirst: Bool = false) {
        self.workflow = workflow
        self.state = state
        self.owner = owner
        self.team = team
        self.step = step
        self.contact = contact
        self.limit = limit
        self.after = after
        self.newestFirst = newestFirst
    }
}

/// One page of instances and the cursor of the next (nil on the last page).
public struct InstancePage: Sendable, Codable {
    public var items: [InstanceSummary]
    public var next_cursor: String?
}

/// The instance states, in their life's order.
public let instanceStates = ["ready", "running", "waiting", "completed", "failed", "cancelled"]

extension InstancePage {
    /// The opaque cursor for rows after `id`.
    public static func cursor(after id: Int) -> String { Data("i:\(id)".utf8).base64EncodedString() }

    /// The id a cursor stands for; nil when the text is not a cursor this server made.
    public static func id(fromCursor cursor: String) -> Int? {
        guard let data = Data(base64Encoded: cursor), let text = String(data: data, encoding: .utf8),
              text.hasPrefix("i:"), let id = Int(text.dropFirst(2)), id >= 0 else { return nil }
        return id
    }
}

extension Store {
    /// Pages of instances by id, filtered; one row more than asked tells whether a next page
    /// exists. Rows inserted meanwhile have higher ids, so paging ascending never repeats or skips a
    /// row, and paging descending never sees them. Two statements, so each can walk the primary key.
    static func pageInstances(ascending: Bool) -> String {
        ascending ? pageInstancesAscending : pageInstancesDescending
    }
    static let pageInstancesAscending = pageInstancesSelect + """
          AND ($7::bigint IS NULL OR i.id > $7)
        ORDER BY i.id LIMIT $8
        """
    static let pageInstancesDescending = pageInstancesSelect + """
          AND ($7::bigint IS NULL OR i.id < $7)
        ORDER BY i.id DESC LIMIT $8
        """
    private static let pageInstancesSelect = """
        SELECT i.id, i.workflow, i.version, i.contact, i.state, i.step, c.owner, c.team, i.priority, i.run_at, i.updated_at
        FROM workflow_instances i JOIN contacts c ON c.id = i.contact
        WHERE ($1::text IS NULL OR i.workflow = $1) AND ($2::text IS NULL OR i.state = $2)
          AND ($3::text IS NULL OR c.owner = $3) AND ($4::text IS NULL OR c.team = $4)
          AND ($5::text IS NULL OR i.step = $5) AND ($6::text IS NULL OR i.contact = $6)

        """

    /// One page of the listing.
    public func instancePage(_ query: InstanceQuery) async throws -> InstancePage {
        guard (1...1000).contains(query.limit) else { throw BatonError.invalid("limit must be between 1 and 1000, got \(query.limit)") }
        if let state = query.state, !instanceStates.contains(state) {
            throw BatonError.invalid("unknown state \(state): one of \(instanceStates.joined(separator: ", "))")
        }
        let rows = try await pool.withConnection { connection in
            try await connection.query(Self.pageInstances(ascending: !query.newestFirst), [
                query.workflow, query.state, query.owner, query.team, query.step, query.contact, query.after,
                query.limit + 1,
            ]).map(Self.instanceSummary)
        }
        let items = Array(rows.prefix(query.limit))
        let next = rows.count > query.limit ? items.last.flatMap { Int($0.id) }.map(InstancePage.cursor(after:)) : nil
        return InstancePage(items: items, next_cursor: next)
    }
}
