import Foundation

/// What a simulated run of one contact through a workflow did, step by step, on a virtual clock.
/// Encoded as `batonctl simulate --json` (field names are a contract, documented in the README).
public struct SimulationTrace: Hashable, Sendable, Encodable {
    public var workflow: String
    public var contact: String
    public var attributes: [String: String]
    /// The virtual time the contact is enrolled.
    public var start: Date
    /// The events file, resolved to instants, in arrival order.
    public var events: [SimulatedSignal]
    public var steps: [SimulatedStep]
    public var result: SimulationResult
}

/// A signal arriving at a virtual instant.
public struct SimulatedSignal: Hashable, Sendable, Encodable {
    public var at: Date
    public var event: String
}

/// One step taken (or one wait ending) at a virtual instant.
public struct SimulatedStep: Hashable, Sendable, Encodable {
    public var at: Date
    /// Seconds since the start of the simulation.
    public var elapsed: Int
    public var step: String
    /// The step's kind as the file writes it: assign, notify, wait_for_sla, …
    public var kind: String
    /// assigned | queued | notified | branched | went | waiting | paused | resumed | sla_met | sla_breached |
    /// escalated | handed_off | completed | retry | failed
    public var outcome: String
    /// The engine's timeline line for this step (what `instances show` would print).
    public var detail: String
    /// Where the instance goes next; nil when it waits, ends or fails.
    public var next: String?
    /// The contact's owner and team after the step.
    public var owner: String?
    public var team: String?
    /// The instance's priority after the step (escalations may raise it): -1 low … 2 urgent.
    public var priority: Int
    public var assignment: SimulatedAssignment?
    public var messages: [SimulatedMessage]
    public var wait: SimulatedWait?
    /// The signal that met an SLA, or paused or resumed its clock.
    public var signal: SimulatedSignal?
    public var error: String?
}

/// A change of owner and why.
public struct SimulatedAssignment: Hashable, Sendable, Encodable {
    public var from: String?
    /// nil: left unowned in the team's queue.
    public var to: String?
    public var team: String?
    /// `round_robin`, `rule:dach`, `backup`, `sla_breach`, `handoff:purchased`, …
    public var reason: String
}

/// A notification the step would send (or suppress), rendered.
public struct SimulatedMessage: Hashable, Sendable, Encodable {
    /// A member id, or `contact`.
    public var to: String
    public var name: String?
    public var email: String?
    public var channel: String
    public var message: String
    /// An email's subject from the notify step; nil (absent in JSON) when the step gives none.
    public var subject: String? = nil
    /// Not sent: the contact has not consented.
    public var suppressed: Bool
}

/// A wait that begins: what it waits for and when it breaches.
public struct SimulatedWait: Hashable, Sendable, Encodable {
    public var event: String
    public var within: String
    /// wall | business_hours
    public var clock: String
    public var calendar: String?
    /// The calendar's time zone, when the deadline is on business hours.
    public var timezone: String?
    public var deadline: Date
}

/// How the simulated run ended.
public struct SimulationResult: Hashable, Sendable, Encodable {
    /// completed | failed | waiting (stopped while still waiting, see `note`)
    public var state: String
    public var outcome: String?
    public var at: Date
    public var step: String
    /// Steps in the order the contact went through them.
    public var path: [String]
    public var owner: String?
    public var team: String?
    /// Wait steps whose SLA was breached, in order.
    public var breaches: [String]
    /// Wait steps whose SLA was met, in order.
    public var met: [String]
    public var note: String?
}

// `--json` promises every documented field, `null` when it has no value; synthesized Encodable
// would leave nil optionals out, so these types spell their encoding out.

extension SimulatedStep {
    enum CodingKeys: String, CodingKey {
        case at, elapsed, step, kind, outcome, detail, next, owner, team, priority, assignment, messages, wait, signal, error
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(at, forKey: .at)
        try c.encode(elapsed, forKey: .elapsed)
        try c.encode(step, forKey: .step)
        try c.encode(kind, forKey: .kind)
        try c.encode(outcome, forKey: .outcome)
        try c.encode(detail, forKey: .detail)
        try c.encode(next, forKey: .next)
        try c.encode(owner, forKey: .owner)
        try c.encode(team, forKey: .team)
        try c.encode(priority, forKey: .priority)
        try c.encode(assignment, forKey: .assignment)
        try c.encode(messages, forKey: .messages)
        try c.encode(wait, forKey: .wait)
        try c.encode(signal, forKey: .signal)
        try c.encode(error, forKey: .error)
    }
}

extension SimulatedAssignment {
    enum CodingKeys: String, CodingKey { case from, to, team, reason }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(from, forKey: .from)
        try c.encode(to, forKey: .to)
        try c.encode(team, forKey: .team)
        try c.encode(reason, forKey: .reason)
    }
}

extension SimulatedMessage {
    enum CodingKeys: String, CodingKey { case to, name, email, channel, message, suppressed }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(to, forKey: .to)
        try c.encode(name, forKey: .name)
        try c.encode(email, forKey: .email)
        try c.encode(channel, forKey: .channel)
        try c.encode(message, forKey: .message)
        try c.encode(suppressed, forKey: .suppressed)
    }
}

extension SimulatedWait {
    enum CodingKeys: String, CodingKey { case event, within, clock, calendar, timezone, deadline }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(event, forKey: .event)
        try c.encode(within, forKey: .within)
        try c.encode(clock, forKey: .clock)
        try c.encode(calendar, forKey: .calendar)
        try c.encode(timezone, forKey: .timezone)
        try c.encode(deadline, forKey: .deadline)
    }
}

extension SimulationResult {
    enum CodingKeys: String, CodingKey { case state, outcome, at, step, path, owner, team, breaches, met, note }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(state, forKey: .state)
        try c.encode(outcome, forKey: .outcome)
        try c.encode(at, forKey: .at)
        try c.encode(step, forKey: .step)
        try c.encode(path, forKey: .path)
        try c.encode(owner, forKey: .owner)
        try c.encode(team, forKey: .team)
        try c.encode(breaches, forKey: .breaches)
        try c.encode(met, forKey: .met)
        try c.encode(note, forKey: .note)
    }
}
