import Foundation

/// Runs one contact through a workflow with the real `Machine` on a virtual clock: no database, no
/// sending, no waiting. Between steps the clock jumps to the next thing that would wake the
/// instance — a wait's deadline, an event from the events file, a retry's backoff.
///
/// The Machine is driven one step per call (`maxSteps: 1`), so every owner change and message is
/// attributed to the step that made it. Directory and rotation are `inout`, so a matrix of many
/// contacts routes them one after the other as live workers would (round robin moves on, open work
/// counts grow).
public struct Simulator: Sendable {
    public var definition: WorkflowDefinition
    /// Steps (and wait ends) recorded at most, against loops.
    public var stepLimit: Int
    private let machine: Machine

    public init(definition: WorkflowDefinition, stepLimit: Int = 500) {
        self.definition = definition
        self.stepLimit = stepLimit
        machine = Machine(maxSteps: 1)
    }

    /// Simulates `contact` enrolled at `start`, with `events` arriving as given. Events before
    /// `start` are ignored (a live instance only counts signals received after it was enrolled).
    public func run(
        contact: ContactSnapshot, start: Date, events: [SimulationEvent], directory: inout Directory,
        rotation: inout Rotation
    ) -> SimulationTrace {
        let signals = events.enumerated()
            .map { (id: $0.offset + 1, signal: SimulatedSignal(at: $0.element.time.resolve(from: start), event: $0.element.event)) }
            .filter { $0.signal.at >= start }
            .sorted { ($0.signal.at, $0.id) < ($1.signal.at, $1.id) }
        let byID = Dictionary(uniqueKeysWithValues: signals.map { ($0.id, $0.signal) })
        var consumed = Set<Int>()
        var instance = InstanceSnapshot(
            id: 1, workflow: definition.name, version: 1, contact: contact, state: .ready, step: definition.start,
            createdAt: start)
        var now = start
        var steps: [SimulatedStep] = []
        var note: String?
        var finalState = "waiting"
        var outcome: String?
        var waitStartedAt: Date?

        while true {
            if steps.count >= stepLimit {
                note = "stopped after \(stepLimit) steps (a loop?)"
                break
            }
            instance.pendingSignals = signals.filter { $0.signal.at <= now && !consumed.contains($0.id) }
                .map { PendingSignal(id: $0.id, name: $0.signal.event, receivedAt: $0.signal.at) }
            let advance = machine.advance(instance, definition: definition, directory: &directory, rotation: &rotation,
                                          now: now, jitter: 0.5)
            for event in advance.events {
                steps.append(describe(event, advance, contact: advance.contact ?? instance.contact, at: now, start: start,
                                      directory: directory, signals: byID))
            }
            consumed.formUnion(advance.usedSignals)
            instance.step = advance.step
            instance.seq = advance.seq
            instance.attempt = advance.attempt
            instance.priority = advance.priority
            instance.waitStartedAt = advance.waitStartedAt
            instance.deadline = advance.deadline
            instance.state = advance.state
            // The pause as the Store keeps it: open while the clock is stopped, summed once ended.
            if advance.state != .waiting || advance.waitStartedAt != waitStartedAt {
                instance.pausedSeconds = 0
            }
            waitStartedAt = advance.waitStartedAt
            for pause in advance.pauses { instance.pausedSeconds += pause.seconds ?? 0 }
            let open = advance.paused ? advance.pauses.last { $0.endedAt == nil } : nil
            if advance.paused {
                instance.pausedAt = open?.startedAt ?? instance.pausedAt
                instance.pausedBy = open?.pauseEvent ?? instance.pausedBy
            } else {
                instance.pausedAt = nil
                instance.pausedBy = nil
            }
            if let changed = advance.contact { instance.contact = changed }

            switch advance.state {
            case .completed, .failed, .cancelled:
                finalState = advance.state.rawValue
                outcome = advance.outcome
            case .ready, .running:
                now = max(now, advance.runAt)
                continue
            case .waiting:
                // Woken by the event it waits for, a pause_on or resume_on event, or its deadline
                // (none while its clock is stopped).
                let wakers = Set([advance.waitEvent].compactMap { $0 } + (advance.pauseEvents ?? []))
                let wake = signals.first { $0.signal.at > now && !consumed.contains($0.id) && wakers.contains($0.signal.event) }
                if advance.paused {
                    guard let wake else {
                        note = "the wait's clock is paused (\(instance.pausedBy ?? "paused")) and no resume_on event follows in the events file"
                        break
                    }
                    now = wake.signal.at
                    continue
                }
                let deadline = advance.deadline ?? advance.runAt
                if let wake, wake.signal.at < deadline {
                    now = wake.signal.at
                } else {
                    now = deadline
                }
                continue
            }
            break
        }

        var path: [String] = []
        for step in steps where path.last != step.step { path.append(step.step) }
        let result = SimulationResult(
            state: finalState, outcome: outcome, at: now, step: instance.step, path: path, owner: instance.contact.owner,
            team: instance.contact.team, breaches: steps.filter { $0.outcome == "sla_breached" }.map(\.step),
            met: steps.filter { $0.outcome == "sla_met" }.map(\.step), note: note)
        return SimulationTrace(
            workflow: definition.name, contact: contact.id, attributes: contact.attributes, start: start,
            events: signals.map(\.signal), steps: steps, result: result)
    }

