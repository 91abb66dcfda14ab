import Yams

extension DefinitionLoader {
    /// Reads one step: exactly one kind, its transitions, its body.
    static func readStep(_ id: String, _ node: Node, _ r: NodeReader, _ known: KnownNames) -> StepRead {
        let path = "steps.\(id)"
        let issuesBefore = r.issues.count
        guard let f = r.fields(node, path, allowed: stepKeys,
                               expected: "a step (a mapping with one step kind, e.g. assign:, and where to go next)",
                               unknown: unknownStepKey)
        else { return StepRead(complete: false) }
        let reportedUnknown = r.issues.count > issuesBefore

        let kinds = f.pairs.filter { stepKinds.contains($0.key) }
        guard let kindPair = kinds.first else {
            if !reportedUnknown { r.issue(node, path, "the step has no kind; give one of: \(stepKinds.joined(separator: ", "))") }
            return StepRead(complete: false)
        }
        if kinds.count > 1 {
            r.issue(kinds[1].keyNode, path, "a step has exactly one kind, this one has \(kinds.map(\.key).joined(separator: " and ")) "
                    + "(split it into two steps)")
            return StepRead(complete: false)
        }
        let kind = kindPair.key
        var read = StepRead(kind: kind)
        let maxAttempts = r.int(f, "max_attempts", minimum: 1)

        // Transitions at the step level: which ones the kind takes, and which do not belong.
        let wanted: [String: String] = switch kind {
        case "wait_for_sla": ["on_met": " (the step after the event arrives in time)", "on_breach": " (the step after the deadline passes)"]
        case "assign", "notify", "escalate", "handoff": ["next": " (the step to go on to)"]
        default: [:]
        }
        var targets: [String: String] = [:]
        for pair in f.pairs where transitionKeys.contains(pair.key) && wanted[pair.key] == nil {
            let why = switch kind {
            case "wait_for_sla": "it goes on to on_met or on_breach"
            case "branch": "its cases and otherwise name the next steps"
            case "goto": "goto itself names the next step"
            case "end": "an end step finishes the instance"
            default: "only wait_for_sla has on_met and on_breach; use next"
            }
            r.issue(pair.keyNode, f.path(pair.key), "\"\(pair.key)\" does not belong in \("aeiou".contains(kind.first ?? "x") ? "an" : "a") \(kind) step (\(why))")
        }
        for key in transitionKeys {
            guard let hint = wanted[key] else { continue }
            if let target = r.string(f, key, required: true, hint: hint), let node = f[key] {
                targets[key] = target
                read.edges.append(.init(from: id, target: target, node: node, path: f.path(key)))
            } else {
                read.complete = false
            }
        }

        let body = kindPair.value
        let p = f.path(kind)
        let action: Action?
        switch kind {
        case "assign":
            action = readAssign(body, p, r, known).flatMap { a in targets["next"].map { .assign(a, next: $0) } }
        case "notify":
            action = readNotify(body, p, r, known).flatMap { n in targets["next"].map { .notify(n, next: $0) } }
        case "wait_for_sla":
            let wait = readWait(body, p, r, known)
            if let wait, let met = targets["on_met"], let breach = targets["on_breach"] {
                action = .waitForSLA(wait, onMet: met, onBreach: breach)
            } else {
                action = nil
            }
        case "escalate":
            action = readEscalate(body, p, r, known).flatMap { e in targets["next"].map { .escalate(e, next: $0) } }
        case "handoff":
            action = readHandoff(body, p, r, known).flatMap { h in targets["next"].map { .handoff(h, next: $0) } }
        case "branch":
            let branch = readBranch(id, body, p, r)
            read.edges += branch.edges
            read.complete = read.complete && branch.complete
            action = branch.value.map { .branch($0) }
        case "goto":
            if let target = r.text(body, p) {
                read.edges.append(.init(from: id, target: target, node: body, path: p))
                action = .goto(target)
            } else {
                read.complete = false
                action = nil
            }
        default:
            action = readEnd(body, p, r).map { .end($0) }
        }
        read.step = action.map { Step(id: id, action: $0, maxAttempts: maxAttempts) }
        return read
    }

