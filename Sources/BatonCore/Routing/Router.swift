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
        /// Nobody working now (`working_hours: wait`): route again at `until`, when the first
        /// member's day begins.
        case later(until: Date, team: String, reason: String)
    }

    /// Chooses an owner in `team` by `strategy` (with `rules` and `otherwise` for `rules`/`sticky`/`account`).
    /// With `workingHours`, members whose calendar (their own, else their team's) is closed at `now`
    /// are not eligible; when that leaves nobody, `.skip` takes the fallback and `.wait` waits.
    public static func route(
        team: String, strategy: Strategy, rules: [Rule] = [], otherwise: Strategy? = nil, fallback: Fallback,
        contact: ContactSnapshot, directory: inout Directory, rotation: inout Rotation, now: Date,
        workingHours: WorkingHours? = nil
    ) -> Decision {
        guard directory.teams[team] != nil else { return .fail("unknown team \(team)") }
        if let workingHours {
            return routeInWorkingHours(
                team: team, strategy: strategy, rules: rules, otherwise: otherwise, fallback: fallback, contact: contact,
                directory: &directory, rotation: &rotation, now: now, mode: workingHours)
        }
        switch strategy {
        case .account:
            // The company's owner, if it can take work; else the step's other routing, saying why.
            let why: String
            if let company = contact.company {
                if let owner = contact.companyOwner, let info = directory.members[owner], info.isEligible(at: now) {
                    return take(owner, team: info.team, reason: "account: owner of \(company)", &directory)
                }
                why = contact.companyOwner.map { "account: \($0), owner of \(company), is unavailable" }
                    ?? "account: \(company) has no owner"
            } else {
                why = "account: no company"
            }
            let other = otherwise.flatMap { $0 == .account || $0 == .rules ? nil : $0 } ?? .roundRobin
            let decision = route(
                team: team, strategy: other, fallback: fallback, contact: contact, directory: &directory,
                rotation: &rotation, now: now)
            switch decision {
            case .member(let id, let t, let reason): return .member(id, team: t, reason: "\(why); \(reason)")
            case .queue(let t, let reason): return .queue(team: t, reason: "\(why); \(reason)")
            case .fail(let error): return .fail("\(why); \(error)")
            case .later: return decision
            }
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

    /// `route` with members outside their working hours made ineligible for this decision.
    private static func routeInWorkingHours(
        team: String, strategy: Strategy, rules: [Rule], otherwise: Strategy?, fallback: Fallback,
        contact: ContactSnapshot, directory: inout Directory, rotation: inout Rotation, now: Date, mode: WorkingHours
    ) -> Decision {
        let closed = directory.members.values.filter { $0.active && !isWorking($0, directory, at: now) }.map(\.id)
        var view = directory
        for id in closed { view.members[id]?.active = false }
        let anyoneWorking = eligibleMembers(of: team, view, now).count > 0
        var decision: Decision
        if !anyoneWorking, mode == .wait {
            // Nobody in the team works now: wait for the first member whose day begins, when there is one.
            let openings = (directory.teams[team]?.members ?? []).compactMap { id -> Date? in
                guard let info = directory.members[id], info.isEligible(at: now) else { return nil }
                return nextWorkingTime(info, directory, atOrAfter: now)
            }
            if let first = openings.min(), first > now {
                return .later(until: first, team: team,
                              reason: "working_hours: nobody in \(team) is working; waiting until \(iso(first))")
            }
        }
        decision = route(
            team: team, strategy: strategy, rules: rules, otherwise: otherwise, fallback: fallback, contact: contact,
            directory: &view, rotation: &rotation, now: now)
        // Keep the open counts this decision added; restore everyone's `active`.
        for id in closed { view.members[id]?.active = directory.members[id]?.active ?? true }
        directory = view
        guard !closed.isEmpty else { return decision }
        switch decision {
        case .member(let id, let t, let reason):
            decision = .member(id, team: t, reason: "\(reason) (working_hours: skipped \(closed.count) off duty)")
        case .queue(let t, let reason):
            decision = .queue(team: t, reason: anyoneWorking ? reason : "working_hours: nobody in \(t) is working; \(reason)")
        case .fail(let error):
            decision = .fail(anyoneWorking ? error : "working_hours: nobody in \(team) is working; \(error)")
        case .later:
            break
        }
        return decision
    }

    /// The calendar that decides when `member` works: their own, else their team's.
    public static func calendar(of member: MemberInfo, _ directory: Directory) -> BusinessCalendar? {
        let name = member.calendar ?? directory.teams[member.team]?.calendar
        return name.flatMap { directory.calendars[$0] }
    }

    /// True when `member`'s calendar is open at `now`; a member with no calendar always works.
    public static func isWorking(_ member: MemberInfo, _ directory: Directory, at now: Date) -> Bool {
        guard let calendar = calendar(of: member, directory) else { return true }
        return BusinessClock.isOpen(at: now, in: calendar)
    }

    static func nextWorkingTime(_ member: MemberInfo, _ directory: Directory, atOrAfter now: Date) -> Date? {
        guard let calendar = calendar(of: member, directory) else { return now }
        return BusinessClock.nextOpening(atOrAfter: now, in: calendar)
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
