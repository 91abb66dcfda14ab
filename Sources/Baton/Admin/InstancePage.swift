import BatonCore
import Foundation
import Postgres

/// A filtered, keyset-paginated listing of instances: the API's `GET /v1/instances` and the console's `/instances`.
public struct InstanceQuery: Sendable, Equatable {
    public var workflow: String?
    public var version: Int?
    public var state: String?
    public var owner: String?
    public var team: String?
    public var step: String?
    public var contact: String?
    /// Instances created at or after this time.
    public var startedAfter: Date?
    /// Instances created before this time.
    public var startedBefore: Date?
    /// Rows per page, 1...1000.
    public var limit: Int
    /// The listing's order.
    public var sort: InstanceSort
    /// Rows after this one (in the listing's order); nil for the first page.
    public var after: InstanceCursor?

    public init(workflow: String? = nil, version: Int? = nil, state: String? = nil, owner: String? = nil, team: String? = nil,
                step: String? = nil, contact: String? = nil, startedAfter: Date? = nil, startedBefore: Date? = nil,
                limit: Int = 100, sort: InstanceSort = .id, after: InstanceCursor? = nil) {
        self.workflow = workflow
        self.version = version
        self.state = state
        self.owner = owner
        self.team = team
        self.step = step
        self.contact = contact
        self.startedAfter = startedAfter
        self.startedBefore = startedBefore
        self.limit = limit
        self.sort = sort
        self.after = after
    }

    /// The filter parameters, by their API names (the sort, cursor and limit are not filters).
    public static let filterNames = ["workflow", "version", "state", "step", "owner", "team", "contact", "started_after", "started_before"]

    /// The filters and sort from query parameters by their API names (`parameter` returns nil for
    /// an absent or empty one); a bad value throws `BatonError.invalid` with one line saying why.
    public static func parse(_ parameter: (String) -> String?) throws -> InstanceQuery {
        var query = InstanceQuery(workflow: parameter("workflow"), state: parameter("state"), owner: parameter("owner"),
                                  team: parameter("team"), step: parameter("step"), contact: parameter("contact"))
        if let state = query.state, !instanceStates.contains(state) {
            throw BatonError.invalid("unknown state \(state): one of \(instanceStates.joined(separator: ", "))")
        }
        if let text = parameter("version") {
            guard let version = Int(text), (1...Int(Int32.max)).contains(version) else {
                throw BatonError.invalid("version must be a whole number from 1, got \(text)")
            }
            query.version = version
        }
        for (name, keyPath) in [("started_after", \InstanceQuery.startedAfter), ("started_before", \InstanceQuery.startedBefore)] {
            guard let text = parameter(name) else { continue }
            guard let date = timestamp(text) else {
                throw BatonError.invalid("\(name) must be an RFC 3339 time such as 2026-11-01T09:00:00Z, got \(text)")
            }
            query[keyPath: keyPath] = date
        }
        if let text = parameter("sort") {
            guard let sort = InstanceSort(rawValue: text) else {
                throw BatonError.invalid("sort must be one of \(InstanceSort.allCases.map(\.rawValue).joined(separator: ", ")), got \(text)")
            }
            query.sort = sort
        }
        return query
    }

    /// An RFC 3339 time (`2026-11-01T09:00:00Z`, `2026-11-01T10:00:00.000001+01:00`) in the
    /// years 1 to 9999, exact to the microsecond; nil when the text is not one.
    public static func timestamp(_ text: String) -> Date? {
        PreciseTime.parse(text).map { Date(timeIntervalSince1970: Double($0.seconds) + Double($0.micros) / 1_000_000) }
    }
}

/// The orders of an instance listing, by their `sort` parameter. Each breaks ties by id in the same
/// direction, so every order is total and a keyset page never repeats or skips a row whose sort
/// key does not change while someone pages.
public enum InstanceSort: String, Sendable, Equatable, CaseIterable {
    /// By id ascending: creation order, the default.
    case id
    /// Newest first.
    case idDescending = "-id"
    /// Soonest due first.
    case runAt = "run_at"
    case runAtDescending = "-run_at"
    /// Least recently changed first.
    case updatedAt = "updated_at"
    case updatedAtDescending = "-updated_at"

    /// The column the order is by, without the direction.
    public var column: String { rawValue.hasPrefix("-") ? String(rawValue.dropFirst()) : rawValue }
    /// True when the order is descending.
    public var descending: Bool { rawValue.hasPrefix("-") }
    /// The same column in the other direction.
    public var reversed: InstanceSort { InstanceSort(rawValue: descending ? column : "-" + column)! }
}

/// Where a page ends: the last row's sort key and id. Opaque to clients (base64 of `i:ID` for the
/// id orders, `SORT:KEY:ID` with the key an RFC 3339 UTC time to the microsecond otherwise).
public struct InstanceCursor: Sendable, Equatable {
    /// The sort the cursor was made for; id cursors serve either direction of the id order.
    public var sort: InstanceSort
    /// The last row's sort key; nil for the id orders.
    public var key: String?
    public var id: Int

