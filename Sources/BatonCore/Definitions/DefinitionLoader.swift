import Foundation
import Yams

/// Parses and validates the files sales ops write; every mistake in a file is reported at once.
public enum DefinitionLoader {
    static let stepKinds = ["assign", "notify", "wait_for_sla", "escalate", "handoff", "branch", "goto", "end"]
    static let stepKeys = stepKinds + ["next", "on_met", "on_breach", "max_attempts", "description"]
    static let templateNames = [
        "contact.id", "contact.name", "owner.id", "owner.name", "owner.email", "previous_owner.id",
        "previous_owner.name", "previous_owner.email", "new_owner.id", "new_owner.name", "new_owner.email",
        "recipient.id", "recipient.name", "team", "workflow", "step", "instance", "deadline", "event", "reason",
    ]

    /// A workflow file (YAML or JSON). Throws `DefinitionErrors` listing every mistake.
    public static func workflow(from text: String, file: String, known: KnownNames = KnownNames()) throws -> WorkflowDefinition {
        let reader = NodeReader(file: file)
        let definition = parseWorkflow(reader.compose(text), reader, known)
        guard reader.issues.isEmpty, let definition else { throw DefinitionErrors(issues: reader.issues) }
        return definition
    }

    private static func parseWorkflow(_ root: Node?, _ r: NodeReader, _ known: KnownNames) -> WorkflowDefinition? {
        guard let root, let top = r.mapping(root, "", allowed: ["name", "description", "start", "steps"]) else { return nil }
        let field = Dictionary(top.map { ($0.key, $0.node) }, uniquingKeysWith: { a, _ in a })
        let name = field["name"].flatMap { r.string($0, "name") }
        if field["name"] == nil { r.missing(root, "", "name") }
        let description = field["description"].flatMap { r.string($0, "description") }
        let start = field["start"].flatMap { r.string($0, "start") }
        if field["start"] == nil { r.missing(root, "", "start", " (the id of the first step)") }
        guard let stepsNode = field["steps"] else {
            r.missing(root, "", "steps")
            return nil
        }
        guard let stepPairs = r.mapping(stepsNode, "steps") else { return nil }
        if stepPairs.isEmpty { r.issue(stepsNode, "steps", "the workflow has no steps (an empty workflow)") }
        var steps: [Step] = []
        var stepNodes: [String: Node] = [:]
        for (id, node, keyNode) in stepPairs {
            stepNodes[id] = keyNode
            if let step = parseStep(id, node, r, known) { steps.append(step) }
        }
        // Transitions name existing steps.
        let ids = stepPairs.map(\.key)
        if let start, let startNode = field["start"], !ids.contains(start) {
            r.issue(startNode, "start", "unknown step \"\(start)\"\(didYouMean(start, ids))")
        }
        for (id, node, _) in stepPairs {
            guard case .mapping(let mapping) = node else { continue }
            for (keyNode, value) in mapping {
                guard let key = keyNode.string else { continue }
                checkTargets(key, value, path: "steps.\(id)", ids: ids, r)
            }
        }
        guard let name, let start, r.issues.isEmpty else { return nil }
        let definition = WorkflowDefinition(name: name, description: description, start: start, steps: steps)
        checkGraph(definition, stepNodes, r)
        return definition
    }

    /// Reports transitions (next, on_met, on_breach, goto, branch cases and otherwise) to unknown steps.
    private static func checkTargets(_ key: String, _ value: Node, path: String, ids: [String], _ r: NodeReader) {
        func check(_ node: Node, _ p: String) {
            guard let target = node.string, !ids.contains(target) else { return }
            r.issue(node, p, "unknown step \"\(target)\"\(didYouMean(target, ids))")
        }
        switch key {
        case "next", "on_met", "on_breach", "goto": check(value, "\(path).\(key)")
        case "branch":
            guard case .mapping(let branch) = value else { return }
            if let otherwise = branch["otherwise"] { check(otherwise, "\(path).branch.otherwise") }
            if case .sequence(let cases)? = branch["cases"] {
                for (i, c) in cases.enumerated() {
                    if case .mapping(let m) = c, let next = m["next"] { check(next, "\(path).branch.cases[\(i)].next") }
                }
            }
        default: break
        }
    }

