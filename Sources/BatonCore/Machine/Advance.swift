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
    /// The waiting step's `pause_on` and `resume_on` events (they wake it too); nil when none.
    public var pauseEvents: [String]?
    public var waitStartedAt: Date?
    /// While paused, the deadline the wait had when its clock stopped (it moves on resume).
    public var deadline: Date?
    /// The wait's SLA clock is stopped: `runAt` is `Advance.neverDue`, not the deadline.
    public var paused: Bool
    /// Pauses begun or ended by this advance, for the `sla_pauses` table.
    public var pauses: [SLAPause]
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
    /// Lifecycle stage changes (a handoff's `stage:`), for the stage history and `starts_on`.
    public var stageChanges: [StageChange] = []
}

extension Advance {
    /// The `runAt` of a paused wait: no deadline wakes it, only a signal does. Finite (the last
    /// second of year 9999), so it sorts, pages and prints like any other time.
    public static let neverDue = Date(timeIntervalSince1970: 253_402_300_799)
}

/// One pause of a wait's SLA clock: begun by a `pause_on` event, ended by a `resume_on` event (or
/// by the wait ending while paused).
public struct SLAPause: Hashable, Sendable {
    public var step: String
    /// When the wait began: with the instance and step, which wait the pause belongs to.
    public var waitStartedAt: Date
    public var startedAt: Date
    /// Nil while the clock is stopped.
    public var endedAt: Date?
    public var pauseEvent: String
    /// The event that resumed it; nil while paused, or when the wait ended (met) while paused.
    public var resumeEvent: String?
    /// The paused time on the wait's clock (business seconds on a calendar), once ended.
    public var seconds: TimeInterval?
    /// The deadline when the clock stopped, and where it moved to when it started again.
    public var deadlineBefore: Date
    public var deadlineAfter: Date?
    /// The pause was begun by an earlier advance: its stored row is ended, not inserted.
    public var existing: Bool

    public init(step: String, waitStartedAt: Date, startedAt: Date, endedAt: Date? = nil, pauseEvent: String,
                resumeEvent: String? = nil, seconds: TimeInterval? = nil, deadlineBefore: Date, deadlineAfter: Date? = nil,
                existing: Bool = false) {
        self.step = step
        self.waitStartedAt = waitStartedAt
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.pauseEvent = pauseEvent
        self.resumeEvent = resumeEvent
        self.seconds = seconds
        self.deadlineBefore = deadlineBefore
        self.deadlineAfter = deadlineAfter
        self.existing = existing
    }
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
    /// An email's subject, rendered from the notify step's `subject:`; nil: the channel's own.
    public var subject: String? = nil
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
