import BatonCore
import Foundation
import Postgres

/// One finding of `audit` (`batonctl audit --json`, `GET /v1/audit`; the field names are a contract:
/// fields are added, never renamed).
public struct AuditFinding: Sendable, Codable, Hashable {
    /// unowned | queued_too_long | inactive_owner | out_of_office_owner | over_capacity | high_load |
    /// unusual_volume | territory_conflict | stale | duplicate
    public var kind: String
    public var contact: String?
    public var member: String?
    public var team: String?
    public var detail: String
    /// The command that fixes it (or starts to), ready to run.
    public var suggestion: String
    /// For `territory_conflict`: the assign step and rule re-evaluated (`rule:<name>` or `otherwise`)
    /// and the attributes that decide it.
    public var step: String?
    public var rule: String?
    public var attributes: [String]?

    public init(kind: String, contact: String? = nil, member: String? = nil, team: String? = nil, detail: String,
                suggestion: String = "", step: String? = nil, rule: String? = nil, attributes: [String]? = nil) {
        self.kind = kind
        self.contact = contact
        self.member = member
        self.team = team
        self.detail = detail
        self.suggestion = suggestion
        self.step = step
        self.rule = rule
        self.attributes = attributes
    }
}

/// What `audit` looks for and how far.
public struct AuditOptions: Sendable, Hashable {
    /// Unowned contacts queued longer than this (seconds) are `queued_too_long`.
    public var queuedLongerThan: Int
    /// A contact whose owner has done nothing on it (no signal, no assignment) for this many days is `stale`.
    public var staleDays: Int
    /// A member whose new assignments in the last 7 days exceed this multiple of the team's median is `unusual_volume`.
    public var volumeMultiple: Double

    public static let defaultStaleDays = 14
    public static let defaultVolumeMultiple = 3.0

    public init(queuedLongerThan: Int = 3600, staleDays: Int = AuditOptions.defaultStaleDays,
                volumeMultiple: Double = AuditOptions.defaultVolumeMultiple) {
        self.queuedLongerThan = queuedLongerThan
        self.staleDays = staleDays
        self.volumeMultiple = volumeMultiple
    }
}

