extension WorkflowDefinition {
    /// The teams this workflow's steps can give a record to: assign steps (and their rules' teams),
    /// escalations to `team:NAME`, handoffs. Used to show only these teams' members in a workflow's stats.
    public var routedTeams: Set<String> {
        var teams = Set<String>()
        for step in steps {
            switch step.action {
            case .assign(let assign, _):
                teams.insert(assign.team)
                for rule in assign.rules { if let team = rule.team { teams.insert(team) } }
            case .escalate(let escalate, _):
                if case .team(let team) = escalate.reassignTo { teams.insert(team) }
            case .handoff(let handoff, _):
                teams.insert(handoff.team)
            case .notify, .waitForSLA, .branch, .goto, .end:
                break
            }
        }
        return teams
    }
}
