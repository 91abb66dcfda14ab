import Foundation
import Postgres

/// What the console's overview shows: counts by state, stuck work by reason, outcomes per workflow
/// over 24 hours, 7 days and all time, and the series its charts draw.
public struct Overview: Sendable {
    /// Instances per state (every state present, 0 when none).
    public var states: [String: Int]
    /// Ready instances whose run_at has come.
    public var dueNow: Int
    /// Stuck instances per reason (`stuck` reasons), counted up to 10,000.
    public var stuck: [String: Int]
    /// The reasons with more stuck instances than `stuck` says.
    public var stuckMore: Set<String>
    /// `stats` over all time (counts and owner coverage), the last 24 hours (outcomes) and the last
    /// 7 days (outcomes and speed to lead): the parts the overview shows.
    public var allTime: Stats
    public var day: Stats
    public var week: Stats
    /// Started and completed instances per hour, oldest first, 48 buckets ending with the current hour.
    public var startedPerHour: [Int]
    public var completedPerHour: [Int]
    /// The first bucket's hour.
    public var firstHour: Date
    /// SLA breaches per day, oldest first, 30 buckets ending with today (UTC).
    public var breachesPerDay: [Int]
    /// The first bucket's day.
    public var firstDay: Date
    /// When this was computed.
    public var at: Date
}

extension Store {
    /// Instances per state, and the ready ones already due, in one scan.
    static let overviewStates = """
        SELECT state, count(*) AS n, count(*) FILTER (WHERE state = 'ready' AND run_at <= now()) AS due
        FROM workflow_instances GROUP BY state
        """
    /// Instances started per hour since $1.
    static let overviewStartedPerHour = """
        SELECT date_trunc('hour', created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS bucket, count(*) AS n FROM workflow_instances
        WHERE created_at >= $1 GROUP BY 1
        """
    /// Instances completed per hour since $1.
    static let overviewCompletedPerHour = """
        SELECT date_trunc('hour', finished_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS bucket, count(*) AS n FROM workflow_instances
        WHERE state = 'completed' AND finished_at >= $1 GROUP BY 1
        """
    /// SLA breaches (timeline rows the engine writes as `sla_breached…`) per UTC day since $1.
    static let overviewBreachesPerDay = """
        SELECT date_trunc('day', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS bucket, count(*) AS n FROM instance_events
        WHERE at >= $1 AND detail LIKE 'sla\\_breached%' GROUP BY 1
        """

    /// Computes the overview; the console caches it for a couple of seconds, so its cost is paid at
    /// most once per interval however many people watch.
    public func overview(now: Date = Date()) async throws -> Overview {
        let hour = 3600.0, day = 86400.0
        let currentHour = Date(timeIntervalSince1970: (now.timeIntervalSince1970 / hour).rounded(.down) * hour)
        let firstHour = currentHour.addingTimeInterval(-47 * hour)
        let today = Date(timeIntervalSince1970: (now.timeIntervalSince1970 / day).rounded(.down) * day)
        let firstDay = today.addingTimeInterval(-29 * day)
        var states = Dictionary(uniqueKeysWithValues: instanceStates.map { ($0, 0) })
        var dueNow = 0
        var started = [Int](repeating: 0, count: 48), completed = [Int](repeating: 0, count: 48)
        var breaches = [Int](repeating: 0, count: 30)
        try await pool.withConnection { connection in
            for row in try await connection.query(Self.overviewStates) {
                states[try row.decode("state")] = try row.decode(Int.self, "n")
                dueNow += try row.decode(Int.self, "due")
            }
            func fill(_ sql: String, from: Date, width: Double, into series: inout [Int]) async throws {
                for row in try await connection.query(sql, [from]) {
                    let bucket: Date = try row.decode("bucket")
                    let index = Int(((bucket.timeIntervalSince(from)) / width).rounded())
                    if series.indices.contains(index) { series[index] += try row.decode(Int.self, "n") }
                }
            }
            try await fill(Self.overviewStartedPerHour, from: firstHour, width: hour, into: &started)
            try await fill(Self.overviewCompletedPerHour, from: firstHour, width: hour, into: &completed)
            try await fill(Self.overviewBreachesPerDay, from: firstDay, width: day, into: &breaches)
        }
        // Counted up to 10,000 per reason by index; `stuckMore` names the reasons with more.
        let groups = try await stuckGroups(olderThan: 30, limit: 0)
        return Overview(
            states: states, dueNow: dueNow,
            stuck: Dictionary(uniqueKeysWithValues: groups.map { ($0.reason, $0.count) }),
            stuckMore: Set(groups.filter(\.capped).map(\.reason)),
            allTime: try await stats(workflow: nil, since: Date(timeIntervalSince1970: 0), parts: .coverage),
            day: try await stats(workflow: nil, since: now.addingTimeInterval(-day), parts: .outcomes),
            week: try await stats(workflow: nil, since: now.addingTimeInterval(-7 * day), parts: [.outcomes, .speedToLead]),
            startedPerHour: started, completedPerHour: completed, firstHour: firstHour,
            breachesPerDay: breaches, firstDay: firstDay, at: now)
    }
}

extension Store {
    /// A value that changes whenever any transaction that wrote has started since the last call
    /// (the next transaction id): the console's pages poll it and reload their live parts only when
    /// it moved. One trivial query, no table read.
    static let selectChangeStamp = "SELECT pg_snapshot_xmax(pg_current_snapshot())::text"

    /// See `selectChangeStamp`.
    public func changeStamp() async throws -> String {
        try await pool.withConnection { try await $0.query(Self.selectChangeStamp)[0].decode(String.self, at: 0) }
    }
}
