import Foundation

/// The pure state machine: (instance, definition, directory, rotation, now) -> `Advance`.
///
/// One claim moves an instance through consecutive steps until it waits, ends, fails or has
/// taken `maxSteps` steps (then it is `ready` again at once, so one instance cannot hog a worker).
/// It reads no clock and no database: time, positions and jitter come in as values.
public struct Machine: Sendable {
    /// Steps taken per claim at most.
    public var maxSteps: Int
    /// Tries of a failing step before the instance is `failed` (a step's `max_attempts` overrides it).
    public var defaultMaxAttempts: Int
    /// First retry delay; doubles per attempt, with jitter, up to `maxBackoff`.
    public var baseBackoff: TimeInterval
    public var maxBackoff: TimeInterval

    public init(maxSteps: Int = 20, defaultMaxAttempts: Int = 5, baseBackoff: TimeInterval = 1, maxBackoff: TimeInterval = 300) {
        self.maxSteps = maxSteps
        self.defaultMaxAttempts = defaultMaxAttempts
        self.baseBackoff = baseBackoff
        self.maxBackoff = maxBackoff
    }

    /// Advances `instance` as far as it can go now.
    /// - Parameter jitter: a value in 0..<1 that spreads retry backoff.
    public func advance(
        _ instance: InstanceSnapshot, definition: WorkflowDefinition, directory: inout Directory,
        rotation: inout Rotation, now: Date, jitter: Double = 0.5
    ) -> Advance {
        var run = Run(instance: instance, now: now)
        // A final state is final: a finished instance that reaches the machine (the claim never
        // hands one out; this holds whatever the caller does) changes nothing and says nothing.
        if instance.state.isFinal { return run.finish(state: instance.state, runAt: now) }
        for _ in 0..<maxSteps {
            guard let step = definition.step(run.step) else {
                return fail(&run, error: "step \(run.step) is not in \(definition.name) v\(instance.version)",
                            maxAttempts: 1, jitter: jitter)
            }
            let outcome = perform(step, &run, definition: definition, directory: &directory, rotation: &rotation)
            switch outcome {
            case .next(let target, let detail):
                run.record(step: step.id, to: .running, detail: detail)
                run.step = target
                run.attempt = 0
                run.waitStartedAt = nil
                run.deadline = nil
                run.pausedAt = nil
                run.pausedBy = nil
                run.pausedSeconds = 0
                run.pauseEvents = nil
            case .wait(let detail):
                if let detail { run.record(step: step.id, to: .waiting, detail: detail) }
                return run.finish(state: .waiting, runAt: run.deadline ?? now)
            case .later(let until, let detail):
                run.record(step: step.id, to: .ready, detail: detail)
                return run.finish(state: .ready, runAt: until)
            case .end(let outcome):
                run.outcome = outcome
                run.record(step: step.id, to: .completed, detail: outcome.map { "completed: \($0)" } ?? "completed")
                return run.finish(state: .completed, runAt: now)
            case .failure(let error):
                return fail(&run, error: error, maxAttempts: step.maxAttempts ?? defaultMaxAttempts, jitter: jitter)
            }
        }
        // Took maxSteps: hand the instance back as ready so others get a turn.
        if let last = run.events.last, last.toState == .running {
            run.events[run.events.count - 1].toState = .ready
        }
        return run.finish(state: .ready, runAt: now)
    }

    private func fail(_ run: inout Run, error: String, maxAttempts: Int, jitter: Double) -> Advance {
        let attempt = run.attempt + 1
        run.attempt = attempt
        run.lastError = error
        if attempt >= maxAttempts {
            run.record(step: run.step, to: .failed, detail: "failed after \(attempt) attempt(s)", error: error)
            return run.finish(state: .failed, runAt: run.now)
        }
        let backoff = min(maxBackoff, baseBackoff * pow(2, Double(attempt - 1))) * (0.5 + jitter)
        run.record(step: run.step, to: .ready, detail: "retry \(attempt) of \(maxAttempts - 1) in \(Int(backoff.rounded()))s", error: error)
        return run.finish(state: .ready, runAt: run.now.addingTimeInterval(backoff))
    }

    enum Outcome {
        case next(String, detail: String)
        /// Stay waiting; `detail` is recorded when the wait begins (nil when resuming an unexpired wait).
        case wait(detail: String?)
        /// Run this step again at the given time (an assign step waiting for working hours).
        case later(Date, detail: String)
        case end(String?)
        case failure(String)
    }

