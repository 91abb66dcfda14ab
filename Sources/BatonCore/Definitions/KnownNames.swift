/// Names known in the database, for cross-reference checks of a workflow.
/// A nil set is not checked; an empty set means none exist yet.
public struct KnownNames: Sendable {
    public var teams: Set<String>?
    public var calendars: Set<String>?
    /// Channels from the channel file; `log` always exists and need not be listed.
    public var channels: Set<String>?
    /// Member ids.
    public var members: Set<String>?
    /// Lifecycle stages a handoff may name (the workflow file's `lifecycle:`, else the defaults).
    public var stages: [String] = Lifecycle.defaultStages

    public init(teams: Set<String>? = nil, calendars: Set<String>? = nil, channels: Set<String>? = nil,
                members: Set<String>? = nil) {
        self.teams = teams
        self.calendars = calendars
        self.channels = channels
        self.members = members
    }
}