    private static func unknownStepKey(_ key: String) -> String {
        if let kind = suggestion(for: key, in: stepKinds) { return "unknown step kind \"\(key)\" (did you mean \"\(kind)\"?)" }
        if let other = suggestion(for: key, in: stepKeys) { return "unknown key \"\(key)\" (did you mean \"\(other)\"?)" }
        return "unknown key \"\(key)\"; a step has one kind (\(stepKinds.joined(separator: ", "))) "
            + "and may have next, on_met, on_breach, max_attempts, description"
    }

    static func readAssign(_ node: Node, _ p: String, _ r: NodeReader, _ known: KnownNames) -> Assign? {
        guard let f = r.fields(node, p, allowed: ["team", "strategy", "rules", "otherwise", "fallback", "working_hours"])
        else { return nil }
        let team = r.string(f, "team", required: true, hint: " (the team whose members can own the contact)")
        if let team, let node = f["team"] { checkKnown(team, known.teams, node, f.path("team"), "team", r) }
        let strategy = f["strategy"] == nil ? .roundRobin : r.choice(f, "strategy", Strategy.self)
        let otherwise = r.choice(f, "otherwise", Strategy.self)
        if otherwise == .rules, let node = f["otherwise"] {
            r.issue(node, f.path("otherwise"), "otherwise is the strategy when no rule matches; it cannot be rules")
        }
        let fallback = f["fallback"] == nil ? .queue : r.choice(f, "fallback", Fallback.self)
        var rules: [Rule] = []
        var rulesOK = true
        if strategy == .rules {
            if let list = r.list(f, "rules", required: true, hint: " (strategy rules needs a list of rules, first match wins)") {
                if list.isEmpty, let node = f["rules"] { r.issue(node, f.path("rules"), "strategy rules needs at least one rule") }
                for (i, ruleNode) in list.enumerated() {
                    if let rule = readRule(ruleNode, "\(f.path("rules"))[\(i)]", r, known) { rules.append(rule) } else { rulesOK = false }
                }
            }
        } else if let strategy, let keyNode = f.keyNode("rules") {
            r.issue(keyNode, f.path("rules"), "rules are only used with strategy: rules (this step's strategy is \(strategy.rawValue))")
        }
        let workingHours = readWorkingHours(f, r)
        guard let team, let strategy, let fallback, rulesOK, let workingHours else { return nil }
        return Assign(team: team, strategy: strategy, rules: rules, otherwise: otherwise, fallback: fallback,
                      workingHours: workingHours)
    }

    /// `working_hours: true | false | wait`; `.some(nil)` when absent or false, nil when malformed.
    private static func readWorkingHours(_ f: Fields, _ r: NodeReader) -> WorkingHours?? {
        guard let node = f["working_hours"], case .scalar(let scalar) = node else {
            if let node = f["working_hours"] {
                r.issue(node, f.path("working_hours"), "expected true, false or wait")
                return nil
            }
            return .some(nil)
        }
        switch scalar.string.lowercased() {
        case "true": return .some(.skip)
        case "false": return .some(nil)
        case "wait": return .some(.wait)
        default:
            r.issue(node, f.path("working_hours"), "unknown value \"\(scalar.string)\"; one of: true (skip members outside "
                    + "their hours, then the fallback), false, wait (wait until the first member's day begins)")
            return nil
        }
    }

    private static func readRule(_ node: Node, _ p: String, _ r: NodeReader, _ known: KnownNames) -> Rule? {
        guard let f = r.fields(node, p, allowed: ["name", "when", "team", "member"],
                               expected: "a rule (a mapping with when and team or member)")
        else { return nil }
        let name = r.string(f, "name")
        var when: Condition?
        if let whenNode = f["when"] { when = readCondition(whenNode, f.path("when"), r) } else { r.missing(f, "when", " (the condition the rule tests)") }
        let team = r.string(f, "team")
        let member = r.string(f, "member")
        if f["team"] == nil, f["member"] == nil {
            r.issue(node, p, "a rule picks a team or a member: give \"team\" or \"member\"")
        } else if f["team"] != nil, f["member"] != nil, let node = f["member"] {
            r.issue(node, f.path("member"), "a rule picks a team or a member, not both: remove \"team\" or \"member\"")
        }
        if let team, let node = f["team"] { checkKnown(team, known.teams, node, f.path("team"), "team", r) }
        if let member, let node = f["member"] { checkKnown(member, known.members, node, f.path("member"), "member", r) }
        guard let when, team != nil || member != nil else { return nil }
        return Rule(name: name, when: when, team: team, member: member)
    }

