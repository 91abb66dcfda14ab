/// Territory re-evaluation for `audit`: would the workflow's `rules` routing, run on the record's
/// attributes as they are now, choose its current owner? Pure: the definition, the attributes, the
/// owner and the directory in; a conflict (which step, which rule, which attributes) or nil out.
public enum Territory {
    /// The owner is outside the territory the rules give the record now.
    public struct Conflict: Hashable, Sendable {
        /// The assign step whose rules were re-evaluated.
        public var step: String
        /// `rule:<name>` of the rule that matches now, or `otherwise` when none does.
        public var rule: String
        /// The attributes that decide it: those of the matching rule, else those of the rule whose
        /// territory the owner belongs to (the attribute that no longer holds).
        public var attributes: [String]
        /// The team (or member) the rules choose now.
        public var expectedTeam: String?
        public var expectedMember: String?
        /// One line for people.
        public var detail: String
    }

    /// The first conflict among the definition's `rules` assign steps (file order); nil when the
    /// owner fits, there is no owner, or the workflow has no rules step.
    public static func conflict(
        definition: WorkflowDefinition, attributes: [String: String], owner: String?, directory: Directory
    ) -> Conflict? {
        guard let owner, let ownerTeam = directory.members[owner]?.team else { return nil }
        for step in definition.steps {
            guard case .assign(let assign, _) = step.action, assign.strategy == .rules else { continue }
            if let found = conflict(step: step.id, assign, attributes, owner, ownerTeam, directory) { return found }
        }
        return nil
    }

    static func conflict(
        step: String, _ assign: Assign, _ attributes: [String: String], _ owner: String, _ ownerTeam: String,
        _ directory: Directory
    ) -> Conflict? {
        for (index, rule) in assign.rules.enumerated() where rule.when.matches(attributes) {
            let name = "rule:\(rule.name ?? "rules[\(index)]")"
            let keys = rule.when.clauses.map(\.attribute)
            let shown = show(keys, attributes)
            if let member = rule.member {
                // The router falls back to the step's team when the member cannot take it.
                let eligible = directory.members[member]?.active == true
                if owner == member || (!eligible && ownerTeam == assign.team) { return nil }
                return Conflict(step: step, rule: name, attributes: keys, expectedTeam: nil, expectedMember: member,
                                detail: "step \(step): \(name) matches (\(shown)) and gives it to \(member); the owner is \(owner)")
            }
            if let team = rule.team {
                if ownerTeam == team { return nil }
                return Conflict(step: step, rule: name, attributes: keys, expectedTeam: team, expectedMember: nil,
                                detail: "step \(step): \(name) matches (\(shown)) and routes to team \(team); "
                                    + "the owner \(owner) is in \(ownerTeam)")
            }
        }
        if ownerTeam == assign.team { return nil }
        // No rule matches: the step's own team routes it. Name the rule whose territory the owner
        // is in: its attributes are the ones that no longer hold.
        let owning = assign.rules.enumerated().first { _, rule in rule.team == ownerTeam || rule.member == owner }
        let keys = owning?.element.when.clauses.map(\.attribute) ?? []
        let because = owning.map { index, rule in
            "; \(owner)'s territory is rule:\(rule.name ?? "rules[\(index)]"), which no longer matches (\(show(keys, attributes)))"
        } ?? ""
        return Conflict(step: step, rule: "otherwise", attributes: keys, expectedTeam: assign.team, expectedMember: nil,
                        detail: "step \(step): no rule matches, so it routes to team \(assign.team); "
                            + "the owner \(owner) is in \(ownerTeam)\(because)")
    }

    static func show(_ keys: [String], _ attributes: [String: String]) -> String {
        keys.map { "\($0)=\(attributes[$0] ?? "(none)")" }.joined(separator: ", ")
    }
}
