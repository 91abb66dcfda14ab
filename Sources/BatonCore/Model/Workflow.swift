/// A workflow as sales ops write it (see DESIGN "File formats"), after parsing and validation.
/// Stored as JSON in `workflow_definitions.spec`; instances are pinned to one version.
public struct WorkflowDefinition: Hashable, Sendable, Codable {
    public var name: String
    public var description: String?
    /// The id of the first step.
    public var start: String
    /// The steps in file order.
    public var steps: [Step]
    /// The kind of record the workflow runs on (`subject:`); nil is `contact`.
    public var subject: RecordKind?
    /// The lifecycle stages a handoff may move a record to (`lifecycle:`); nil is the team file's
    /// stages, else `Lifecycle.defaultStages`.
    public var lifecycle: [String]?
    /// Start on a change of a record's lifecycle stage (`starts_on:`); nil when the workflow is only started.
    public var startsOn: StartsOn?
    /// What enrolling a record does when another record of its kind has the same duplicate key
    /// (`on_duplicate:`); nil is `allow`.
    public var onDuplicate: OnDuplicate?
    /// The attribute compared, normalised (trimmed, lower case), for `on_duplicate` (`duplicate_key:`); nil is `email`.
    public var duplicateKey: String?

    public init(name: String, description: String? = nil, start: String, steps: [Step], subject: RecordKind? = nil,
                lifecycle: [String]? = nil, onDuplicate: OnDuplicate? = nil, duplicateKey: String? = nil,
                startsOn: StartsOn? = nil) {
        self.startsOn = startsOn
        self.onDuplicate = onDuplicate == .allow ? nil : onDuplicate
        self.duplicateKey = duplicateKey
        self.name = name
        self.description = description
        self.start = start
        self.steps = steps
        self.subject = subject == .contact ? nil : subject
        self.lifecycle = lifecycle
    }

    /// The kind of record the workflow runs on.
    public var subjectKind: RecordKind { subject ?? .contact }

    /// The step with this id.
    public func step(_ id: String) -> Step? { steps.first { $0.id == id } }
}

/// One step: its id, what it does, where it goes next.
public struct Step: Hashable, Sendable, Codable {
    public var id: String
    public var action: Action
    /// How many times the step is tried before the instance fails (default 5).
    public var maxAttempts: Int?

    public init(id: String, action: Action, maxAttempts: Int? = nil) {
        self.id = id
        self.action = action
        self.maxAttempts = maxAttempts
    }

    /// The step ids this step can go to.
    public var successors: [String] {
        switch action {
        case .assign(_, let next), .notify(_, let next), .escalate(_, let next), .handoff(_, let next), .goto(let next):
            return [next]
        case .waitForSLA(_, let met, let breach): return [met, breach]
        case .branch(let branch): return branch.cases.map(\.next) + [branch.otherwise]
        case .end: return []
        }
    }
}

/// What a step does, with its outgoing transitions.
public enum Action: Hashable, Sendable, Codable {
    case assign(Assign, next: String)
    case notify(Notify, next: String)
    case waitForSLA(WaitForSLA, onMet: String, onBreach: String)
    case escalate(Escalate, next: String)
    case handoff(Handoff, next: String)
    case branch(Branch)
    /// Plain control: go on to another step.
    case goto(String)
    case end(End)

    /// The file's key for this kind of step.
    public var kind: String {
        switch self {
        case .assign: return "assign"
        case .notify: return "notify"
        case .waitForSLA: return "wait_for_sla"
        case .escalate: return "escalate"
        case .handoff: return "handoff"
        case .branch: return "branch"
        case .goto: return "goto"
        case .end: return "end"
        }
    }
}

/// How an owner is chosen in a team.
public enum Strategy: String, Hashable, Sendable, Codable, CaseIterable {
    case roundRobin = "round_robin"
    case weighted
    case leastLoaded = "least_loaded"
    case rules
    case sticky
    /// The owner of the record's company (its `company` attribute); `otherwise` when the company has
    /// no owner or its owner cannot take work now.
    case account
}

/// `working_hours:` on an assign step: members whose calendar is closed are skipped.
public enum WorkingHours: String, Hashable, Sendable, Codable, CaseIterable {
    /// `true`: skip them; when nobody is working, the step's fallback.
    case skip
    /// `wait`: skip them; when nobody is working, wait until the first member's day begins.
    case wait
}