    static let recipientForms = ["owner", "backup", "manager", "previous_owner", "new_owner", "contact", "team:NAME", "member:ID"]

    /// A list of recipients (or one), each checked against the known teams and members.
    static func readRecipients(_ f: Fields, _ key: String, _ r: NodeReader, _ known: KnownNames, required: Bool = false)
        -> [Recipient]?
    {
        guard let items = r.strings(f, key, required: required) else { return f[key] == nil && !required ? [] : nil }
        var recipients: [Recipient] = []
        var ok = true
        for item in items {
            guard let recipient = Recipient(parsing: item.text) else {
                r.issue(item.node, item.path, "unknown recipient \"\(item.text)\"\(didYouMean(item.text, recipientForms)); "
                        + "one of: \(recipientForms.joined(separator: ", "))")
                ok = false
                continue
            }
            if case .team(let team) = recipient { checkKnown(team, known.teams, item.node, item.path, "team", r) }
            if case .member(let member) = recipient { checkKnown(member, known.members, item.node, item.path, "member", r) }
            recipients.append(recipient)
        }
        if required, ok, recipients.isEmpty, let node = f[key] {
            r.issue(node, f.path(key), "give at least one recipient: \(recipientForms.joined(separator: ", "))")
        }
        return ok ? recipients : nil
    }

    /// A channel name (default `log`), checked against the known channels.
    static func readChannel(_ f: Fields, _ r: NodeReader, _ known: KnownNames) -> String? {
        guard f["channel"] != nil else { return "log" }
        guard let name = r.string(f, "channel"), let node = f["channel"] else { return nil }
        if name != "log" { checkKnown(name, known.channels, node, f.path("channel"), "channel", r) }
        return name
    }

    /// An optional message template, checked.
    static func readMessage(_ f: Fields, _ r: NodeReader, required: Bool = false) -> (ok: Bool, message: String?) {
        guard f["message"] != nil || required else { return (true, nil) }
        guard let message = r.string(f, "message", required: required), let node = f["message"] else { return (false, nil) }
        return (checkTemplate(message, node, f.path("message"), r), message)
    }

    static func readNotify(_ node: Node, _ p: String, _ r: NodeReader, _ known: KnownNames) -> Notify? {
        guard let f = r.fields(node, p, allowed: ["to", "channel", "message", "subject"]) else { return nil }
        let to = readRecipients(f, "to", r, known, required: true)
        let channel = readChannel(f, r, known)
        let message = readMessage(f, r, required: true)
        let subject = readNotifySubject(f, channel: channel, r, known)
        guard let to, let channel, message.ok, let text = message.message, subject.ok else { return nil }
        return Notify(to: to, channel: channel, message: text, subject: subject.subject)
    }

    /// A notify step's optional `subject:`: a template like its message, for an email channel only
    /// (another channel has no subject to put it in, and a subject nobody sees is a mistake worth
    /// naming). Checked against the channels' types when they are known.
    static func readNotifySubject(_ f: Fields, channel: String?, _ r: NodeReader, _ known: KnownNames) -> (ok: Bool, subject: String?) {
        guard let node = f["subject"] else { return (true, nil) }
        guard let subject = r.string(f, "subject") else { return (false, nil) }
        guard checkTemplate(subject, node, f.path("subject"), r) else { return (false, nil) }
        if subject.trimmingCharacters(in: .whitespaces).isEmpty {
            r.issue(node, f.path("subject"), "an empty subject; leave subject out to use the channel's own")
            return (false, nil)
        }
        if let channel, channel == "log" || known.emailChannels.map({ !$0.contains(channel) }) == true {
            r.issue(node, f.path("subject"), "only a notify to an email channel has a subject, and channel \(channel) is not one"
                    + " (put the subject's words in the message, or send to an email channel)")
            return (false, nil)
        }
        return (true, subject)
    }