    public init(sort: InstanceSort, key: String?, id: Int) {
        self.sort = sort.column == "id" ? .id : sort
        self.key = sort.column == "id" ? nil : key
        self.id = id
    }

    /// The cursor as the API hands it out.
    public var text: String {
        Data((key.map { "\(sort.rawValue):\($0):\(id)" } ?? "i:\(id)").utf8).base64EncodedString()
    }

    /// The cursor `text` stands for; nil when it is not one this server made.
    public init?(text: String) {
        guard let data = Data(base64Encoded: text), let plain = String(data: data, encoding: .utf8) else { return nil }
        if plain.hasPrefix("i:") {
            guard let id = Int(plain.dropFirst(2)), id >= 0 else { return nil }
            self.init(sort: .id, key: nil, id: id)
            return
        }
        guard let first = plain.firstIndex(of: ":"), let last = plain.lastIndex(of: ":"), first < last,
              let sort = InstanceSort(rawValue: String(plain[..<first])), sort.column != "id",
              let id = Int(plain[plain.index(after: last)...]), id >= 0 else { return nil }
        let key = String(plain[plain.index(after: first)..<last])
        guard key.utf8.count <= 40, InstanceQuery.timestamp(key) != nil else { return nil }
        self.init(sort: sort, key: key, id: id)
    }
}

/// One page of instances and the cursor of the next (nil on the last page).
public struct InstancePage: Sendable, Codable {
    public var items: [InstanceSummary]
    public var next_cursor: String?
}

/// The instance states, in their life's order.
public let instanceStates = ["ready", "running", "waiting", "completed", "failed", "cancelled"]

extension Store {
    /// The listing's filters, shared by the page, the count and the bulk actions: $1 workflow,
    /// $2 state, $3 owner, $4 team, $5 step, $6 contact, $7 version, $8 started at or after,
    /// $9 started before; a NULL parameter does not filter.
    static let instanceFilters = """
        WHERE ($1::text IS NULL OR i.workflow = $1) AND ($2::text IS NULL OR i.state = $2)
          AND ($3::text IS NULL OR c.owner = $3) AND ($4::text IS NULL OR c.team = $4)
          AND ($5::text IS NULL OR i.step = $5) AND ($6::text IS NULL OR i.contact = $6)
          AND ($7::int IS NULL OR i.version = $7)
          AND ($8::timestamptz IS NULL OR i.created_at >= $8) AND ($9::timestamptz IS NULL OR i.created_at < $9)

        """

    /// `instanceFilters` for a listing of one state ($2, not NULL), written as a range: an equality
    /// would let the planner drop the state from `ORDER BY state, id` and walk the primary key
    /// instead of `workflow_instances_state_id`.
    static let instanceFiltersOfState = instanceFilters.replacingOccurrences(
        of: "($2::text IS NULL OR i.state = $2)", with: "(i.state >= $2::text AND i.state <= $2::text)")

    /// The parameters of `instanceFilters`, in its order.
    static func filterParameters(_ query: InstanceQuery) -> [(any PostgresEncodable)?] {
        [query.workflow, query.state, query.owner, query.team, query.step, query.contact, query.version,
         query.startedAfter.map(Self.timestampText), query.startedBefore.map(Self.timestampText)]
    }

    /// A time as text PostgreSQL reads exactly (UTC, microseconds).
    static func timestampText(_ date: Date) -> String { PreciseTime.format(date) }