    /// Unreachable steps, and cycles with no wait in them (they would spin forever).
    private static func checkGraph(_ definition: WorkflowDefinition, _ nodes: [String: Node], _ r: NodeReader) {
        var reachable: Set<String> = [definition.start]
        var queue = [definition.start]
        while let id = queue.popLast() {
            for next in definition.step(id)?.successors ?? [] where reachable.insert(next).inserted { queue.append(next) }
        }
        for step in definition.steps where !reachable.contains(step.id) {
            r.issue(nodes[step.id], "steps.\(step.id)", "unreachable: no transition leads here from \"\(definition.start)\"")
        }
        // A cycle among non-wait steps: depth-first search over the graph without wait_for_sla steps.
        func isWait(_ id: String) -> Bool { if case .waitForSLA? = definition.step(id)?.action { return true }; return false }
        var color: [String: Int] = [:]  // 1 = on stack, 2 = done
        var reported = Set<String>()
        func visit(_ id: String, _ stack: [String]) {
            color[id] = 1
            for next in definition.step(id)?.successors ?? [] where !isWait(next) {
                if color[next] == 1 {
                    let cycle = Array(stack.drop { $0 != next }) + [id, next]
                    let loop = cycle.reduce(into: [String]()) { if $0.last != $1 { $0.append($1) } }
                    if reported.insert(next).inserted {
                        r.issue(nodes[next], "steps.\(next)",
                                "a loop with no wait in it: \(loop.joined(separator: " -> ")) (add a wait_for_sla to the loop)")
                    }
                } else if color[next] == nil {
                    visit(next, stack + [id])
                }
            }
            color[id] = 2
        }
        for step in definition.steps where !isWait(step.id) && color[step.id] == nil { visit(step.id, []) }
    }

    private static func parseStep(_ id: String, _ node: Node, _ r: NodeReader, _ known: KnownNames) -> Step? {
        let path = "steps.\(id)"
        guard let pairs = r.mapping(node, path, allowed: stepKeys) else { return nil }
        let field = Dictionary(pairs.map { ($0.key, $0.node) }, uniquingKeysWith: { a, _ in a })
        let kinds = pairs.filter { stepKinds.contains($0.key) }
        guard kinds.count == 1, let only = kinds.first else {
            r.issue(node, path, kinds.isEmpty
                    ? "the step has no kind: give one of \(stepKinds.joined(separator: ", "))"
                    : "the step has \(kinds.count) kinds (\(kinds.map(\.key).joined(separator: ", "))); give exactly one")
            return nil
        }
        let (kind, body) = (only.key, only.node)
        let maxAttempts = field["max_attempts"].flatMap { r.int($0, "\(path).max_attempts", minimum: 1) }
        func transition(_ key: String, _ hint: String = "") -> String? {
            guard let value = field[key] else { r.missing(node, path, key, hint); return nil }
            return r.string(value, "\(path).\(key)")
        }
        let p = "\(path).\(kind)"
        let action: Action?
        switch kind {
        case "assign":
            let assign = parseAssign(body, p, r, known)
            let next = transition("next")
            action = assign.flatMap { a in next.map { .assign(a, next: $0) } }
        case "notify":
            let notify = parseNotify(body, p, r, known)
            let next = transition("next")
            action = notify.flatMap { n in next.map { .notify(n, next: $0) } }
        case "wait_for_sla":
            let wait = parseWait(body, p, r, known)
            let met = transition("on_met", " (the step after the event arrives in time)")
            let breach = transition("on_breach", " (the step after the deadline passes)")
            if let wait, let met, let breach { action = .waitForSLA(wait, onMet: met, onBreach: breach) } else { action = nil }
        case "escalate":
            let escalate = parseEscalate(body, p, r, known)
            let next = transition("next")
            action = escalate.flatMap { e in next.map { .escalate(e, next: $0) } }
        case "handoff":
            let handoff = parseHandoff(body, p, r, known)
            let next = transition("next")
            action = handoff.flatMap { h in next.map { .handoff(h, next: $0) } }
        case "branch":
            action = parseBranch(body, p, r).map { .branch($0) }
        case "goto":
            action = r.string(body, p).map { .goto($0) }
        default:  // end
            var outcome: String?
            if case .mapping = body, let pairs = r.mapping(body, p, allowed: ["outcome"]) {
                outcome = pairs.first.flatMap { r.string($0.node, "\(p).outcome") }
            } else if case .scalar(let s) = body, !s.string.isEmpty, s.string != "~" {
                r.issue(body, p, "end takes {} or {outcome: NAME}")
            }
            action = .end(End(outcome: outcome))
        }
        return action.map { Step(id: id, action: $0, maxAttempts: maxAttempts) }
    }