/// What happens when no member is eligible.
public enum Fallback: String, Hashable, Sendable, Codable, CaseIterable {
    /// Leave the contact unowned in the team's queue (an admin sees it in `stuck` as `unowned`).
    case queue
    /// Give it to the backup of the current (or previous) owner.
    case backup
    /// Fail the step.
    case fail
}

/// `assign:` choose an owner in a team.
public struct Assign: Hashable, Sendable, Codable {
    public var team: String
    public var strategy: Strategy
    /// For `strategy: rules`: first match wins.
    public var rules: [Rule]
    /// For `rules` when no rule matches, and for `sticky` when the current owner is not eligible.
    public var otherwise: Strategy?
    public var fallback: Fallback
    /// Skip members outside their working hours (member's calendar, else the team's); nil: don't.
    public var workingHours: WorkingHours?

    public init(team: String, strategy: Strategy = .roundRobin, rules: [Rule] = [], otherwise: Strategy? = nil,
                fallback: Fallback = .queue, workingHours: WorkingHours? = nil) {
        self.team = team
        self.strategy = strategy
        self.rules = rules
        self.otherwise = otherwise
        self.fallback = fallback
        self.workingHours = workingHours
    }
}

/// A routing rule: when the condition holds, pick this team (through its routing) or this member.
public struct Rule: Hashable, Sendable, Codable {
    /// Recorded in ownership history as `rule:<name>`; defaults to `rules[<index>]`.
    public var name: String?
    public var when: Condition
    public var team: String?
    public var member: String?

    public init(name: String? = nil, when: Condition, team: String? = nil, member: String? = nil) {
        self.name = name
        self.when = when
        self.team = team
        self.member = member
    }
}

/// Who a message goes to.
public enum Recipient: Hashable, Sendable, Codable {
    case owner
    case backup
    case manager
    case previousOwner
    case newOwner
    /// The contact itself (consent applies).
    case contact
    /// Every active member of a team: `team:<name>`.
    case team(String)
    /// One member: `member:<id>`.
    case member(String)

    /// Parses `owner`, `backup`, `manager`, `previous_owner`, `new_owner`, `contact`, `team:NAME`, `member:ID`.
    public init?(parsing text: String) {
        switch text {
        case "owner": self = .owner
        case "backup": self = .backup
        case "manager": self = .manager
        case "previous_owner": self = .previousOwner
        case "new_owner": self = .newOwner
        case "contact": self = .contact
        default:
            if text.hasPrefix("team:"), text.count > 5 { self = .team(String(text.dropFirst(5))) }
            else if text.hasPrefix("member:"), text.count > 7 { self = .member(String(text.dropFirst(7))) }
            else { return nil }
        }
    }

    /// The file's spelling.
    public var text: String {
        switch self {
        case .owner: return "owner"
        case .backup: return "backup"
        case .manager: return "manager"
        case .previousOwner: return "previous_owner"
        case .newOwner: return "new_owner"
        case .contact: return "contact"
        case .team(let name): return "team:\(name)"
        case .member(let id): return "member:\(id)"
        }
    }
}

/// `notify:` send a message through a channel.
public struct Notify: Hashable, Sendable, Codable {
    public var to: [Recipient]
    /// A channel from the channel file; `log` always exists.
    public var channel: String
    /// A mustache template: `{{contact.id}}`, `{{owner.name}}`, `{{deadline}}`, …
    public var message: String
    /// The email's subject, a template like `message` (email channels only); nil: the channel's own.
    public var subject: String?

    public init(to: [Recipient], channel: String = "log", message: String, subject: String? = nil) {
        self.to = to
        self.channel = channel
        self.message = message
        self.subject = subject
    }
}

/// Which clock a deadline runs on.
public enum ClockKind: String, Hashable, Sendable, Codable, CaseIterable {
    case wall
    case businessHours = "business_hours"
}

/// `wait_for_sla:` wait for a named signal within a duration.
public struct WaitForSLA: Hashable, Sendable, Codable {
    public var event: String
    public var within: TimeSpan
    public var clock: ClockKind
    /// Required for `business_hours`; the calendar's time zone, hours and holidays count.
    public var calendar: String?
    /// Events that stop the clock (`pause_on:`), e.g. `waiting_on_customer`; nil when none.
    public var pauseOn: [String]?
    /// Events that start it again (`resume_on:`); the deadline moves by the paused time on this
    /// wait's clock. Nil when none.
    public var resumeOn: [String]?