    private func perform(
        _ step: Step, _ run: inout Run, definition: WorkflowDefinition, directory: inout Directory,
        rotation: inout Rotation
    ) -> Outcome {
        switch step.action {
        case .assign(let assign, let next):
            let decision = Router.route(
                team: assign.team, strategy: assign.strategy, rules: assign.rules, otherwise: assign.otherwise,
                fallback: assign.fallback, contact: run.contact, directory: &directory, rotation: &rotation, now: run.now,
                workingHours: assign.workingHours)
            if case .later(let until, _, _) = decision { return .later(until, detail: run.describe(decision)) }
            if let error = run.apply(decision, directory: directory) { return .failure(error) }
            return .next(next, detail: run.describe(decision))

        case .notify(let notify, let next):
            let before = run.notifications.count
            let sent = run.notify(notify.to, channel: notify.channel, template: notify.message, subject: notify.subject,
                                  step: step.id, definition: definition, directory: directory)
            let suppressed = run.notifications[before...].filter(\.suppressed).count
            return .next(next, detail: "notified \(sent) via \(notify.channel)"
                         + (suppressed > 0 ? "; \(suppressed) suppressed: the contact has not consented" : ""))

        case .waitForSLA(let wait, let met, let breach):
            return performWait(wait, step: step.id, onMet: met, onBreach: breach, &run, directory: directory)

        case .escalate(let escalate, let next):
            var detail = "escalated"
            if let target = escalate.reassignTo {
                let decision = escalationDecision(target, run: run, directory: &directory, rotation: &rotation)
                if let error = run.apply(decision, directory: directory, reasonOverride: "sla_breach") { return .failure(error) }
                detail += ": " + run.describe(decision)
            }
            if let priority = escalate.priority { run.priority = max(run.priority, priority.rank) }
            let template = escalate.message
                ?? "Escalation for contact {{contact.id}} in {{workflow}} at {{step}}: owner is now {{owner.name}}."
            let sent = run.notify(escalate.notify, channel: escalate.channel, template: template, step: step.id,
                                  definition: definition, directory: directory)
            if sent > 0 { detail += "; notified \(sent)" }
            return .next(next, detail: detail)

        case .handoff(let handoff, let next):
            let decision = Router.route(
                team: handoff.team, strategy: handoff.strategy, fallback: handoff.fallback, contact: run.contact,
                directory: &directory, rotation: &rotation, now: run.now)
            if let error = run.apply(decision, directory: directory, reasonOverride: "handoff:\(handoff.reason)") {
                return .failure(error)
            }
            let template = handoff.message
                ?? "Contact {{contact.id}} handed off to {{team}} ({{reason}}): new owner {{owner.name}}."
            var staged = ""
            if let stage = handoff.stage, run.contact.lifecycle != stage {
                staged = "; stage \(run.contact.lifecycle ?? "-") -> \(stage)"
                run.stageChanges.append(StageChange(record: run.contact.id, from: run.contact.lifecycle, to: stage,
                                                    cause: "handoff \(handoff.reason)"))
                run.contact.lifecycle = stage
                run.contactChanged = true
            }
            let sent = run.notify(handoff.notify, channel: handoff.channel, template: template, step: step.id,
                                  definition: definition, directory: directory, reason: handoff.reason)
            return .next(next, detail: "handoff:\(handoff.reason): \(run.describe(decision))\(staged); notified \(sent)")

        case .branch(let branch):
            for (index, branchCase) in branch.cases.enumerated() where branchCase.when.matches(run.contact.attributes) {
                return .next(branchCase.next, detail: "branch: case \(index + 1) -> \(branchCase.next)")
            }
            return .next(branch.otherwise, detail: "branch: otherwise -> \(branch.otherwise)")

        case .goto(let target):
            return .next(target, detail: "goto \(target)")

        case .end(let end):
            return .end(end.outcome)
        }
    }