    private static func checkKnown(_ name: String, _ set: Set<String>?, _ node: Node?, _ path: String, _ what: String, _ r: NodeReader) {
        guard let set, !set.contains(name) else { return }
        let hint = set.isEmpty ? " (none are stored yet: apply the \(what == "channel" ? "channel" : "team") file first)"
            : didYouMean(name, set.sorted())
        r.issue(node, path, "unknown \(what) \"\(name)\"\(hint)")
    }

    private static func parseAssign(_ node: Node, _ p: String, _ r: NodeReader, _ known: KnownNames) -> Assign? {
        guard let pairs = r.mapping(node, p, allowed: ["team", "strategy", "rules", "otherwise", "fallback"]) else { return nil }
        let f = Dictionary(pairs.map { ($0.key, $0.node) }, uniquingKeysWith: { a, _ in a })
        let team = f["team"].flatMap { r.string($0, "\(p).team") }
        if f["team"] == nil { r.missing(node, p, "team") }
        if let team { checkKnown(team, known.teams, f["team"], "\(p).team", "team", r) }
        let strategy = f["strategy"].map { r.choice($0, "\(p).strategy", Strategy.self) } ?? .roundRobin
        let otherwise = f["otherwise"].flatMap { r.choice($0, "\(p).otherwise", Strategy.self) }
        let fallback = f["fallback"].map { r.choice($0, "\(p).fallback", Fallback.self) } ?? .queue
        var rules: [Rule] = []
        if let rulesNode = f["rules"], let list = r.list(rulesNode, "\(p).rules") {
            for (i, ruleNode) in list.enumerated() {
                if let rule = parseRule(ruleNode, "\(p).rules[\(i)]", r, known) { rules.append(rule) }
            }
        }
        if strategy == .rules && f["rules"] == nil { r.missing(node, p, "rules", " (strategy rules needs a list of rules)") }
        guard let team, let strategy, let fallback else { return nil }
        return Assign(team: team, strategy: strategy, rules: rules, otherwise: otherwise, fallback: fallback)
    }

    private static func parseRule(_ node: Node, _ p: String, _ r: NodeReader, _ known: KnownNames) -> Rule? {
        guard let pairs = r.mapping(node, p, allowed: ["name", "when", "team", "member"]) else { return nil }
        let f = Dictionary(pairs.map { ($0.key, $0.node) }, uniquingKeysWith: { a, _ in a })
        let when = f["when"].flatMap { parseCondition($0, "\(p).when", r) }
        if f["when"] == nil { r.missing(node, p, "when") }
        let team = f["team"].flatMap { r.string($0, "\(p).team") }
        let member = f["member"].flatMap { r.string($0, "\(p).member") }
        if (f["team"] == nil) == (f["member"] == nil) { r.issue(node, p, "a rule picks exactly one of \"team\" or \"member\"") }
        if let team { checkKnown(team, known.teams, f["team"], "\(p).team", "team", r) }
        if let member { checkKnown(member, known.members, f["member"], "\(p).member", "member", r) }
        guard let when else { return nil }
        return Rule(name: f["name"].flatMap { r.string($0, "\(p).name") }, when: when, team: team, member: member)
    }

    static let operators = ["in", "not_in", "prefix", "gte", "lte", "exists"]

    static func parseCondition(_ node: Node, _ p: String, _ r: NodeReader) -> Condition? {
        guard let pairs = r.mapping(node, p) else { return nil }
        var clauses: [Condition.Clause] = []
        for (attribute, value, _) in pairs {
            let ap = "\(p).\(attribute)"
            if case .scalar(let s) = value {
                clauses.append(.init(attribute: attribute, tests: [.equals(s.string)]))
                continue
            }
            guard let ops = r.mapping(value, ap, allowed: operators) else { continue }
            var tests: [Condition.Test] = []
            for (op, operand, _) in ops {
                let op_ = "\(ap).\(op)"
                switch op {
                case "in": if let v = r.strings(operand, op_) { tests.append(.oneOf(v)) }
                case "not_in": if let v = r.strings(operand, op_) { tests.append(.noneOf(v)) }
                case "prefix": if let v = r.string(operand, op_) { tests.append(.prefix(v)) }
                case "gte", "lte":
                    guard let text = operand.string, let number = Double(text) else { r.issue(operand, op_, "expected a number"); continue }
                    tests.append(op == "gte" ? .atLeast(number) : .atMost(number))
                default: if let v = r.bool(operand, op_) { tests.append(.exists(v)) }
                }
            }
            clauses.append(.init(attribute: attribute, tests: tests))
        }
        return Condition(clauses)
    }

