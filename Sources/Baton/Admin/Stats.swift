import BatonCore
import Foundation
import Postgres

/// Outcome metrics per workflow (the `stats --json` field names are a contract).
public struct WorkflowStats: Sendable, Codable {
    public struct SLA: Sendable, Codable {
        public var met: Int
        public var breached: Int
        public var breach_rate: Double
        /// Met after the deadline the wait had before any pause, before the deadline its pauses moved it to.
        public var breaches_avoided_by_pauses: Int
    }
    public var workflow: String
    public var started: Int
    public var completed: Int
    public var active: Int
    public var failed: Int
    public var cancelled: Int
    /// Per wait step.
    public var sla: [String: SLA]
    public var escalations: Int
    public var handoffs: Int
    public var speed_to_lead_p50_s: Double?
    public var speed_to_lead_p90_s: Double?
    /// SLA pauses begun (`pause_on` events that stopped a wait's clock).
    public var pauses: Int
    /// Paused time of the pauses that ended, on each wait's clock (business seconds on a calendar).
    public var paused_s: Double
    /// Instances whose wait is paused now.
    public var paused_now: Int
    /// Waits met only thanks to their pauses (the sum of the per-step counts; see `SLA`).
    public var breaches_avoided_by_pauses: Int
}

public struct OwnerStats: Sendable, Codable {
    public var member: String
    public var team: String
    public var open: Int
    public var assigned_total: Int
}

public struct Stats: Sendable, Codable {
    public var workflows: [WorkflowStats]
    public var owners: [OwnerStats]
    /// Share of contacts whose owner is an active member.
    public var coverage: Double
}

extension Store {
    static let statsPerWorkflow = """
        SELECT workflow, count(*) AS started,
               count(*) FILTER (WHERE state = 'completed') AS completed,
               count(*) FILTER (WHERE state IN ('ready', 'running', 'waiting')) AS active,
               count(*) FILTER (WHERE state = 'failed') AS failed,
               count(*) FILTER (WHERE state = 'cancelled') AS cancelled
        FROM workflow_instances
        WHERE ($1::text IS NULL OR workflow = $1) AND created_at >= $2
        GROUP BY workflow ORDER BY workflow
        """
    static let statsEvents = """
        SELECT i.workflow, e.step,
               count(*) FILTER (WHERE e.detail LIKE 'sla\\_met%') AS met,
               count(*) FILTER (WHERE e.detail LIKE 'sla\\_breached%') AS breached,
               count(*) FILTER (WHERE e.detail LIKE 'sla\\_met%' AND strpos(e.detail, $3) > 0) AS avoided,
               count(*) FILTER (WHERE e.detail LIKE 'escalated%') AS escalations,
               count(*) FILTER (WHERE e.detail LIKE 'handoff:%') AS handoffs
        FROM instance_events e JOIN workflow_instances i ON i.id = e.instance
        WHERE ($1::text IS NULL OR i.workflow = $1) AND i.created_at >= $2
        GROUP BY i.workflow, e.step
        """
    /// Pauses per workflow: how many began, their paused time once ended, and instances paused now
    /// (an open pause of the wait the instance stands in).
    static let statsPauses = """
        SELECT i.workflow, count(*) AS pauses, coalesce(sum(p.paused_s), 0)::float8 AS paused_s,
               count(DISTINCT i.id) FILTER (WHERE p.ended_at IS NULL AND i.state = 'waiting' AND p.step = i.step
                                              AND p.wait_started_at = i.wait_started_at) AS paused_now
        FROM sla_pauses p JOIN workflow_instances i ON i.id = p.instance
        WHERE ($1::text IS NULL OR i.workflow = $1) AND i.created_at >= $2
        GROUP BY i.workflow
        """
    /// Speed to lead: enrollment to the contact's first `first_touch` signal after it.
    static let statsSpeedToLead = """
        SELECT i.workflow,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY t.seconds) AS p50,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY t.seconds) AS p90
        FROM workflow_instances i
        CROSS JOIN LATERAL (
            SELECT extract(epoch FROM min(s.received_at) - i.created_at)::float8 AS seconds FROM signals s
            WHERE s.contact = i.contact AND s.name = 'first_touch' AND s.received_at >= i.created_at
        ) t
        WHERE t.seconds IS NOT NULL AND ($1::text IS NULL OR i.workflow = $1) AND i.created_at >= $2
        GROUP BY i.workflow
        """
    static let statsOwners = """
        SELECT m.id, m.team,
               (SELECT count(*) FROM contacts c WHERE c.owner = m.id AND EXISTS (
                   SELECT 1 FROM workflow_instances i WHERE i.contact = c.id AND i.state IN ('ready', 'running', 'waiting'))) AS open,
               (SELECT count(*) FROM ownership_history h WHERE h.to_owner = m.id AND h.at >= $1) AS assigned
        FROM members m ORDER BY m.team, m.id
        """
    static let statsCoverage = """
        SELECT CASE WHEN count(*) = 0 THEN 1.0
               ELSE (count(*) FILTER (WHERE m.active))::float8 / count(*) END AS coverage
        FROM contacts c LEFT JOIN members m ON m.id = c.owner
        """