    /// Pages of instances in each order, filtered; one row more than asked tells whether a next
    /// page exists. For the id orders $10 is the last row's id (NULL on the first page) and $11 the
    /// row count; for the others $10 is the last row's sort key (an RFC 3339 time), $11 its id
    /// (both NULL on the first page) and $12 the row count. Rows come strictly after
    /// (key, id) in the order, so a row is never repeated or skipped unless its key changes while
    /// someone pages; new rows have the highest ids, times of now, and land where they sort.
    /// One statement per order, so each can walk its own index. With a state filter, the id orders
    /// walk `workflow_instances_state_id (state, id)`: the primary key filtered by state reads every
    /// row of the other states that comes first (200,000 new `ready` rows before the first
    /// `waiting` one made `state=waiting&limit=50` take 100 ms at 1M rows; the planner cannot know
    /// that states cluster by id).
    static func pageInstances(_ sort: InstanceSort, state: Bool = false) -> String {
        switch sort {
        case .id where state: pageInstancesOfStateByID
        case .idDescending where state: pageInstancesOfStateByIDDescending
        case .id: pageInstancesByID
        case .idDescending: pageInstancesByIDDescending
        case .runAt: pageInstancesByRunAt
        case .runAtDescending: pageInstancesByRunAtDescending
        case .updatedAt: pageInstancesByUpdatedAt
        case .updatedAtDescending: pageInstancesByUpdatedAtDescending
        }
    }
    /// By id ascending, after id $10.
    static let pageInstancesByID = pageInstancesSelect + """
          AND ($10::bigint IS NULL OR i.id > $10)
        ORDER BY i.id LIMIT $11
        """
    /// By id descending, before id $10.
    static let pageInstancesByIDDescending = pageInstancesSelect + """
          AND ($10::bigint IS NULL OR i.id < $10)
        ORDER BY i.id DESC LIMIT $11
        """
    /// In state $2 (not NULL), by id ascending after id $10: the (state, id) index in order.
    static let pageInstancesOfStateByID = pageInstancesColumns + instanceFiltersOfState + """
          AND ($10::bigint IS NULL OR i.id > $10)
        ORDER BY i.state, i.id LIMIT $11
        """
    /// In state $2 (not NULL), by id descending before id $10: the (state, id) index backwards.
    static let pageInstancesOfStateByIDDescending = pageInstancesColumns + instanceFiltersOfState + """
          AND ($10::bigint IS NULL OR i.id < $10)
        ORDER BY i.state DESC, i.id DESC LIMIT $11
        """
    /// By run_at then id, after ($10, $11).
    static let pageInstancesByRunAt = pageInstancesSelect + """
          AND ($10::timestamptz IS NULL OR (i.run_at, i.id) > ($10::timestamptz, $11::bigint))
        ORDER BY i.run_at, i.id LIMIT $12
        """
    /// By run_at then id, both descending, before ($10, $11).
    static let pageInstancesByRunAtDescending = pageInstancesSelect + """
          AND ($10::timestamptz IS NULL OR (i.run_at, i.id) < ($10::timestamptz, $11::bigint))
        ORDER BY i.run_at DESC, i.id DESC LIMIT $12
        """
    /// By updated_at then id, after ($10, $11).
    static let pageInstancesByUpdatedAt = pageInstancesSelect + """
          AND ($10::timestamptz IS NULL OR (i.updated_at, i.id) > ($10::timestamptz, $11::bigint))
        ORDER BY i.updated_at, i.id LIMIT $12
        """
    /// By updated_at then id, both descending, before ($10, $11).
    static let pageInstancesByUpdatedAtDescending = pageInstancesSelect + """
          AND ($10::timestamptz IS NULL OR (i.updated_at, i.id) < ($10::timestamptz, $11::bigint))
        ORDER BY i.updated_at DESC, i.id DESC LIMIT $12
        """
    /// The rows and each row's possible sort keys, exact to the microsecond, in UTC, filtered.
    private static let pageInstancesSelect = pageInstancesColumns + instanceFilters
    /// The rows and each row's possible sort keys, exact to the microsecond, in UTC.
    private static let pageInstancesColumns = """
        SELECT i.id, i.workflow, i.version, i.contact, i.state, i.step, c.owner, c.team, i.priority, i.run_at, i.updated_at,
               to_char(i.run_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS run_at_key,
               to_char(i.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS updated_at_key
        FROM workflow_instances i JOIN contacts c ON c.id = i.contact

        """

    /// One page of the listing.
    public func instancePage(_ query: InstanceQuery) async throws -> InstancePage {
        guard (1...1000).contains(query.limit) else { throw BatonError.invalid("limit must be between 1 and 1000, got \(query.limit)") }
        if let state = query.state, !instanceStates.contains(state) {
            throw BatonError.invalid("unknown state \(state): one of \(instanceStates.joined(separator: ", "))")
        }
        if let cursor = query.after, cursor.sort.column != query.sort.column || (cursor.key != nil && cursor.sort != query.sort) {
            throw BatonError.invalid("the cursor belongs to sort=\(cursor.sort.rawValue), not sort=\(query.sort.rawValue): start again without a cursor")
        }
        let keyColumn = query.sort.column + "_key"
        let rows = try await pool.withConnection { connection in
            let keyset: [(any PostgresEncodable)?] = query.sort.column == "id"
                ? [query.after?.id, query.limit + 1] : [query.after?.key, query.after?.id, query.limit + 1]
            return try await connection.query(Self.pageInstances(query.sort, state: query.state != nil), Self.filterParameters(query) + keyset).map { row in
                (try Self.instanceSummary(row), query.sort.column == "id" ? nil : try row.decode(String.self, keyColumn))
            }
        }
        let page = rows.prefix(query.limit)
        let next = rows.count > query.limit ? page.last.flatMap { summary, key in
            Int(summary.id).map { InstanceCursor(sort: query.sort, key: key, id: $0).text }
        } : nil
        return InstancePage(items: page.map(\.0), next_cursor: next)
    }
}