    /// A wait: begins (deadline on its clock), or resumes one this instance armed earlier (woken by
    /// a signal, its deadline, or a lease that expired). The signals it names are taken in the order
    /// they arrived, those that arrived before the wait began included (as of the wait's start):
    /// its `event` meets it; a `pause_on` event stops its clock, unless it is stopped already or the
    /// deadline had passed when the event arrived (then the wait breached, and the event is left for
    /// a later wait); a `resume_on` event starts a stopped clock again and moves the deadline by the
    /// paused time on the wait's clock (ignored when the clock runs). While the clock is stopped the
    /// wait cannot breach and its deadline wakes nothing (`Advance.neverDue`).
    private func performWait(
        _ wait: WaitForSLA, step: String, onMet met: String, onBreach breach: String, _ run: inout Run,
        directory: Directory
    ) -> Outcome {
        let resuming = run.step == run.instance.step && run.deadline != nil
        let clock = SLAClock(wait, calendars: directory.calendars)
        run.waitEvent = wait.event
        run.pauseEvents = wait.pauseEvents.isEmpty ? nil : wait.pauseEvents
        var begin: String?
        if !resuming {
            run.waitStartedAt = run.now
            let deadline = clock.deadline(from: run.now, adding: TimeInterval(wait.within.seconds))
            run.deadline = deadline
            run.pausedAt = nil
            run.pausedBy = nil
            run.pausedSeconds = 0
            begin = "waiting for \(wait.event) until \(iso(deadline)) (\(wait.within) \(wait.clock.rawValue))"
        }
        let started = run.waitStartedAt ?? run.now
        // The wait's first timeline entry comes before any pause of it.
        func began(_ run: inout Run) {
            if let text = begin { run.record(step: step, to: .waiting, detail: text) }
            begin = nil
        }
        let pauseOn = Set(wait.pauseOn ?? []), resumeOn = Set(wait.resumeOn ?? [])
        var pausesSettled = false
        for signal in run.pendingSignals
        where signal.name == wait.event || pauseOn.contains(signal.name) || resumeOn.contains(signal.name) {
            let at = max(signal.receivedAt, started)
            let early = signal.receivedAt < started ? ", received before the wait began" : ""
            if signal.name == wait.event {
                run.take(signal)
                if let pausedAt = run.pausedAt {
                    run.endPause(at: max(at, pausedAt), by: nil, step: step, clock: clock)
                }
                let seconds = Int(signal.receivedAt.timeIntervalSince(started).rounded())
                var detail = "sla_met: \(wait.event) (signal \(signal.id), \(max(0, seconds))s into the wait"
                if run.pausedSeconds > 0, let deadline = run.deadline {
                    detail += "; paused \(span(run.pausedSeconds))\(clock.calendar == nil ? "" : " of business hours")"
                    // In time on the paused clock, late on a clock that never stopped.
                    let budget = clock.seconds(from: started, to: deadline) - run.pausedSeconds
                    if signal.receivedAt <= deadline, clock.seconds(from: started, to: signal.receivedAt) > budget {
                        detail += "; \(Self.breachAvoided)"
                    }
                }
                return .next(met, detail: detail + ")")
            }
            if pausesSettled { continue }
            guard let deadline = run.deadline else { break }
            if pauseOn.contains(signal.name) {
                if run.pausedAt != nil {
                    run.take(signal)  // already paused: ignored
                } else if at >= deadline {
                    pausesSettled = true  // too late: the wait breached at its deadline
                } else {
                    run.take(signal)
                    began(&run)
                    run.pausedAt = at
                    run.pausedBy = signal.name
                    run.pauses.append(SLAPause(step: step, waitStartedAt: started, startedAt: at, pauseEvent: signal.name,
                                               deadlineBefore: deadline))
                    let left = clock.seconds(from: at, to: deadline)
                    run.record(step: step, to: .waiting, detail: "sla_paused: \(signal.name) (signal \(signal.id)\(early)); "
                               + "the clock stops with \(span(left)) left")
                }
            } else {
                run.take(signal)
                guard let pausedAt = run.pausedAt else { continue }  // not paused: ignored
                began(&run)
                let paused = run.endPause(at: max(at, pausedAt), by: signal.name, step: step, clock: clock)
                run.record(step: step, to: .waiting, detail: "sla_resumed: \(signal.name) (signal \(signal.id)\(early)) "
                           + "after \(span(paused))\(clock.calendar == nil ? "" : " of business hours") paused; "
                           + "deadline moves to \(iso(run.deadline ?? deadline))")
            }
        }
        began(&run)
        if let pausedAt = run.pausedAt, resumeOn.isEmpty {
            // Paused on a step that cannot resume (moved to a version whose wait has no resume_on):
            // the clock runs again now.
            let paused = run.endPause(at: max(run.now, pausedAt), by: nil, step: step, clock: clock)
            run.record(step: step, to: .waiting, detail: "sla_resumed: this wait has no resume_on "
                       + "after \(span(paused)) paused; deadline moves to \(iso(run.deadline ?? run.now))")
            if let deadline = run.deadline, run.now >= deadline {
                return .next(breach, detail: "sla_breached: no \(wait.event) by \(iso(deadline))")
            }
        }
        if run.pausedAt != nil { return .wait(detail: nil) }
        if let deadline = run.deadline, run.now >= deadline {
            return .next(breach, detail: "sla_breached: no \(wait.event) by \(iso(deadline))")
        }
        return .wait(detail: nil)
    }

