import BatonCore
import Foundation
import Postgres

/// One row of `stats --by owner|team` (the `--json` field names are a contract).
public struct AttributionRow: Sendable, Codable, Hashable {
    /// The member (`--by owner`); null for `--by team`.
    public var member: String?
    public var team: String
    /// Ownership changes to this owner (team) since `since`.
    public var assigned: Int
    /// From an assignment to the record's first `first_touch` while it was still this owner's.
    public var first_touch_p50_s: Double?
    public var first_touch_p90_s: Double?
    /// Waits that ended met or breached while this owner held the record.
    public var sla_met: Int
    public var sla_breached: Int
    /// Escalations that gave this owner a record, and that took one from this owner.
    public var escalations_received: Int
    public var escalations_caused: Int
    /// Conversion signals received while this owner held the record, and the sum of their `amount`.
    public var conversions: Int
    public var revenue: Double
    /// Retention teams only (null elsewhere): records assigned with no churn signal since, and churn signals.
    public var retained: Int?
    public var churned: Int?
}

/// `stats --by owner|team`: outcomes attributed to owners or teams.
public struct AttributionStats: Sendable, Codable {
    /// owner | team
    public var by: String
    public var since: Date
    /// The signal counted as a conversion (its payload's `amount` is revenue), and the churn signal.
    public var conversion_signal: String
    public var churn_signal: String
    public var rows: [AttributionRow]
}

/// How `stats --by` groups.
public enum AttributionGrouping: String, Sendable, CaseIterable {
    case owner, team
}

extension Store {
    /// Facts per member since $1, each attributed to the owner who held the record then: an
    /// assignment (history row), the first `first_touch` after an assignment and before the next
    /// change of owner, SLA outcomes (the timeline's owner), escalations (history rows written with
    /// an `escalated` timeline entry: received by the new owner, caused by the old one), conversion
    /// signals $2 (amount from the payload) and churn signals $3 (owner from the history at the
    /// signal's time), retained assignments (no churn signal since). Grouped by member or, with
    /// $4 = 'team', by the member's team; every member (team) appears, with zeros. Reads only.
    static let selectAttribution = """
        WITH hist AS (
            SELECT h.id, h.contact, h.from_owner, h.to_owner, h.instance, h.at,
                   lead(h.at) OVER (PARTITION BY h.contact ORDER BY h.id) AS until
            FROM ownership_history h
        ), facts AS (
            SELECT h.to_owner AS member, 'assigned' AS fact, 0::float8 AS value FROM hist h
            WHERE h.to_owner IS NOT NULL AND h.at >= $1
            UNION ALL
            SELECT h.to_owner, 'touch', extract(epoch FROM t.first - h.at)::float8 FROM hist h
            CROSS JOIN LATERAL (
                SELECT min(s.received_at) AS first FROM signals s
                WHERE s.contact = h.contact AND s.name = 'first_touch' AND s.received_at >= h.at
                  AND (h.until IS NULL OR s.received_at < h.until)
            ) t
            WHERE h.to_owner IS NOT NULL AND h.at >= $1 AND t.first IS NOT NULL
            UNION ALL
            SELECT e.owner, CASE WHEN e.detail LIKE 'sla\\_met%' THEN 'met' ELSE 'breached' END, 0 FROM instance_events e
            WHERE e.owner IS NOT NULL AND e.at >= $1 AND (e.detail LIKE 'sla\\_met%' OR e.detail LIKE 'sla\\_breached%')
            UNION ALL
            SELECT x.member, x.fact, 0 FROM hist h
            JOIN instance_events e ON e.instance = h.instance AND e.at = h.at AND e.detail LIKE 'escalated%'
            CROSS JOIN LATERAL (VALUES (h.to_owner, 'esc_received'), (h.from_owner, 'esc_caused')) AS x(member, fact)
            WHERE h.at >= $1 AND x.member IS NOT NULL
            UNION ALL
            SELECT o.owner, CASE WHEN s.name = $2 THEN 'conversion' ELSE 'churned' END,
                   CASE WHEN s.name = $2 AND s.payload->>'amount' ~ '^-?[0-9]+(\\.[0-9]+)?$'
                        THEN (s.payload->>'amount')::float8 ELSE 0 END
            FROM signals s
            CROSS JOIN LATERAL (
                SELECT h.to_owner AS owner FROM ownership_history h
                WHERE h.contact = s.contact AND h.at <= s.received_at ORDER BY h.id DESC LIMIT 1
            ) o
            WHERE s.received_at >= $1 AND s.name IN ($2, $3) AND o.owner IS NOT NULL
            UNION ALL
            SELECT h.to_owner, 'retained', 0 FROM hist h
            WHERE h.to_owner IS NOT NULL AND h.at >= $1 AND NOT EXISTS (
                SELECT 1 FROM signals s WHERE s.contact = h.contact AND s.name = $3 AND s.received_at >= h.at)
        )
        SELECT CASE WHEN $4 = 'team' THEN NULL ELSE m.id END AS member, m.team, t.kind,
               count(f.fact) FILTER (WHERE f.fact = 'assigned') AS assigned,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY f.value) FILTER (WHERE f.fact = 'touch') AS p50,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY f.value) FILTER (WHERE f.fact = 'touch') AS p90,
               count(f.fact) FILTER (WHERE f.fact = 'met') AS met,
               count(f.fact) FILTER (WHERE f.fact = 'breached') AS breached,
               count(f.fact) FILTER (WHERE f.fact = 'esc_received') AS esc_received,
               count(f.fact) FILTER (WHERE f.fact = 'esc_caused') AS esc_caused,
               count(f.fact) FILTER (WHERE f.fact = 'conversion') AS conversions,
               coalesce(sum(f.value) FILTER (WHERE f.fact = 'conversion'), 0)::float8 AS revenue,
               count(f.fact) FILTER (WHERE f.fact = 'retained') AS retained,
               count(f.fact) FILTER (WHERE f.fact = 'churned') AS churned
        FROM members m JOIN teams t ON t.name = m.team LEFT JOIN facts f ON f.member = m.id
        GROUP BY 1, 2, 3 ORDER BY 2, 1
        """

    /// Outcomes since `since` attributed to each owner or team.
    public func attribution(
        by grouping: AttributionGrouping, since: Date, conversionSignal: String = "purchased", churnSignal: String = "churned"
    ) async throws -> AttributionStats {
        try await pool.withConnection { connection in
            let rows = try await connection.query(
                Self.selectAttribution, [since, conversionSignal, churnSignal, grouping.rawValue]
            ).map { row in
                let retention = try row.decode(String.self, "kind") == TeamKind.retention.rawValue
                return AttributionRow(
                    member: try row.decode("member"), team: try row.decode("team"), assigned: try row.decode("assigned"),
                    first_touch_p50_s: try row.decode("p50"), first_touch_p90_s: try row.decode("p90"),
                    sla_met: try row.decode("met"), sla_breached: try row.decode("breached"),
                    escalations_received: try row.decode("esc_received"), escalations_caused: try row.decode("esc_caused"),
                    conversions: try row.decode("conversions"), revenue: try row.decode("revenue"),
                    retained: retention ? try row.decode(Int.self, "retained") : nil,
                    churned: retention ? try row.decode(Int.self, "churned") : nil)
            }
            return AttributionStats(by: grouping.rawValue, since: since, conversion_signal: conversionSignal,
                                    churn_signal: churnSignal, rows: rows)
        }
    }
}