    private static func recipients(_ node: Node?, _ p: String, _ r: NodeReader, _ known: KnownNames) -> [Recipient] {
        guard let node, let texts = r.strings(node, p) else { return [] }
        let allowed = ["owner", "backup", "manager", "previous_owner", "new_owner", "contact", "team:NAME", "member:ID"]
        return texts.compactMap { text in
            guard let recipient = Recipient(parsing: text) else {
                r.issue(node, p, "unknown recipient \"\(text)\"\(didYouMean(text, allowed)); one of: \(allowed.joined(separator: ", "))")
                return nil
            }
            if case .team(let team) = recipient { checkKnown(team, known.teams, node, p, "team", r) }
            if case .member(let member) = recipient { checkKnown(member, known.members, node, p, "member", r) }
            return recipient
        }
    }

    private static func channel(_ node: Node?, _ p: String, _ r: NodeReader, _ known: KnownNames) -> String {
        guard let node, let name = r.string(node, p) else { return "log" }
        if name != "log" { checkKnown(name, known.channels, node, p, "channel", r) }
        return name
    }

    private static func checkTemplate(_ text: String, _ node: Node?, _ p: String, _ r: NodeReader) {
        var rest = text[...]
        while let open = rest.range(of: "{{"), let close = rest[open.upperBound...].range(of: "}}") {
            var name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            rest = rest[close.upperBound...]
            if let first = name.first, "#/^!&".contains(first) { name.removeFirst(); name = name.trimmingCharacters(in: .whitespaces) }
            if name.hasPrefix("contact.") || templateNames.contains(name) || name.isEmpty { continue }
            r.issue(node, p, "unknown template variable \"{{\(name)}}\"\(didYouMean(name, templateNames))")
        }
    }

    private static func parseNotify(_ node: Node, _ p: String, _ r: NodeReader, _ known: KnownNames) -> Notify? {
        guard let pairs = r.mapping(node, p, allowed: ["to", "channel", "message"]) else { return nil }
        let f = Dictionary(pairs.map { ($0.key, $0.node) }, uniquingKeysWith: { a, _ in a })
        if f["to"] == nil { r.missing(node, p, "to") }
        if f["message"] == nil { r.missing(node, p, "message") }
        let to = recipients(f["to"], "\(p).to", r, known)
        let message = f["message"].flatMap { r.string($0, "\(p).message") }
        if let message { checkTemplate(message, f["message"], "\(p).message", r) }
        guard let message else { return nil }
        return Notify(to: to, channel: channel(f["channel"], "\(p).channel", r, known), message: message)
    }

    private static func parseWait(_ node: Node, _ p: String, _ r: NodeReader, _ known: KnownNames) -> WaitForSLA? {
        guard let pairs = r.mapping(node, p, allowed: ["event", "within", "clock", "calendar"]) else { return nil }
        let f = Dictionary(pairs.map { ($0.key, $0.node) }, uniquingKeysWith: { a, _ in a })
        if f["event"] == nil { r.missing(node, p, "event", " (the signal to wait for)") }
        if f["within"] == nil { r.missing(node, p, "within", " (a wait needs a deadline, e.g. within: 4h)") }
        let event = f["event"].flatMap { r.string($0, "\(p).event") }
        let within = f["within"].flatMap { r.duration($0, "\(p).within") }
        let clock = f["clock"].map { r.choice($0, "\(p).clock", ClockKind.self) } ?? .wall
        let calendar = f["calendar"].flatMap { r.string($0, "\(p).calendar") }
        if clock == .businessHours && f["calendar"] == nil {
            r.missing(node, p, "calendar", " (clock business_hours needs a calendar)")
        }
        if let calendar { checkKnown(calendar, known.calendars, f["calendar"], "\(p).calendar", "calendar", r) }
        guard let event, let within, let clock else { return nil }
        return WaitForSLA(event: event, within: within, clock: clock, calendar: calendar)
    }