    /// The words a met wait's timeline entry carries when only its pauses kept it in time.
    public static let breachAvoided = "breach avoided by pauses"

    private func escalationDecision(
        _ target: EscalationTarget, run: Run, directory: inout Directory, rotation: inout Rotation
    ) -> Router.Decision {
        let team = run.contact.team ?? ""
        switch target {
        case .backup:
            // The contact's backup owner, else the owner's backup, else the next in the team's rotation.
            let backup = run.contact.backupOwner ?? run.contact.owner.flatMap { directory.members[$0]?.backup }
            if let backup, backup != run.contact.owner, let info = directory.members[backup], info.isEligible(at: run.now) {
                directory.members[backup]?.openCount += 1
                return .member(backup, team: info.team, reason: "backup")
            }
            return nextInRotation(team: team, run: run, directory: &directory, rotation: &rotation)
        case .manager:
            if let manager = directory.teams[team]?.manager, let info = directory.members[manager], info.active {
                directory.members[manager]?.openCount += 1
                return .member(manager, team: info.team, reason: "manager")
            }
            return .fail("team \(team) has no active manager to escalate to")
        case .team(let name):
            return Router.route(team: name, strategy: .roundRobin, fallback: .queue, contact: run.contact,
                                directory: &directory, rotation: &rotation, now: run.now)
        case .nextInRotation:
            return nextInRotation(team: team, run: run, directory: &directory, rotation: &rotation)
        }
    }

    /// The next eligible member of the team's rotation other than the current owner (an escalation
    /// never hands the contact back to the owner who let it lapse); the team's queue when there is none.
    private func nextInRotation(
        team: String, run: Run, directory: inout Directory, rotation: inout Rotation
    ) -> Router.Decision {
        let owner = run.contact.owner.flatMap { id in directory.members[id].map { (id, $0) } }
        if let (id, _) = owner { directory.members[id]?.active = false }
        defer { if let (id, info) = owner { directory.members[id] = info } }
        return Router.route(team: team, strategy: .roundRobin, fallback: .queue, contact: run.contact,
                            directory: &directory, rotation: &rotation, now: run.now)
    }
}

func iso(_ date: Date) -> String { RFC3339.string(date) }

/// A clock time as a duration (`2h`, `1h30m`), rounded to the second.
func span(_ seconds: TimeInterval) -> String { TimeSpan(seconds: Int(seconds.rounded())).description }

/// The working state of one claim.
struct Run {
    let instance: InstanceSnapshot
    let now: Date
    var contact: ContactSnapshot
    var step: String
    var seq: Int
    var attempt: Int
    var priority: Int
    var waitEvent: String?
    var waitStartedAt: Date?
    var deadline: Date?
    var pauseEvents: [String]?
    var pausedAt: Date?
    var pausedBy: String?
    var pausedSeconds: TimeInterval
    var pauses: [SLAPause] = []
    var lastError: String?
    var outcome: String?
    var usedSignals: [Int] = []
    var pendingSignals: [PendingSignal]
    var contactChanged = false
    var queued = false
    var ownerChanges: [OwnerChange] = []
    var stageChanges: [StageChange] = []
    var notifications: [OutboundMessage] = []
    var events: [TimelineEvent] = []
    var currentState: InstanceState

    init(instance: InstanceSnapshot, now: Date) {
        self.instance = instance
        self.now = now
        currentState = instance.state
        contact = instance.contact
        step = instance.step
        seq = instance.seq
        attempt = instance.attempt
        priority = instance.priority
        waitStartedAt = instance.waitStartedAt
        deadline = instance.deadline
        pausedAt = instance.pausedAt
        pausedBy = instance.pausedBy
        pausedSeconds = instance.pausedSeconds
        pendingSignals = instance.pendingSignals.sorted { $0.id < $1.id }
    }

    /// Consumes one pending signal.
    mutating func take(_ signal: PendingSignal) {
        pendingSignals.removeAll { $0.id == signal.id }
        usedSignals.append(signal.id)
    }

