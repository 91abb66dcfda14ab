import Foundation

/// What changes between two versions of a workflow, step by step: `workflows apply --dry-run`.
public struct WorkflowDiff: Hashable, Sendable {
    /// One difference.
    public enum Change: Hashable, Sendable {
        /// A field of the workflow itself (`start`, `description`, `lifecycle`, `starts_on`).
        case workflow(field: String, from: String, to: String)
        case added(step: String, kind: String)
        case removed(step: String, kind: String)
        /// The step is now of another kind (its fields are not compared).
        case kindChanged(step: String, from: String, to: String)
        /// A field of a step, by its path in the file (`wait_for_sla.within`, `assign.rules[0].when`).
        case changed(step: String, field: String, from: String, to: String)
    }

    public var changes: [Change]

    public var isEmpty: Bool { changes.isEmpty }

    /// Differences from `old` to `new`, in `new`'s step order, removed steps last.
    public static func between(_ old: WorkflowDefinition, _ new: WorkflowDefinition) -> WorkflowDiff {
        var changes: [Change] = []
        if old.start != new.start { changes.append(.workflow(field: "start", from: old.start, to: new.start)) }
        if old.description != new.description {
            changes.append(.workflow(field: "description", from: old.description ?? "(none)", to: new.description ?? "(none)"))
        }
        if old.lifecycle != new.lifecycle {
            func list(_ stages: [String]?) -> String { stages.map { "[\($0.joined(separator: ", "))]" } ?? "(none)" }
            changes.append(.workflow(field: "lifecycle", from: list(old.lifecycle), to: list(new.lifecycle)))
        }
        if old.startsOn != new.startsOn {
            changes.append(.workflow(field: "starts_on", from: old.startsOn?.text ?? "(none)", to: new.startsOn?.text ?? "(none)"))
        }
        for step in new.steps {
            guard let before = old.step(step.id) else {
                changes.append(.added(step: step.id, kind: step.action.kind))
                continue
            }
            if before.action.kind != step.action.kind {
                changes.append(.kindChanged(step: step.id, from: before.action.kind, to: step.action.kind))
                continue
            }
            let a = fields(before), b = fields(step)
            for key in (Array(a.keys) + b.keys.filter { a[$0] == nil }).sorted(by: pathOrder) where a[key] != b[key] {
                changes.append(.changed(step: step.id, field: key, from: a[key] ?? "(none)", to: b[key] ?? "(none)"))
            }
        }
        for step in old.steps where new.step(step.id) == nil {
            changes.append(.removed(step: step.id, kind: step.action.kind))
        }
        return WorkflowDiff(changes: changes)
    }

    /// One line per change: `+ step welcome (notify)`, `- step old (goto)`,
    /// `~ step first-touch: wait_for_sla.within: 4h -> 2h`.
    public var lines: [String] {
        changes.map { change in
            switch change {
            case .workflow(let field, let from, let to): return "~ \(field): \(from) -> \(to)"
            case .added(let step, let kind): return "+ step \(step) (\(kind))"
            case .removed(let step, let kind): return "- step \(step) (\(kind))"
            case .kindChanged(let step, let from, let to): return "~ step \(step): kind \(from) -> \(to)"
            case .changed(let step, let field, let from, let to): return "~ step \(step): \(field): \(from) -> \(to)"
            }
        }
    }

    /// A step's fields as `path: value` in the file's spelling, conditions as one value each.
    static func fields(_ step: Step) -> [String: String] {
        guard let data = try? JSONEncoder().encode(step), let value = try? JSONDecoder().decode(JSONValue.self, from: data),
              let json = value.plain as? [String: Any]
        else { return [:] }
        var out: [String: String] = [:]
        if let max = json["maxAttempts"] { out["max_attempts"] = scalar(max) }
        if let action = json["action"] as? [String: Any] {
            flatten(action.mapValues(simplify), path: "", into: &out)
        }
        return out
    }

