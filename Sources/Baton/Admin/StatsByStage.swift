import BatonCore
import Foundation
import Postgres

/// One row of `stats --by stage` (the `--json` field names are a contract): the instances whose
/// record reached this stage, and their outcomes.
public struct StageStatsRow: Sendable, Codable, Hashable {
    /// The stage reached (see `StageStats.stage_reached`); null for records with no stage.
    public var stage: String?
    public var instances: Int
    public var completed: Int
    public var active: Int
    public var failed: Int
    public var cancelled: Int
    /// Waits of these instances that ended met or breached.
    public var sla_met: Int
    public var sla_breached: Int
    public var escalations: Int
    public var handoffs: Int
}

/// `stats --by stage`: outcomes broken down by the lifecycle stage each instance's record reached.
public struct StageStats: Sendable, Codable {
    /// Always `stage`.
    public var by: String
    public var since: Date
    /// Only this workflow's instances; null for all.
    public var workflow: String?
    /// What "stage reached" means, in words.
    public var stage_reached: String
    /// The organisation's stages in their order, then other stages by name, then no stage.
    public var rows: [StageStatsRow]
}

extension Store {
    /// "Stage reached": the record's stage when the instance finished, read from its stage history
    /// (the last change at or before the end; else the stage the first later change left; else, with
    /// no change at all, the record's stage now); for a live instance the record's stage now.
    public static let stageReachedDefinition =
        "the record's lifecycle stage when the instance ended (a handoff's stage in its last step counts); "
        + "for a live instance, its stage now"

    /// Per stage reached (see `stageReachedDefinition`): instances of workflow $1 (all when null)
    /// enrolled since $2, by state, and the SLA outcomes, escalations and handoffs on their
    /// timelines. Reads only.
    static let selectStatsByStage = """
        WITH inst AS (
            SELECT i.id, i.state,
                   CASE WHEN i.finished_at IS NULL THEN c.lifecycle_stage
                        WHEN before.found THEN before.to_stage
                        WHEN after.found THEN after.from_stage
                        ELSE c.lifecycle_stage END AS stage
            FROM workflow_instances i JOIN contacts c ON c.id = i.contact
            LEFT JOIN LATERAL (
                SELECT true AS found, h.to_stage FROM stage_history h
                WHERE h.contact = i.contact AND h.at <= i.finished_at ORDER BY h.at DESC, h.id DESC LIMIT 1
            ) before ON true
            LEFT JOIN LATERAL (
                SELECT true AS found, h.from_stage FROM stage_history h
                WHERE h.contact = i.contact AND h.at > i.finished_at ORDER BY h.at, h.id LIMIT 1
            ) after ON true
            WHERE ($1::text IS NULL OR i.workflow = $1) AND i.created_at >= $2
        ), events AS (
            SELECT e.instance,
                   count(*) FILTER (WHERE e.detail LIKE 'sla\\_met%') AS met,
                   count(*) FILTER (WHERE e.detail LIKE 'sla\\_breached%') AS breached,
                   count(*) FILTER (WHERE e.detail LIKE 'escalated%') AS escalations,
                   count(*) FILTER (WHERE e.detail LIKE 'handoff:%') AS handoffs
            FROM instance_events e WHERE e.instance IN (SELECT id FROM inst)
            GROUP BY e.instance
        )
        SELECT inst.stage, count(*) AS instances,
               count(*) FILTER (WHERE inst.state = 'completed') AS completed,
               count(*) FILTER (WHERE inst.state IN ('ready', 'running', 'waiting')) AS active,
               count(*) FILTER (WHERE inst.state = 'failed') AS failed,
               count(*) FILTER (WHERE inst.state = 'cancelled') AS cancelled,
               coalesce(sum(e.met), 0)::bigint AS met, coalesce(sum(e.breached), 0)::bigint AS breached,
               coalesce(sum(e.escalations), 0)::bigint AS escalations, coalesce(sum(e.handoffs), 0)::bigint AS handoffs
        FROM inst LEFT JOIN events e ON e.instance = inst.id
        GROUP BY inst.stage
        """

    /// Outcomes of the instances enrolled since `since` (of `workflow`, or all), by stage reached.
    public func statsByStage(workflow: String?, since: Date) async throws -> StageStats {
        try await pool.withConnection { connection in
            let order = try await lifecycleStages(on: connection).organisation
            let rows = try await connection.query(Self.selectStatsByStage, [workflow, since]).map { row in
                StageStatsRow(
                    stage: try row.decode("stage"), instances: try row.decode("instances"), completed: try row.decode("completed"),
                    active: try row.decode("active"), failed: try row.decode("failed"), cancelled: try row.decode("cancelled"),
                    sla_met: try row.decode("met"), sla_breached: try row.decode("breached"),
                    escalations: try row.decode("escalations"), handoffs: try row.decode("handoffs"))
            }
            func rank(_ stage: String?) -> (Int, String) {
                guard let stage else { return (2, "") }
                return order.firstIndex(of: stage).map { (0, String(format: "%06d", $0)) } ?? (1, stage)
            }
            return StageStats(by: "stage", since: since, workflow: workflow, stage_reached: Self.stageReachedDefinition,
                              rows: rows.sorted { rank($0.stage) < rank($1.stage) })
        }
    }
}