    /// Ends the open pause at `end`: the deadline moves by the paused time on `clock`; returns it.
    @discardableResult
    mutating func endPause(at end: Date, by event: String?, step: String, clock: SLAClock) -> TimeInterval {
        guard let start = pausedAt, let before = deadline else { return 0 }
        let seconds = clock.seconds(from: start, to: end)
        let after = clock.moved(before, pausedAt: start, resumedAt: end)
        if let open = pauses.indices.last, pauses[open].endedAt == nil {
            pauses[open].endedAt = end
            pauses[open].resumeEvent = event
            pauses[open].seconds = seconds
            pauses[open].deadlineAfter = after
        } else {
            pauses.append(SLAPause(step: step, waitStartedAt: waitStartedAt ?? start, startedAt: start, endedAt: end,
                                   pauseEvent: pausedBy ?? "", resumeEvent: event, seconds: seconds,
                                   deadlineBefore: before, deadlineAfter: after, existing: true))
        }
        deadline = after
        pausedSeconds += seconds
        pausedAt = nil
        pausedBy = nil
        return seconds
    }

    mutating func record(step: String, to state: InstanceState, detail: String, error: String? = nil) {
        seq += 1
        events.append(TimelineEvent(seq: seq, step: step, fromState: currentState, toState: state,
                                    owner: contact.owner, attempt: attempt, detail: detail, error: error))
        currentState = state == .running ? .running : state
    }

    /// Applies a routing decision to the contact; returns an error for `.fail`.
    mutating func apply(_ decision: Router.Decision, directory: Directory, reasonOverride: String? = nil) -> String? {
        switch decision {
        case .fail(let error):
            return error
        case .later:
            return nil  // nothing changes until the step runs again
        case .queue(let team, let reason):
            if contact.owner != nil || contact.team != team {
                ownerChanges.append(OwnerChange(contact: contact.id, from: contact.owner, to: nil, team: team,
                                                reason: reasonOverride.map { "\($0) (\(reason))" } ?? reason))
                if contact.owner != nil { contact.previousOwner = contact.owner }
            }
            contact.owner = nil
            contact.team = team
            contact.backupOwner = nil
            queued = true
            contactChanged = true
            return nil
        case .member(let member, let team, let reason):
            let why = reasonOverride ?? reason
            if contact.owner != member {
                ownerChanges.append(OwnerChange(contact: contact.id, from: contact.owner, to: member, team: team, reason: why))
                contact.previousOwner = contact.owner
            }
            contact.owner = member
            contact.team = team
            contact.backupOwner = directory.members[member]?.backup
            queued = false
            contactChanged = true
            return nil
        }
    }

    func describe(_ decision: Router.Decision) -> String {
        switch decision {
        case .member(let member, let team, let reason): return "assigned \(member) in \(team) (\(reason))"
        case .queue(let team, let reason): return "queued in \(team) (\(reason))"
        case .fail(let error): return "failed: \(error)"
        case .later(_, let team, let reason): return "not assigned yet in \(team) (\(reason))"
        }
    }

    /// Writes one outbox message per resolved recipient; returns how many. `subject` (an email's
    /// subject template) is rendered with the same variables as the message.
    mutating func notify(
        _ recipients: [Recipient], channel: String, template: String, subject: String? = nil, step: String,
        definition: WorkflowDefinition, directory: Directory, reason: String? = nil
    ) -> Int {
        var ids: [String] = []
        var toContact = false
        for recipient in recipients {
            switch recipient {
            case .owner, .newOwner: if let o = contact.owner { ids.append(o) }
            case .backup: if let b = contact.backupOwner ?? contact.owner.flatMap({ directory.members[$0]?.backup }) { ids.append(b) }
            case .manager: if let team = contact.team, let m = directory.teams[team]?.manager { ids.append(m) }
            case .previousOwner: if let p = contact.previousOwner { ids.append(p) }
            case .team(let name):
                ids += (directory.teams[name]?.members ?? []).filter { directory.members[$0]?.active == true }
            case .member(let id): ids.append(id)
            case .contact: toContact = true
            }
        }
        var seen = Set<String>()
        ids = ids.filter { seen.insert($0).inserted }
        let base = values(step: step, definition: definition, directory: directory, reason: reason)
        let transition = seq + 1  // the event this step is about to record
        for (index, id) in ids.enumerated() {
            var vars = base
            let member = directory.members[id]
            vars["recipient.id"] = id
            vars["recipient.name"] = member?.name ?? id
            notifications.append(OutboundMessage(
                key: "i\(instance.id)-t\(transition)-r\(index)", step: step, channel: channel, recipient: id, email: member?.email,
                message: Template.render(template, vars), subject: subject.map { Template.render($0, vars) }, suppressed: false))
        }
        if toContact {
            // Consent: `consent.<channel type or name>` = false, or `consent` = false, suppresses the message.
            let consent = contact.attributes["consent.\(channel)"] ?? contact.attributes["consent.email"]
                ?? contact.attributes["consent"]
            let suppressed = consent.map { ["false", "no", "0"].contains($0.lowercased()) } ?? false
            notifications.append(OutboundMessage(
                key: "i\(instance.id)-t\(transition)-contact", step: step, channel: channel, recipient: "contact",
                email: contact.attributes["email"], message: Template.render(template, base),
                subject: subject.map { Template.render($0, base) }, suppressed: suppressed))
            return ids.count + (suppressed ? 0 : 1)
        }
        return ids.count
    }