    static func readWait(_ node: Node, _ p: String, _ r: NodeReader, _ known: KnownNames) -> WaitForSLA? {
        guard let f = r.fields(node, p, allowed: ["event", "within", "clock", "calendar", "pause_on", "resume_on"])
        else { return nil }
        let event = r.string(f, "event", required: true, hint: " (the signal to wait for, e.g. first_touch)")
        let within = r.duration(f, "within", required: true, hint: " (a wait needs a deadline, e.g. within: 4h)")
        let clock = f["clock"] == nil ? .wall : r.choice(f, "clock", ClockKind.self)
        let calendar = r.string(f, "calendar")
        if clock == .businessHours, f["calendar"] == nil {
            r.missing(f, "calendar", " (clock business_hours counts the hours of a calendar: name one)")
        }
        if let calendar, let node = f["calendar"] { checkKnown(calendar, known.calendars, node, f.path("calendar"), "calendar", r) }
        let pauses = readPauseEvents(f, event: event, r)
        guard let event, let within, let clock, clock == .wall || calendar != nil, let pauses else { return nil }
        return WaitForSLA(event: event, within: within, clock: clock, calendar: calendar, pauseOn: pauses.pauseOn,
                          resumeOn: pauses.resumeOn)
    }

    /// `pause_on:` and `resume_on:` of a wait: lists of event names (or one name), each event in one
    /// role only (not both lists, not the wait's own `event`), and neither list without the other.
    /// Nil when something is wrong (reported with file, line and field).
    private static func readPauseEvents(_ f: Fields, event: String?, _ r: NodeReader) -> (pauseOn: [String], resumeOn: [String])? {
        let issuesBefore = r.issues.count
        let pauseOn = f["pause_on"] == nil ? [] : r.strings(f, "pause_on")
        let resumeOn = f["resume_on"] == nil ? [] : r.strings(f, "resume_on")
        guard let pauseOn, let resumeOn else { return nil }
        if !pauseOn.isEmpty, resumeOn.isEmpty {
            r.missing(f, "resume_on", " (pause_on stops the clock; name the events that start it again, e.g. resume_on: [customer_replied])")
        }
        if pauseOn.isEmpty, !resumeOn.isEmpty, let node = f.keyNode("resume_on") {
            r.issue(node, f.path("resume_on"), "resume_on without pause_on: nothing ever stops the clock (add pause_on: [EVENT])")
        }
        if let node = f["pause_on"], pauseOn.isEmpty, case .sequence = node {
            r.issue(node, f.path("pause_on"), "pause_on is an empty list (name at least one event, or leave pause_on out)")
        }
        var seen: [String: String] = [:]
        if let event { seen[event] = "event" }
        for (list, key) in [(pauseOn, "pause_on"), (resumeOn, "resume_on")] {
            for item in list {
                if let role = seen[item.text] {
                    let what = role == key ? "twice in \(key)" : role == "event" ? "the event this wait is met by" : "also in \(role)"
                    r.issue(item.node, item.path, "event \"\(item.text)\" is \(what); an event can stop the clock, start it again "
                            + "or meet the wait, only one of them")
                } else {
                    seen[item.text] = key
                }
            }
        }
        guard r.issues.count == issuesBefore else { return nil }
        return (pauseOn.map(\.text), resumeOn.map(\.text))
    }

    static func readEscalate(_ node: Node, _ p: String, _ r: NodeReader, _ known: KnownNames) -> Escalate? {
        guard let f = r.fields(node, p, allowed: ["reassign_to", "notify", "priority", "channel", "message"]) else { return nil }
        var target: EscalationTarget?
        var targetOK = true
        if let targetNode = f["reassign_to"] {
            if let text = r.string(f, "reassign_to") {
                target = EscalationTarget(parsing: text)
                if target == nil {
                    let forms = ["backup", "manager", "team:NAME", "next_in_rotation"]
                    r.issue(targetNode, f.path("reassign_to"),
                            "unknown value \"\(text)\"\(didYouMean(text, forms)); one of: \(forms.joined(separator: ", "))")
                }
                if case .team(let team)? = target { checkKnown(team, known.teams, targetNode, f.path("reassign_to"), "team", r) }
            }
            targetOK = target != nil
        }
        let notify = readRecipients(f, "notify", r, known)
        let priority = r.choice(f, "priority", Priority.self)
        let channel = readChannel(f, r, known)
        let message = readMessage(f, r)
        guard targetOK, let notify, priority != nil || f["priority"] == nil, let channel, message.ok else { return nil }
        return Escalate(reassignTo: target, notify: notify, priority: priority, channel: channel, message: message.message)
    }