extension Store {
    /// Ownership problems found in SQL (every kind but `territory_conflict`, which re-runs the
    /// workflow's routing rules in Swift): unowned contacts, owners who are inactive or out of
    /// office, members over capacity or with more than twice their team's median open work,
    /// contacts queued too long ($1 seconds), members whose assignments in the last 7 days exceed
    /// $3 times their team's median, live contacts with no activity for $2 days, contacts sharing a
    /// normalised email (the oldest is kept, the others reported). Reads only; no locks taken.
    static let selectAudit = """
        WITH live AS (
            SELECT DISTINCT contact FROM workflow_instances WHERE state IN ('ready', 'running', 'waiting')
        ), open AS (
            SELECT m.id, m.team, m.capacity, count(l.contact) AS n
            FROM members m LEFT JOIN contacts c ON c.owner = m.id LEFT JOIN live l ON l.contact = c.id
            WHERE m.active GROUP BY m.id, m.team, m.capacity
        ), medians AS (
            SELECT team, percentile_cont(0.5) WITHIN GROUP (ORDER BY n) AS median FROM open GROUP BY team
        ), weekly AS (
            SELECT m.id, m.team, count(h.id) AS n
            FROM members m LEFT JOIN ownership_history h ON h.to_owner = m.id AND h.at >= now() - interval '7 days'
            WHERE m.active GROUP BY m.id, m.team
        ), weekly_medians AS (
            SELECT team, percentile_cont(0.5) WITHIN GROUP (ORDER BY n) AS median FROM weekly GROUP BY team
        ), emails AS (
            SELECT id, lower(btrim(attributes->>'email')) AS email, created_at FROM contacts
            WHERE erased_at IS NULL AND coalesce(btrim(attributes->>'email'), '') <> ''
        ), firsts AS (
            SELECT DISTINCT ON (email) email, id FROM emails ORDER BY email, created_at, id
        )
        SELECT 'unowned' AS kind, c.id AS contact, NULL AS member, c.team,
               'no owner' || CASE WHEN c.queued_since IS NOT NULL THEN ' (queued since ' || c.queued_since || ')' ELSE '' END AS detail,
               NULL AS keep
        FROM contacts c JOIN live l ON l.contact = c.id WHERE c.owner IS NULL
          AND (c.queued_since IS NULL OR c.queued_since >= now() - $1 * interval '1 second')
        UNION ALL
        SELECT 'queued_too_long', c.id, NULL, c.team, 'queued unowned since ' || c.queued_since, NULL
        FROM contacts c JOIN live l ON l.contact = c.id
        WHERE c.owner IS NULL AND c.queued_since < now() - $1 * interval '1 second'
        UNION ALL
        SELECT 'inactive_owner', c.id, m.id, c.team, 'owned by ' || m.id || ', who is inactive', NULL
        FROM contacts c JOIN members m ON m.id = c.owner WHERE NOT m.active
        UNION ALL
        SELECT 'out_of_office_owner', c.id, m.id, c.team, 'owned by ' || m.id || ', out of office until ' || m.out_of_office_until, NULL
        FROM contacts c JOIN members m ON m.id = c.owner WHERE m.active AND m.out_of_office_until >= current_date
        UNION ALL
        SELECT 'over_capacity', NULL, o.id, o.team, o.n || ' open, capacity ' || o.capacity, NULL
        FROM open o WHERE o.capacity IS NOT NULL AND o.n > o.capacity
        UNION ALL
        SELECT 'high_load', NULL, o.id, o.team, o.n || ' open, more than twice the team median of ' || md.median, NULL
        FROM open o JOIN medians md ON md.team = o.team WHERE o.n > 2 * md.median AND o.n >= 3
        UNION ALL
        SELECT 'unusual_volume', NULL, w.id, w.team,
               w.n || ' new assignments in the last 7 days, more than ' || $3::float8 || ' times the team median of ' || wm.median, NULL
        FROM weekly w JOIN weekly_medians wm ON wm.team = w.team WHERE w.n > $3::float8 * wm.median AND w.n >= 3
        UNION ALL
        SELECT 'stale', c.id, c.owner, c.team,
               'no activity since ' || to_char(a.last AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || ' (more than ' || $2::int || ' days)', NULL
        FROM contacts c JOIN live l ON l.contact = c.id
        CROSS JOIN LATERAL (
            SELECT greatest(
                (SELECT max(h.at) FROM ownership_history h WHERE h.contact = c.id AND h.to_owner = c.owner),
                (SELECT max(s.received_at) FROM signals s WHERE s.contact = c.id),
                c.updated_at) AS last
        ) a
        WHERE c.owner IS NOT NULL AND a.last < now() - $2::int * interval '1 day'
        UNION ALL
        SELECT 'duplicate', e.id, c.owner, c.team, 'same email as ' || f.id || ' (' || e.email || ')', f.id
        FROM emails e JOIN firsts f ON f.email = e.email AND f.id <> e.id JOIN contacts c ON c.id = e.id
        ORDER BY kind, contact, member
        """

    /// Live contacts with an owner whose instance has not escalated or handed off (those moved the
    /// owner on purpose), with the workflow version whose rules routed them, for the territory check.
    static let selectTerritoryCandidates = """
        SELECT DISTINCT ON (c.id) c.id, c.attributes, c.owner, c.team, i.workflow, i.version
        FROM contacts c JOIN workflow_instances i ON i.contact = c.id AND i.state IN ('ready', 'running', 'waiting')
        WHERE c.owner IS NOT NULL AND c.erased_at IS NULL
          AND NOT EXISTS (SELECT 1 FROM instance_events e WHERE e.instance = i.id
                          AND (e.detail LIKE 'escalated%' OR e.detail LIKE 'handoff:%'))
        ORDER BY c.id, i.id
        """

    /// Ownership problems with the default options but `queuedLongerThan` (seconds).
    public func audit(queuedLongerThan seconds: Int) async throws -> [AuditFinding] {
        try await audit(AuditOptions(queuedLongerThan: seconds))
    }

    /// Every ownership problem, each with the command that fixes it.
    public func audit(_ options: AuditOptions) async throws -> [AuditFinding] {
        let directory = try await directory()
        var findings: [AuditFinding] = try await pool.withConnection { connection in
            try await connection.query(Self.selectAudit, [options.queuedLongerThan, options.staleDays, options.volumeMultiple])
                .map { row in
                    var finding = AuditFinding(
                        kind: try row.decode("kind"), contact: try row.decode("contact"), member: try row.decode("member"),
                        team: try row.decode("team"), detail: try row.decode("detail"))
                    finding.suggestion = AuditSuggestion.command(for: finding, keep: try row.decode("keep"), directory: directory)
                    return finding
                }
        }
        findings += try await territoryConflicts(directory)
        return findings.sorted { ($0.kind, $0.contact ?? "", $0.member ?? "") < ($1.kind, $1.contact ?? "", $1.member ?? "") }
    }