    func values(step: String, definition: WorkflowDefinition, directory: Directory, reason: String?) -> [String: String] {
        var vars: [String: String] = [
            "contact.id": contact.id, "workflow": definition.name, "step": step, "instance": String(instance.id),
            "team": contact.team ?? "", "reason": reason ?? "",
        ]
        // Reserved names win: an attribute `id` (or `id.…`, which would turn `contact.id` into a
        // section) never replaces the contact's own id.
        for (key, value) in contact.attributes where key != "id" && !key.hasPrefix("id.") {
            vars["contact.\(key)"] = value
        }
        if vars["contact.name"] == nil { vars["contact.name"] = contact.id }
        func person(_ prefix: String, _ id: String?) {
            guard let id else { return }
            vars["\(prefix).id"] = id
            vars["\(prefix).name"] = directory.members[id]?.name ?? id
            vars["\(prefix).email"] = directory.members[id]?.email ?? ""
        }
        person("owner", contact.owner)
        person("new_owner", contact.owner)
        person("previous_owner", contact.previousOwner)
        // Before its wait begins, {{deadline}} names the deadline of the wait this path reaches next
        // ("first touch due …" in the message that announces the owner).
        if let due = deadline ?? upcomingWait(from: step, definition: definition, directory: directory)?.deadline {
            vars["deadline"] = iso(due)
        }
        if let event = waitEvent ?? upcomingWait(from: step, definition: definition, directory: directory)?.event {
            vars["event"] = event
        }
        return vars
    }

    /// The first wait_for_sla reached from `step` through plain transitions and branches (as the
    /// contact's attributes decide them), and when it would breach if it began now.
    func upcomingWait(from step: String, definition: WorkflowDefinition, directory: Directory) -> (event: String, deadline: Date)? {
        var current = step
        for _ in 0..<32 {
            guard let action = definition.step(current)?.action else { return nil }
            switch action {
            case .waitForSLA(let wait, _, _):
                if wait.clock == .businessHours, let name = wait.calendar, let calendar = directory.calendars[name] {
                    return (wait.event, BusinessClock.deadline(from: now, adding: wait.within.seconds, in: calendar))
                }
                return (wait.event, now.addingTimeInterval(TimeInterval(wait.within.seconds)))
            case .assign(_, let next), .notify(_, let next), .escalate(_, let next), .handoff(_, let next), .goto(let next):
                current = next
            case .branch(let branch):
                current = branch.cases.first { $0.when.matches(contact.attributes) }?.next ?? branch.otherwise
            case .end:
                return nil
            }
        }
        return nil
    }

    func finish(state: InstanceState, runAt: Date) -> Advance {
        Advance(
            instance: instance.id, fence: instance.fence, state: state, step: step, seq: seq, attempt: attempt,
            priority: priority,
            runAt: state == .waiting ? (pausedAt != nil ? Advance.neverDue : deadline ?? runAt) : runAt,
            waitEvent: state == .waiting ? waitEvent : nil, pauseEvents: state == .waiting ? pauseEvents : nil,
            waitStartedAt: state == .waiting ? waitStartedAt : nil, deadline: state == .waiting ? deadline : nil,
            paused: state == .waiting && pausedAt != nil, pauses: pauses,
            lastError: state == .completed ? nil : lastError, outcome: outcome, usedSignals: usedSignals,
            contact: contactChanged ? contact : nil, queued: queued, ownerChanges: ownerChanges,
            notifications: notifications, events: events, stageChanges: stageChanges)
    }
}