    /// The parts of `stats` to compute: the console's overview asks only for what it shows.
    public struct StatsParts: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        /// SLA outcomes, escalations and handoffs from the timelines.
        public static let outcomes = StatsParts(rawValue: 1)
        public static let pauses = StatsParts(rawValue: 2)
        public static let speedToLead = StatsParts(rawValue: 4)
        /// Open work and assignments per member.
        public static let owners = StatsParts(rawValue: 8)
        public static let coverage = StatsParts(rawValue: 16)
        public static let all: StatsParts = [.outcomes, .pauses, .speedToLead, .owners, .coverage]
    }

    /// Outcomes since `since` (instances enrolled since then), for one workflow or all. For one
    /// workflow the owners are the members of the teams its newest version routes to. Instances per
    /// state are always counted; what `parts` leaves out stays empty (coverage 1).
    public func stats(workflow: String?, since: Date, parts: StatsParts = .all) async throws -> Stats {
        var routedTeams: Set<String>?
        if let workflow { routedTeams = try await newestWorkflow(workflow)?.definition.routedTeams ?? [] }
        return try await pool.withConnection { connection in
            var byWorkflow: [String: WorkflowStats] = [:]
            var order: [String] = []
            for row in try await connection.query(Self.statsPerWorkflow, [workflow, since]) {
                let name: String = try row.decode("workflow")
                order.append(name)
                byWorkflow[name] = WorkflowStats(
                    workflow: name, started: try row.decode("started"), completed: try row.decode("completed"),
                    active: try row.decode("active"), failed: try row.decode("failed"), cancelled: try row.decode("cancelled"),
                    sla: [:], escalations: 0, handoffs: 0, pauses: 0, paused_s: 0, paused_now: 0,
                    breaches_avoided_by_pauses: 0)
            }
            for row in try await Self.rows(if: parts.contains(.outcomes), Self.statsEvents, [workflow, since, Machine.breachAvoided], on: connection) {
                let name: String = try row.decode("workflow")
                guard var stats = byWorkflow[name] else { continue }
                let met: Int = try row.decode("met"), breached: Int = try row.decode("breached")
                let avoided: Int = try row.decode("avoided")
                if met + breached > 0 {
                    stats.sla[try row.decode("step")] = WorkflowStats.SLA(
                        met: met, breached: breached, breach_rate: Double(breached) / Double(met + breached),
                        breaches_avoided_by_pauses: avoided)
                }
                stats.breaches_avoided_by_pauses += avoided
                stats.escalations += try row.decode(Int.self, "escalations")
                stats.handoffs += try row.decode(Int.self, "handoffs")
                byWorkflow[name] = stats
            }
            for row in try await Self.rows(if: parts.contains(.pauses), Self.statsPauses, [workflow, since], on: connection) {
                let name: String = try row.decode("workflow")
                byWorkflow[name]?.pauses = try row.decode("pauses")
                byWorkflow[name]?.paused_s = try row.decode("paused_s")
                byWorkflow[name]?.paused_now = try row.decode("paused_now")
            }
            for row in try await Self.rows(if: parts.contains(.speedToLead), Self.statsSpeedToLead, [workflow, since], on: connection) {
                let name: String = try row.decode("workflow")
                byWorkflow[name]?.speed_to_lead_p50_s = try row.decode("p50")
                byWorkflow[name]?.speed_to_lead_p90_s = try row.decode("p90")
            }
            let owners = try await Self.rows(if: parts.contains(.owners), Self.statsOwners, [since], on: connection).map { row in
                OwnerStats(member: try row.decode("id"), team: try row.decode("team"), open: try row.decode("open"),
                           assigned_total: try row.decode("assigned"))
            }.filter { owner in routedTeams.map { $0.contains(owner.team) } ?? true }
            let coverage = try await Self.rows(if: parts.contains(.coverage), Self.statsCoverage, [], on: connection).first?
                .decode(Double.self, "coverage") ?? 1
            return Stats(workflows: order.compactMap { byWorkflow[$0] }, owners: owners, coverage: coverage)
        }
    }

    /// The rows of `sql`, or none without a round trip when the part is not wanted.
    private static func rows(if wanted: Bool, _ sql: String, _ parameters: [(any PostgresEncodable)?], on connection: Connection)
        async throws -> [Row]
    {
        guard wanted else { return [] }
        return Array(try await connection.query(sql, parameters))
    }
}