    /// Cases of plain enums read as the file writes them: `{"previousOwner": {}}` -> `previous_owner`,
    /// `{"team": {"_0": "leads"}}` -> `team:leads`.
    private static func simplify(_ value: Any) -> Any {
        if let object = value as? [String: Any] {
            if object.count == 1, let clauses = object["clauses"] as? [[String: Any]] { return conditionText(clauses) }
            if object.count == 1, let (key, payload) = object.first, key != "_0", let inner = payload as? [String: Any] {
                if inner.isEmpty { return fileName(key) }
                if inner.count == 1, let only = inner["_0"], !(only is [String: Any]), !(only is [Any]) {
                    return "\(fileName(key)):\(scalar(only))"
                }
            }
            return object.mapValues(simplify)
        }
        if let array = value as? [Any] { return array.map(simplify) }
        return value
    }

    private static func flatten(_ value: Any, path: String, into out: inout [String: String]) {
        if let object = value as? [String: Any] {
            for (key, child) in object {
                let name = key == "_0" ? nil : fileName(key)
                flatten(child, path: [path, name].compactMap { $0?.isEmpty == false ? $0 : nil }.joined(separator: "."), into: &out)
            }
        } else if let array = value as? [Any] {
            if array.allSatisfy({ !($0 is [String: Any]) && !($0 is [Any]) }) {
                out[path] = "[" + array.map(scalar).joined(separator: ", ") + "]"
                return
            }
            for (index, child) in array.enumerated() { flatten(child, path: "\(path)[\(index)]", into: &out) }
        } else {
            out[path] = scalar(value)
        }
    }

    /// `waitForSLA` -> `wait_for_sla`, `onBreach` -> `on_breach`.
    static func fileName(_ key: String) -> String {
        if key == "waitForSLA" { return "wait_for_sla" }
        var out = ""
        for ch in key {
            if ch.isUppercase { out += "_" + ch.lowercased() } else { out.append(ch) }
        }
        return out
    }

    private static func scalar(_ value: Any) -> String {
        switch value {
        case is JSONValue.Null: return "(none)"
        case let string as String: return string
        case let bool as Bool: return bool ? "true" : "false"
        case let number as Double: return number == number.rounded() && abs(number) < 1e15 ? String(Int(number)) : String(number)
        default: return "\(value)"
        }
    }

    /// A condition as the file writes it: `{ country: { in: [DE, AT] }, tier: enterprise }`.
    private static func conditionText(_ clauses: [[String: Any]]) -> String {
        let names = ["equals": "", "oneOf": "in", "noneOf": "not_in", "prefix": "prefix", "atLeast": "gte",
                     "atMost": "lte", "exists": "exists"]
        let parts = clauses.map { clause -> String in
            let attribute = clause["attribute"] as? String ?? "?"
            let tests = (clause["tests"] as? [[String: Any]] ?? []).compactMap { test -> String? in
                guard let (kind, payload) = test.first else { return nil }
                let value = (payload as? [String: Any])?["_0"] ?? payload
                let text = (value as? [Any]).map { "[" + $0.map(scalar).joined(separator: ", ") + "]" } ?? scalar(value)
                let name = names[kind] ?? kind
                return name.isEmpty ? text : "\(name): \(text)"
            }
            if tests.count == 1, !tests[0].contains(": ") || tests[0].hasPrefix("[") { return "\(attribute): \(tests[0])" }
            return "\(attribute): { \(tests.joined(separator: ", ")) }"
        }
        return "{ " + parts.joined(separator: ", ") + " }"
    }

    /// Paths in reading order: the step kind's fields first, transitions (`next`, `on_met`, `on_breach`) last.
    private static func pathOrder(_ a: String, _ b: String) -> Bool {
        func rank(_ path: String) -> Int { ["next", "on_met", "on_breach"].contains(path.split(separator: ".").last.map(String.init) ?? "") && !path.contains("[") ? 1 : 0 }
        return (rank(a), a) < (rank(b), b)
    }
}

/// Any JSON value, read with Codable (so booleans stay booleans on every platform).
enum JSONValue: Decodable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    /// JSON null, as a value of `plain`.
    struct Null {}

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    /// As plain values: String, Bool, Double, Null, [Any], [String: Any].
    var plain: Any {
        switch self {
        case .null: return Null()
        case .bool(let b): return b
        case .number(let n): return n
        case .string(let s): return s
        case .array(let a): return a.map(\.plain)
        case .object(let o): return o.mapValues(\.plain)
        }
    }
}
