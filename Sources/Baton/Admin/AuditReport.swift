import BatonCore
import Foundation

/// The exception report a schedule sends: the audit's findings grouped by team, one message per
/// team addressed to its manager (the team file's `manager`). Pure: findings and directory in,
/// messages out.
public enum AuditReport {
    /// The group of findings that belong to no team.
    public static let noTeam = "(no team)"

    /// One message per team with findings (teams in name order, findings with no team last); when
    /// there are none at all, one message saying so, so every run leaves a trace.
    public static func messages(
        schedule: String, period: Date, channel: String, findings: [AuditFinding], directory: Directory
    ) -> [ScheduledMessage] {
        let periodText = RFC3339.string(period)
        let title = "Exception report \(schedule) for \(periodText)"
        guard !findings.isEmpty else {
            return [ScheduledMessage(key: "schedule:\(schedule):\(periodText):all", channel: channel, recipient: nil,
                                     recipientEmail: nil, message: "\(title): no exceptions.")]
        }
        let groups = Dictionary(grouping: findings) { $0.team ?? noTeam }
        let order = groups.keys.filter { $0 != noTeam }.sorted() + (groups[noTeam] == nil ? [] : [noTeam])
        return order.map { team in
            let items = groups[team]!
            let manager = directory.teams[team]?.manager
            let lead = manager.flatMap { directory.members[$0] }
            var lines = ["\(title), team \(team)\(lead.map { ", for \($0.name)" } ?? ""): \(items.count) finding\(items.count == 1 ? "" : "s")"]
            let counts = Dictionary(grouping: items, by: \.kind).map { "\($0.key) \($0.value.count)" }.sorted()
            lines.append(counts.joined(separator: ", "))
            for finding in items {
                let subject = [finding.contact, finding.member.map { "(\($0))" }].compactMap { $0 }.joined(separator: " ")
                lines.append("- \(finding.kind) \(subject): \(finding.detail)")
                if !finding.suggestion.isEmpty { lines.append("  fix: \(finding.suggestion)") }
            }
            return ScheduledMessage(
                key: "schedule:\(schedule):\(periodText):\(team)", channel: channel, recipient: lead?.id ?? manager,
                recipientEmail: lead?.email, message: lines.joined(separator: "\n"))
        }
    }
}