    static func readHandoff(_ node: Node, _ p: String, _ r: NodeReader, _ known: KnownNames) -> Handoff? {
        guard let f = r.fields(node, p, allowed: ["team", "strategy", "reason", "notify", "channel", "message", "fallback", "stage"])
        else { return nil }
        let team = r.string(f, "team", required: true, hint: " (the team that takes the contact over)")
        if let team, let node = f["team"] { checkKnown(team, known.teams, node, f.path("team"), "team", r) }
        var strategy = f["strategy"] == nil ? .roundRobin : r.choice(f, "strategy", Strategy.self)
        if strategy == .rules, let node = f["strategy"] {
            let others = Strategy.allCases.filter { $0 != .rules }.map(\.rawValue).joined(separator: ", ")
            r.issue(node, f.path("strategy"), "a handoff has no rules; use one of: \(others) (or an assign step with rules)")
            strategy = nil
        }
        let reason = f["reason"] == nil ? "handoff" : r.string(f, "reason")
        let notify = readRecipients(f, "notify", r, known)
        let channel = readChannel(f, r, known)
        let message = readMessage(f, r)
        let fallback = f["fallback"] == nil ? .queue : r.choice(f, "fallback", Fallback.self)
        let stage = r.string(f, "stage")
        if let stage, let node = f["stage"], !known.stages.contains(stage) {
            r.issue(node, f.path("stage"), "unknown lifecycle stage \"\(stage)\"\(didYouMean(stage, known.stages)); "
                    + "one of: \(known.stages.joined(separator: ", ")) (the team file's lifecycle: names them; a workflow's lifecycle: lists its own)")
        }
        guard let team, let strategy, let reason, let notify, let channel, message.ok, let fallback,
              f["stage"] == nil || stage.map(known.stages.contains) == true else { return nil }
        return Handoff(team: team, strategy: strategy, reason: reason, notify: notify, channel: channel,
                       message: message.message, fallback: fallback, stage: stage)
    }

    static func readBranch(_ id: String, _ node: Node, _ p: String, _ r: NodeReader)
        -> (value: Branch?, edges: [StepGraph.Edge], complete: Bool)
    {
        guard let f = r.fields(node, p, allowed: ["cases", "otherwise"]) else { return (nil, [], false) }
        var edges: [StepGraph.Edge] = []
        var complete = true
        var cases: [Branch.Case] = []
        var casesOK = true
        if let list = r.list(f, "cases", required: true, hint: " (a list of { when: CONDITION, next: STEP }, first match wins)") {
            if list.isEmpty, let node = f["cases"] { r.issue(node, f.path("cases"), "a branch needs at least one case") }
            for (i, caseNode) in list.enumerated() {
                let cp = "\(f.path("cases"))[\(i)]"
                guard let cf = r.fields(caseNode, cp, allowed: ["when", "next"], expected: "a case (a mapping with when and next)") else {
                    casesOK = false
                    complete = false
                    continue
                }
                var when: Condition?
                if let whenNode = cf["when"] { when = readCondition(whenNode, cf.path("when"), r) } else { r.missing(cf, "when") }
                let next = r.string(cf, "next", required: true, hint: " (the step when the condition holds)")
                if let next, let node = cf["next"] { edges.append(.init(from: id, target: next, node: node, path: cf.path("next"))) }
                else { complete = false }
                if let when, let next { cases.append(.init(when: when, next: next)) } else { casesOK = false }
            }
        } else {
            casesOK = false
        }
        let otherwise = r.string(f, "otherwise", required: true, hint: " (the step when no case matches)")
        if let otherwise, let node = f["otherwise"] {
            edges.append(.init(from: id, target: otherwise, node: node, path: f.path("otherwise")))
        } else {
            complete = false
        }
        guard casesOK, let otherwise else { return (nil, edges, complete) }
        return (Branch(cases: cases, otherwise: otherwise), edges, complete)
    }

    /// `end: {}`, `end:` or `end: { outcome: NAME }`.
    static func readEnd(_ node: Node, _ p: String, _ r: NodeReader) -> End? {
        if r.isNull(node) { return End() }
        guard let f = r.fields(node, p, allowed: ["outcome"], expected: "{} or { outcome: NAME }") else { return nil }
        guard f["outcome"] != nil else { return End() }
        return r.string(f, "outcome").map { End(outcome: $0) }
    }
}