    private static func parseEscalate(_ node: Node, _ p: String, _ r: NodeReader, _ known: KnownNames) -> Escalate? {
        guard let pairs = r.mapping(node, p, allowed: ["reassign_to", "notify", "priority", "channel", "message"]) else { return nil }
        let f = Dictionary(pairs.map { ($0.key, $0.node) }, uniquingKeysWith: { a, _ in a })
        var target: EscalationTarget?
        if let t = f["reassign_to"], let text = r.string(t, "\(p).reassign_to") {
            target = EscalationTarget(parsing: text)
            if target == nil {
                let allowed = ["backup", "manager", "team:NAME", "next_in_rotation"]
                r.issue(t, "\(p).reassign_to", "unknown value \"\(text)\"\(didYouMean(text, allowed)); one of: \(allowed.joined(separator: ", "))")
            }
            if case .team(let team)? = target { checkKnown(team, known.teams, t, "\(p).reassign_to", "team", r) }
        }
        let priority = f["priority"].flatMap { r.choice($0, "\(p).priority", Priority.self) }
        let message = f["message"].flatMap { r.string($0, "\(p).message") }
        if let message { checkTemplate(message, f["message"], "\(p).message", r) }
        return Escalate(reassignTo: target, notify: recipients(f["notify"], "\(p).notify", r, known), priority: priority,
                        channel: channel(f["channel"], "\(p).channel", r, known), message: message)
    }

    private static func parseHandoff(_ node: Node, _ p: String, _ r: NodeReader, _ known: KnownNames) -> Handoff? {
        guard let pairs = r.mapping(node, p, allowed: ["team", "strategy", "reason", "notify", "channel", "message", "fallback"])
        else { return nil }
        let f = Dictionary(pairs.map { ($0.key, $0.node) }, uniquingKeysWith: { a, _ in a })
        if f["team"] == nil { r.missing(node, p, "team") }
        let team = f["team"].flatMap { r.string($0, "\(p).team") }
        if let team { checkKnown(team, known.teams, f["team"], "\(p).team", "team", r) }
        let strategy = f["strategy"].map { r.choice($0, "\(p).strategy", Strategy.self) } ?? .roundRobin
        let fallback = f["fallback"].map { r.choice($0, "\(p).fallback", Fallback.self) } ?? .queue
        let message = f["message"].flatMap { r.string($0, "\(p).message") }
        if let message { checkTemplate(message, f["message"], "\(p).message", r) }
        guard let team, let strategy, let fallback else { return nil }
        return Handoff(team: team, strategy: strategy, reason: f["reason"].flatMap { r.string($0, "\(p).reason") } ?? "handoff",
                       notify: recipients(f["notify"], "\(p).notify", r, known),
                       channel: channel(f["channel"], "\(p).channel", r, known), message: message, fallback: fallback)
    }

    private static func parseBranch(_ node: Node, _ p: String, _ r: NodeReader) -> Branch? {
        guard let pairs = r.mapping(node, p, allowed: ["cases", "otherwise"]) else { return nil }
        let f = Dictionary(pairs.map { ($0.key, $0.node) }, uniquingKeysWith: { a, _ in a })
        if f["otherwise"] == nil { r.missing(node, p, "otherwise", " (the step when no case matches)") }
        var cases: [Branch.Case] = []
        for (i, c) in (f["cases"].flatMap { r.list($0, "\(p).cases") } ?? []).enumerated() {
            let cp = "\(p).cases[\(i)]"
            guard let cpairs = r.mapping(c, cp, allowed: ["when", "next"]) else { continue }
            let cf = Dictionary(cpairs.map { ($0.key, $0.node) }, uniquingKeysWith: { a, _ in a })
            if cf["when"] == nil { r.missing(c, cp, "when") }
            if cf["next"] == nil { r.missing(c, cp, "next") }
            if let when = cf["when"].flatMap({ parseCondition($0, "\(cp).when", r) }), let next = cf["next"].flatMap({ r.string($0, "\(cp).next") }) {
                cases.append(.init(when: when, next: next))
            }
        }
        guard let otherwise = f["otherwise"].flatMap({ r.string($0, "\(p).otherwise") }) else { return nil }
        return Branch(cases: cases, otherwise: otherwise)
    }
}