    public init(event: String, within: TimeSpan, clock: ClockKind = .wall, calendar: String? = nil,
                pauseOn: [String] = [], resumeOn: [String] = []) {
        self.event = event
        self.within = within
        self.clock = clock
        self.calendar = calendar
        // Empty lists are stored as nil, so a stored spec without pauses encodes as it always did.
        self.pauseOn = pauseOn.isEmpty ? nil : pauseOn
        self.resumeOn = resumeOn.isEmpty ? nil : resumeOn
    }

    /// The events besides `event` that wake the waiting instance: `pause_on` then `resume_on`.
    public var pauseEvents: [String] { (pauseOn ?? []) + (resumeOn ?? []) }
}

/// Who takes over in an escalation.
public enum EscalationTarget: Hashable, Sendable, Codable {
    case backup
    case manager
    /// `team:<name>`: that team's routing picks the new owner.
    case team(String)
    case nextInRotation

    /// Parses `backup`, `manager`, `team:NAME`, `next_in_rotation`.
    public init?(parsing text: String) {
        switch text {
        case "backup": self = .backup
        case "manager": self = .manager
        case "next_in_rotation": self = .nextInRotation
        default:
            guard text.hasPrefix("team:"), text.count > 5 else { return nil }
            self = .team(String(text.dropFirst(5)))
        }
    }

    public var text: String {
        switch self {
        case .backup: return "backup"
        case .manager: return "manager"
        case .team(let name): return "team:\(name)"
        case .nextInRotation: return "next_in_rotation"
        }
    }
}

/// An instance's priority; higher runs first.
public enum Priority: String, Hashable, Sendable, Codable, CaseIterable {
    case low, normal, high, urgent

    public var rank: Int {
        switch self {
        case .low: return -1
        case .normal: return 0
        case .high: return 1
        case .urgent: return 2
        }
    }
}

/// `escalate:` reassign, notify, raise priority, then go on.
public struct Escalate: Hashable, Sendable, Codable {
    public var reassignTo: EscalationTarget?
    public var notify: [Recipient]
    public var priority: Priority?
    public var channel: String
    /// Template for the notifications; a default names the contact, step and new owner.
    public var message: String?

    public init(reassignTo: EscalationTarget? = nil, notify: [Recipient] = [], priority: Priority? = nil,
                channel: String = "log", message: String? = nil) {
        self.reassignTo = reassignTo
        self.notify = notify
        self.priority = priority
        self.channel = channel
        self.message = message
    }
}

/// `handoff:` transfer ownership to another team through its routing.
public struct Handoff: Hashable, Sendable, Codable {
    public var team: String
    public var strategy: Strategy
    /// Recorded as `handoff:<reason>`.
    public var reason: String
    public var notify: [Recipient]
    public var channel: String
    public var message: String?
    public var fallback: Fallback
    /// The lifecycle stage the record moves to (`stage:`), one of the workflow's stages.
    public var stage: String?

    public init(team: String, strategy: Strategy = .roundRobin, reason: String = "handoff", notify: [Recipient] = [],
                channel: String = "log", message: String? = nil, fallback: Fallback = .queue, stage: String? = nil) {
        self.stage = stage
        self.team = team
        self.strategy = strategy
        self.reason = reason
        self.notify = notify
        self.channel = channel
        self.message = message
        self.fallback = fallback
    }
}

/// `on_duplicate:` what enrollment does with a record whose duplicate key another record already has.
public enum OnDuplicate: String, Hashable, Sendable, Codable, CaseIterable {
    /// Enroll it anyway (the default; `audit` reports duplicates).
    case allow
    /// Refuse the enrollment with a line naming the existing record.
    case refuse
    /// Enroll the existing record instead (the new attributes are merged into it); no duplicate is created.
    case merge
}

/// `branch:` go to the first case whose condition holds, else `otherwise`.
public struct Branch: Hashable, Sendable, Codable {
    public var cases: [Case]
    public var otherwise: String

    public struct Case: Hashable, Sendable, Codable {
        public var when: Condition
        public var next: String
        public init(when: Condition, next: String) {
            self.when = when
            self.next = next
        }
    }

    public init(cases: [Case], otherwise: String) {
        self.cases = cases
        self.otherwise = otherwise
    }
}

/// `end:` the instance completes.
public struct End: Hashable, Sendable, Codable {
    /// An optional outcome label recorded on the instance (`converted`, `lost`, …).
    public var outcome: String?
    public init(outcome: String? = nil) { self.outcome = outcome }
}
