import Foundation

/// Instance states (docs/state-machine.md).
public enum InstanceState: String, Hashable, Sendable, Codable, CaseIterable {
    case ready, running, waiting, completed, failed, cancelled

    /// No worker will touch it again (unless an admin retries a failed one).
    public var isFinal: Bool { self == .completed || self == .failed || self == .cancelled }
}

/// A contact as a step sees it.
public struct ContactSnapshot: Hashable, Sendable {
    public var id: String
    public var attributes: [String: String]
    public var owner: String?
    public var backupOwner: String?
    public var team: String?
    public var previousOwner: String?
    /// The owner of the company the record names (`company` attribute), read with the record; nil
    /// when it names none, the company is not stored, or the company has no owner.
    public var companyOwner: String?
    /// The record's lifecycle stage (`lead`, `customer`, …), when it has one.
    public var lifecycle: String?

    public init(id: String, attributes: [String: String] = [:], owner: String? = nil, backupOwner: String? = nil,
                team: String? = nil, previousOwner: String? = nil, companyOwner: String? = nil, lifecycle: String? = nil) {
        self.lifecycle = lifecycle
        self.id = id
        self.attributes = attributes
        self.owner = owner
        self.backupOwner = backupOwner
        self.team = team
        self.previousOwner = previousOwner
        self.companyOwner = companyOwner
    }

    /// The record's kind and id within it.
    public var record: RecordRef { RecordRef(storageKey: id) }

    /// The company this record belongs to (its `company` attribute); a company has none.
    public var company: RecordRef? {
        record.kind == .company ? nil : RecordRef.company(named: attributes["company"])
    }
}

/// A signal the instance has not consumed yet, received since it was enrolled.
public struct PendingSignal: Hashable, Sendable {
    public var id: Int
    public var name: String
    public var receivedAt: Date
    public init(id: Int, name: String, receivedAt: Date) {
        self.id = id
        self.name = name
        self.receivedAt = receivedAt
    }
}

/// An instance as a worker claimed it.
public struct InstanceSnapshot: Hashable, Sendable {
    public var id: Int
    public var workflow: String
    public var version: Int
    public var contact: ContactSnapshot
    /// The state before the claim: `ready`, `waiting`, or `running` (a lease that expired).
    public var state: InstanceState
    public var step: String
    public var seq: Int
    public var attempt: Int
    public var fence: Int
    public var priority: Int
    /// Set while waiting: when the wait began and when it breaches.
    public var waitStartedAt: Date?
    public var deadline: Date?
    public var createdAt: Date
    public var pendingSignals: [PendingSignal]
    /// Set while the wait's SLA clock is paused: when the pause began, and the event that began it.
    public var pausedAt: Date?
    public var pausedBy: String?
    /// The clock time of this wait's pauses that have ended (its deadline has already moved by it).
    public var pausedSeconds: TimeInterval

    public init(id: Int, workflow: String, version: Int, contact: ContactSnapshot, state: InstanceState, step: String,
                seq: Int = 0, attempt: Int = 0, fence: Int = 1, priority: Int = 0, waitStartedAt: Date? = nil,
                deadline: Date? = nil, createdAt: Date, pendingSignals: [PendingSignal] = [], pausedAt: Date? = nil,
                pausedBy: String? = nil, pausedSeconds: TimeInterval = 0) {
        self.pausedAt = pausedAt
        self.pausedBy = pausedBy
        self.pausedSeconds = pausedSeconds
        self.id = id
        self.workflow = workflow
        self.version = version
        self.contact = contact
        self.state = state
        self.step = step
        self.seq = seq
        self.attempt = attempt
        self.fence = fence
        self.priority = priority
        self.waitStartedAt = waitStartedAt
        self.deadline = deadline
        self.createdAt = createdAt
        self.pendingSignals = pendingSignals
    }
}

/// A member as routing sees it.
public struct MemberInfo: Hashable, Sendable {
    public var id: String
    public var name: String
    public var email: String?
    public var team: String
    public var capacity: Int?
    public var weight: Int
    public var active: Bool
    /// Out of office until the end of this instant (exclusive).
    public var outOfOfficeUntil: Date?
    public var backup: String?
    public var calendar: String?
    /// Open (live) instances owned now.
    public var openCount: Int

    public init(id: String, name: String, email: String? = nil, team: String, capacity: Int? = nil, weight: Int = 1,
                active: Bool = true, outOfOfficeUntil: Date? = nil, backup: String? = nil, calendar: String? = nil,
                openCount: Int = 0) {
        self.id = id
        self.name = name
        self.email = email
        self.team = team
        self.capacity = capacity
        self.weight = weight
        self.active = active
        self.outOfOfficeUntil = outOfOfficeUntil
        self.backup = backup
        self.calendar = calendar
        self.openCount = openCount
    }

    /// Active, not out of office at `now`, under capacity.
    public func isEligible(at now: Date) -> Bool {
        guard active else { return false }
        if let until = outOfOfficeUntil, now < until { return false }
        if let capacity, openCount >= capacity { return false }
        return true
    }
}

public struct TeamInfo: Hashable, Sendable {
    public var name: String
    public var kind: TeamKind
    public var calendar: String?
    public var manager: String?
    /// Member ids, sorted: the rotation order.
    public var members: [String]

    public init(name: String, kind: TeamKind = .other, calendar: String? = nil, manager: String? = nil,
                members: [String] = []) {
        self.name = name
        self.kind = kind
        self.calendar = calendar
        self.manager = manager
        self.members = members.sorted()
    }
}

/// Teams, members and calendars as stored, for one batch of steps.
public struct Directory: Hashable, Sendable {
    public var teams: [String: TeamInfo]
    public var members: [String: MemberInfo]
    public var calendars: [String: BusinessCalendar]

    public init(teams: [TeamInfo] = [], members: [MemberInfo] = [], calendars: [BusinessCalendar] = []) {
        self.teams = Dictionary(teams.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        self.members = Dictionary(members.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        self.calendars = Dictionary(calendars.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    }
}