    func territoryConflicts(_ directory: Directory) async throws -> [AuditFinding] {
        try await pool.withConnection { connection in
            var definitions: [String: WorkflowDefinition] = [:]
            var found: [AuditFinding] = []
            for row in try await connection.query(Self.selectTerritoryCandidates) {
                let workflow: String = try row.decode("workflow"), version: Int = try row.decode("version")
                let key = "\(workflow)@\(version)"
                if definitions[key] == nil {
                    guard let stored = try await connection.query(Self.selectWorkflowVersion, [workflow, version]).first else { continue }
                    definitions[key] = try stored.decode(PostgresJSON<WorkflowDefinition>.self, "spec").value
                }
                let values = try row.decode(PostgresJSON<[String: ContactAttributes.Value]>.self, "attributes").value
                let attributes = values.compactMapValues { if case .text(let text) = $0 { return text } else { return nil } }
                let contact: String = try row.decode("id"), owner: String = try row.decode("owner")
                guard let conflict = Territory.conflict(
                    definition: definitions[key]!, attributes: attributes, owner: owner, directory: directory)
                else { continue }
                var finding = AuditFinding(
                    kind: "territory_conflict", contact: contact, member: owner, team: try row.decode("team"),
                    detail: "\(workflow): \(conflict.detail)", step: conflict.step, rule: conflict.rule,
                    attributes: conflict.attributes)
                let target = conflict.expectedMember
                    ?? conflict.expectedTeam.flatMap { AuditSuggestion.pick(in: $0, excluding: owner, directory) }
                finding.suggestion = AuditSuggestion.reassign(contact, to: target, team: conflict.expectedTeam, "territory: \(conflict.rule)")
                found.append(finding)
            }
            return found
        }
    }
}

/// The fixing command of each audit finding.
enum AuditSuggestion {
    static func command(for finding: AuditFinding, keep: String?, directory: Directory) -> String {
        let contact = finding.contact ?? ""
        let team = finding.team ?? finding.member.flatMap { directory.members[$0]?.team }
        switch finding.kind {
        case "unowned", "queued_too_long":
            return reassign(contact, to: team.flatMap { pick(in: $0, excluding: nil, directory) }, team: team, "unowned")
        case "inactive_owner", "out_of_office_owner", "stale":
            let owner = finding.member
            let backup = owner.flatMap { directory.members[$0]?.backup }.flatMap { id in
                directory.members[id]?.isEligible(at: Date()) == true ? id : nil
            }
            let why = finding.kind == "stale" ? "stale" : finding.kind == "inactive_owner" ? "owner inactive" : "owner out of office"
            return reassign(contact, to: backup ?? team.flatMap { pick(in: $0, excluding: owner, directory) }, team: team, why)
        case "over_capacity", "high_load", "unusual_volume":
            let member = finding.member ?? ""
            let to = team.flatMap { pick(in: $0, excluding: member, directory) } ?? "MEMBER"
            return "batonctl instances list --owner \(member) --state waiting  # then for some: batonctl reassign --contact ID --to \(to) --reason rebalance"
        case "duplicate":
            return "batonctl records merge contact:\(keep ?? "KEEP") contact:\(contact) --reason \"duplicate email\""
        default:
            return ""
        }
    }

    static func reassign(_ contact: String, to member: String?, team: String?, _ reason: String) -> String {
        let command = "batonctl reassign --contact \(shellWord(contact)) --to \(member ?? "MEMBER") --reason \(shellWord(reason))"
        guard member == nil else { return command }
        return command + (team.map { "  # nobody in \($0) can take it now" } ?? "")
    }

    /// The eligible member of `team` with the least open work (not `excluding`); nil when none.
    static func pick(in team: String, excluding: String?, _ directory: Directory) -> String? {
        Router.eligibleMembers(of: team, directory, Date())
            .filter { $0 != excluding }
            .min { (directory.members[$0]?.openCount ?? 0, $0) < (directory.members[$1]?.openCount ?? 0, $1) }
    }

    static func shellWord(_ text: String) -> String {
        text.allSatisfy { $0.isLetter || $0.isNumber || "-_.:@/".contains($0) } ? text : "\"\(text.replacingOccurrences(of: "\"", with: "\\\""))\""
    }
}