    private func describe(
        _ event: TimelineEvent, _ advance: Advance, contact: ContactSnapshot, at now: Date, start: Date, directory: Directory,
        signals: [Int: SimulatedSignal]
    ) -> SimulatedStep {
        let action = definition.step(event.step)?.action
        let kind = action?.kind ?? "missing"
        var record = SimulatedStep(
            at: now, elapsed: Int(now.timeIntervalSince(start).rounded()), step: event.step, kind: kind, outcome: "",
            detail: event.detail, next: nil, owner: contact.owner,
            team: contact.team, priority: advance.priority, assignment: nil, messages: [], wait: nil, signal: nil, error: event.error)
        if let change = advance.ownerChanges.first {
            record.assignment = SimulatedAssignment(from: change.from, to: change.to, team: change.team, reason: change.reason)
        }
        record.messages = advance.notifications.map { message in
            let member = message.recipient == "contact" ? nil : directory.members[message.recipient]
            return SimulatedMessage(to: message.recipient, name: member?.name, email: message.email ?? member?.email,
                                    channel: message.channel, message: message.message, subject: message.subject,
                                    suppressed: message.suppressed)
        }
        let moved = event.toState == .ready || event.toState == .running
        switch event.toState {
        case .failed:
            record.outcome = "failed"
        case .ready where event.error != nil:
            record.outcome = "retry"
        case .completed:
            record.outcome = "completed"
        case .waiting where event.detail.hasPrefix("sla_paused"):
            record.outcome = "paused"
            record.signal = signalOf(event.detail, signals)
        case .waiting where event.detail.hasPrefix("sla_resumed"):
            record.outcome = "resumed"
            record.signal = signalOf(event.detail, signals)
        case .waiting:
            record.outcome = "waiting"
            if case .waitForSLA(let wait, _, _) = action, let deadline = advance.deadline {
                let calendar = wait.clock == .businessHours ? wait.calendar : nil
                record.wait = SimulatedWait(
                    event: wait.event, within: wait.within.description, clock: wait.clock.rawValue, calendar: calendar,
                    timezone: calendar.flatMap { directory.calendars[$0]?.timezone }, deadline: deadline)
            }
        default:
            switch action {
            case .assign: record.outcome = advance.queued ? "queued" : "assigned"
            case .notify: record.outcome = "notified"
            case .branch: record.outcome = "branched"
            case .goto: record.outcome = "went"
            case .escalate: record.outcome = "escalated"
            case .handoff: record.outcome = "handed_off"
            case .waitForSLA:
                record.outcome = event.detail.hasPrefix("sla_met") ? "sla_met" : "sla_breached"
                if record.outcome == "sla_met" { record.signal = signalOf(event.detail, signals) }
            case .end, nil: record.outcome = "completed"
            }
        }
        if moved, record.error == nil { record.next = advance.step }
        return record
    }

    /// The signal a pause or resume entry names (`(signal 3…`).
    private func signalOf(_ detail: String, _ signals: [Int: SimulatedSignal]) -> SimulatedSignal? {
        guard let range = detail.range(of: "(signal ") else { return nil }
        let digits = detail[range.upperBound...].prefix { $0.isNumber }
        return Int(digits).flatMap { signals[$0] }
    }
}
