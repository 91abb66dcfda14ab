/// Names known in the database, for cross-reference checks of a workflow.
/// A nil set is not checked; an empty set means none exist yet.
public struct KnownNames: Sendable {
    public var teams: Set<String>?
    public var calendars: Set<String>?
    /// Channels from the channel file; `log` always exists and need not be listed.
    public var channels: Set<String>?
    /// Member ids.
    public var members: Set<String>?
    /// The channels of type email: a notify step's `subject` may name only one of these (nil: not checked).
    public var emailChannels: Set<String>?
    /// The organisation's lifecycle stages (the team file's `lifecycle:`, else the defaults): what a
    /// workflow that lists none of its own may name in a handoff or `starts_on`.
    public var stages: [String] = Lifecycle.defaultStages

    public init(teams: Set<String>? = nil, calendars: Set<String>? = nil, channels: Set<String>? = nil,
                members: Set<String>? = nil, stages: [String]? = nil, emailChannels: Set<String>? = nil) {
        self.stages = stages ?? Lifecycle.defaultStages
        self.teams = teams
        self.calendars = calendars
        self.channels = channels
        self.members = members
        self.emailChannels = emailChannels
    }
}
