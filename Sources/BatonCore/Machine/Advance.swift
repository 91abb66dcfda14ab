import Foundation

/// Everything one claim of an instance changes, applied by the Store in one transaction:
/// the instance's new state, owner changes, notifications, consumed signals and timeline events.
public struct Advance: Hashable, Sendable {
    public var instance: Int
    public var fence: Int
    public var state: InstanceState
    public var step: String
    public var seq: Int
    public var attempt: Int
    public var priority: Int
    /// When a `ready` instance is due, or when a `waiting` one should be looked at (its deadline).
    public var runAt: Date
    public var waitEvent: String?
    public var waitStartedAt: Date?
    public var deadline: Date?
    public var lastError: String?
    public var outcome: String?
    /// Signals consumed by this advance.
    public var usedSignals: [Int]
    /// The contact's ownership after this advance, when it changed.
    public var contact: ContactSnapshot?
    /// When the contact was left unowned in a team queue (fallback `queue`).
    public var queued: Bool
    public var ownerChanges: [OwnerChange]
    public var notifications: [OutboundMessage]
    public var events: [TimelineEvent]
}

/// One change of owner, appended to the ownership history.
public struct OwnerChange: Hashable, Sendable {
    public var contact: String
    public var from: String?
    public var to: String?
    public var team: String?
    /// `round_robin`, `rule:<name>`, `sla_breach`, `handoff:<reason>`, `manual:<who>`, …
    public var reason: String
}

/// A message for the outbox.
public struct OutboundMessage: Hashable, Sendable {
    /// Unique per instance, transition and recipient: the delivery's idempotency key.
    public var key: String
    /// The step that wrote it.
    public var step: String
    public var channel: String
    /// A member id, or `contact`.
    public var recipient: String
    public var email: String?
    public var message: String
    /// Not to be sent (the contact has not consented); kept and visible, never silently dropped.
    public var suppressed: Bool
}

/// One entry of an instance's timeline.
public struct TimelineEvent: Hashable, Sendable {
    public var seq: Int
    public var step: String
    public var fromState: InstanceState
    public var toState: InstanceState
    public var owner: String?
    public var attempt: Int
    public var detail: String
    public var error: String?
}
