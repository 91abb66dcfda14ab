import Foundation

/// Who gets a contact: a pure decision from the directory, the contact and rotation positions.
public enum Router {
    /// The outcome of routing.
    public enum Decision: Hashable, Sendable {
        /// This member; `reason` goes into the ownership history.
        case member(String, team: String, reason: String)
        /// Nobody eligible: leave the contact in the team's queue.
        case queue(team: String, reason: String)
        /// Nobody eligible and the step says fail.
        case fail(String)
    }

    /// Chooses an owner in `team` by `strategy` (with `rules` and `otherwise` for `rules`/`sticky`).
    public static func route(
        team: String, strategy: Strategy, rules: [Rule] = [], otherwise: Strategy? = nil, fallback: Fallback,
        contact: ContactSnapshot, directory: inout Directory, rotation: inout Rotation, now: Date
    ) -> Decision {
        guard directory.teams[team] != nil else { return .fail("unknown team \(team)") }
        switch strategy {
        case .rules:
            for (index, rule) in rules.enumerated() where rule.when.matches(contact.attributes) {
                let name = "rule:\(rule.name ?? "rules[\(index)]")"
                if let member = rule.member {
                    if let info = directory.members[member], info.isEligible(at: now) {
                        return take(member, team: info.team, reason: name, &directory)
                    }
                    break  // that member cannot take it now (away, inactive, full): the team's routing below does
                }
                if let ruleTeam = rule.team {
                    let decision = route(
                        team: ruleTeam, strategy: otherwise ?? .roundRobin, fallback: fallback, contact: contact,
                        directory: &directory, rotation: &rotation, now: now)
                    if case .member(let id, let t, _) = decision { return .member(id, team: t, reason: name) }
                    return decision
                }
            }
            return route(
                team: team, strategy: otherwise ?? .roundRobin, fallback: fallback, contact: contact,
                directory: &directory, rotation: &rotation, now: now)
        case .sticky:
            if let owner = contact.owner, let info = directory.members[owner], info.isEligible(at: now) {
                return take(owner, team: info.team, reason: "sticky", &directory)
            }
            if let accountOwner = contact.attributes["account_owner"], let info = directory.members[accountOwner],
               info.isEligible(at: now)
            {
                return take(accountOwner, team: info.team, reason: "sticky", &directory)
            }
            return route(
                team: team, strategy: otherwise == .sticky ? .roundRobin : (otherwise ?? .roundRobin),
                fallback: fallback, contact: contact, directory: &directory, rotation: &rotation, now: now)
        case .roundRobin, .weighted, .leastLoaded:
            let eligible = eligibleMembers(of: team, directory, now)
            guard !eligible.isEmpty else {
                return fallbackDecision(fallback, team: team, contact: contact, directory: &directory, now: now)
            }
            let chosen: String
            switch strategy {
            case .leastLoaded:
                // The lowest open-work-to-capacity ratio; ties take turns through the rotation.
                let loads = eligible.map { load(directory.members[$0]!) }
                let lowest = loads.min()!
                let tied = eligible.indices.filter { loads[$0] == lowest }.map { eligible[$0] }
                chosen = tied[rotation.next(team) % tied.count]
            case .weighted:
                let weights = eligible.map { max(0, directory.members[$0]!.weight) }
                guard weights.reduce(0, +) > 0 else {
                    return fallbackDecision(fallback, team: team, contact: contact, directory: &directory, now: now)
                }
                chosen = eligible[smoothWeightedIndex(weights: weights, position: rotation.next(team))]
            default:
                chosen = eligible[rotation.next(team) % eligible.count]
            }
            return take(chosen, team: team, reason: strategy.rawValue, &directory)
        }
    }

    /// Active, in office, under capacity, in rotation order.
    public static func eligibleMembers(of team: String, _ directory: Directory, _ now: Date) -> [String] {
        (directory.teams[team]?.members ?? []).filter { directory.members[$0]?.isEligible(at: now) == true }
    }

    static func load(_ member: MemberInfo) -> Double {
        guard let capacity = member.capacity, capacity > 0 else { return Double(member.openCount) / 1_000_000 }
        return Double(member.openCount) / Double(capacity)
    }

    /// The member for `position` in a smooth weighted rotation (nginx's algorithm over one cycle of
    /// sum(weights) picks): a member of weight 2 gets twice the share, spread out rather than in bursts.
    public static func smoothWeightedIndex(weights: [Int], position: Int) -> Int {
        let total = weights.reduce(0, +)
        let slot = position % total
        var current = [Int](repeating: 0, count: weights.count)
        var chosen = 0
        for _ in 0...slot {
            for i in weights.indices { current[i] += weights[i] }
            chosen = current.indices.max { current[$0] != current[$1] ? current[$0] < current[$1] : $0 > $1 }!
            current[chosen] -= total
        }
        return chosen
    }

    private static func take(_ member: String, team: String, reason: String, _ directory: inout Directory) -> Decision {
        directory.members[member]?.openCount += 1
        return .member(member, team: team, reason: reason)
    }

    private static func fallbackDecision(
        _ fallback: Fallback, team: String, contact: ContactSnapshot, directory: inout Directory, now: Date
    ) -> Decision {
        switch fallback {
        case .queue:
            return .queue(team: team, reason: "queued: nobody eligible in \(team)")
        case .backup:
            let candidates = [contact.backupOwner, contact.owner.flatMap { directory.members[$0]?.backup }]
            for case let backup? in candidates {
                if let info = directory.members[backup], info.isEligible(at: now) {
                    return take(backup, team: info.team, reason: "fallback:backup", &directory)
                }
            }
            return .queue(team: team, reason: "queued: nobody eligible in \(team) and no eligible backup")
        case .fail:
            return .fail("nobody eligible in team \(team)")
        }
    }
}
