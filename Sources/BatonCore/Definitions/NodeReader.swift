import Yams

/// Reads a composed YAML tree with positions, collecting every issue instead of stopping at the first.
///
/// Each reading function reports what is wrong at the node's line and column and returns nil, so the
/// caller goes on reading the rest of the file.
final class NodeReader {
    let file: String
    private(set) var issues: [DefinitionIssue] = []
    /// Keys renamed to get past Yams' duplicate-key error: replacement first scalar -> original first scalar.
    var renamedKeys: [Unicode.Scalar: Unicode.Scalar] = [:]

    init(file: String) { self.file = file }

    func issue(_ node: Node?, _ path: String, _ message: String) {
        issue(line: node?.mark?.line ?? 1, column: node?.mark?.column ?? 1, path, message)
    }

    func issue(line: Int, column: Int, _ path: String, _ message: String) {
        issues.append(DefinitionIssue(file: file, line: max(line, 1), column: max(column, 1), path: path, message: message))
    }

    // MARK: Mappings

    /// The pairs of a mapping. Reports a node that is not a mapping, unknown keys (with a suggestion, or the
    /// message `unknown` gives) and repeated keys (`noun` names them: "key", "step id").
    func fields(_ node: Node, _ path: String, allowed: [String]?, expected: String = "a mapping of keys to values",
                noun: String = "key", unknown: ((String) -> String)? = nil) -> Fields? {
        guard case .mapping(let mapping) = node else {
            issue(node, path, "expected \(expected), found \(describe(node))")
            return nil
        }
        var pairs: [Fields.Pair] = []
        var firstLine: [String: Int] = [:]
        for (keyNode, value) in mapping {
            guard let key = key(keyNode) else {
                issue(keyNode, path, "a key must be plain text, found \(describe(keyNode))")
                continue
            }
            let child = path.isEmpty ? key : "\(path).\(key)"
            if let allowed, !allowed.contains(key) {
                issue(keyNode, child, unknown?(key) ?? "unknown key \"\(key)\"\(didYouMean(key, allowed))")
                continue
            }
            if let line = firstLine[key] {
                issue(keyNode, child, "duplicate \(noun) \"\(key)\" (first at line \(line))")
                continue
            }
            firstLine[key] = keyNode.mark?.line ?? 1
            pairs.append(Fields.Pair(key: key, keyNode: keyNode, value: value))
        }
        return Fields(node: node, path: path, pairs: pairs)
    }

    /// A mapping key's text, undoing the renaming done to find duplicate keys.
    func key(_ node: Node) -> String? {
        guard case .scalar(let scalar) = node else { return nil }
        var scalars = scalar.string.unicodeScalars
        if let first = scalars.first, let original = renamedKeys[first] {
            scalars.replaceSubrange(scalars.startIndex...scalars.startIndex, with: [original])
        }
        return String(scalars)
    }

    func missing(_ f: Fields, _ key: String, _ hint: String = "") {
        issue(f.node, f.path(key), "missing required field \"\(key)\"\(hint)")
    }

    // MARK: Values of a field (nil when absent or wrong; `required` reports an absent field)

    func string(_ f: Fields, _ key: String, required: Bool = false, hint: String = "") -> String? {
        guard let node = present(f, key, required, hint) else { return nil }
        return text(node, f.path(key))
    }

    func int(_ f: Fields, _ key: String, minimum: Int) -> Int? {
        guard let node = f[key] else { return nil }
        let path = f.path(key)
        guard case .scalar(let scalar) = node, !isNull(node), let value = Int(scalar.string), value >= minimum else {
            issue(node, path, "expected a whole number \(minimum == 1 ? "greater than 0" : "of at least \(minimum)"), found \(describe(node))")
            return nil
        }
        return value
    }

    func bool(_ f: Fields, _ key: String) -> Bool? {
        guard let node = f[key] else { return nil }
        return bool(node, f.path(key))
    }

    func duration(_ f: Fields, _ key: String, required: Bool = false, hint: String = "") -> TimeSpan? {
        guard let node = present(f, key, required, hint), let text = text(node, f.path(key)) else { return nil }
        guard let span = TimeSpan(parsing: text) else {
            issue(node, f.path(key), "bad duration \"\(text)\" (write a number and a unit: 90s, 15m, 4h, 3d)")
            return nil
        }
        return span
    }

    /// One of an enum's raw values; a wrong value is reported with the allowed ones.
    func choice<T: RawRepresentable & CaseIterable>(_ f: Fields, _ key: String, _: T.Type, required: Bool = false) -> T?
    where T.RawValue == String {
        guard let node = present(f, key, required, ""), let text = text(node, f.path(key)) else { return nil }
        let allowed = T.allCases.map(\.rawValue)
        guard let value = T(rawValue: text) else {
            issue(node, f.path(key), "unknown value \"\(text)\"\(didYouMean(text, allowed)); one of: \(allowed.joined(separator: ", "))")
            return nil
        }
        return value
    }

    /// The elements of a list field.
    func list(_ f: Fields, _ key: String, required: Bool = false, hint: String = "") -> [Node]? {
        guard let node = present(f, key, required, hint) else { return nil }
        guard case .sequence(let sequence) = node else {
            issue(node, f.path(key), "expected a list, found \(describe(node))")
            return nil
        }
        return Array(sequence)
    }

    /// A list of text, or a single text as a one-element list; each element is paired with its node and path.
    func strings(_ f: Fields, _ key: String, required: Bool = false) -> [(text: String, node: Node, path: String)]? {
        guard let node = present(f, key, required, "") else { return nil }
        return strings(node, f.path(key))
    }

    func strings(_ node: Node, _ path: String) -> [(text: String, node: Node, path: String)]? {
        if case .scalar = node, !isNull(node) { return text(node, path).map { [($0, node, path)] } }
        guard case .sequence(let sequence) = node else {
            issue(node, path, "expected a list, found \(describe(node))")
            return nil
        }
        return sequence.enumerated().compactMap { i, element in
            text(element, "\(path)[\(i)]").map { ($0, element, "\(path)[\(i)]") }
        }
    }

    // MARK: Nodes

    /// Non-empty text (numbers and booleans are read as written).
    func text(_ node: Node, _ path: String) -> String? {
        guard case .scalar(let scalar) = node, !isNull(node), !scalar.string.isEmpty else {
            issue(node, path, "expected text, found \(describe(node))")
            return nil
        }
        return scalar.string
    }

    func bool(_ node: Node, _ path: String) -> Bool? {
        guard case .scalar(let scalar) = node, let value = ["true": true, "false": false][scalar.string.lowercased()] else {
            issue(node, path, "expected true or false, found \(describe(node))")
            return nil
        }
        return value
    }

    /// True for `~`, `null` and an empty value.
    func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// How a node reads in a message: `a list`, `a mapping`, `nothing`, `"4hours"`.
    func describe(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let scalar):
            if isNull(node) { return "nothing" }
            return "\"\(scalar.string.count > 40 ? scalar.string.prefix(40) + "…" : scalar.string)\""
        }
    }

    private func present(_ f: Fields, _ key: String, _ required: Bool, _ hint: String) -> Node? {
        guard let node = f[key] else {
            if required { missing(f, key, hint) }
            return nil
        }
        return node
    }
}

/// The pairs of one YAML mapping, keys unique (repeats were reported), and the mapping's path.
struct Fields {
    struct Pair {
        let key: String
        let keyNode: Node
        let value: Node
    }

    let node: Node
    let path: String
    let pairs: [Pair]

    subscript(key: String) -> Node? { pairs.first { $0.key == key }?.value }

    /// The node of the key itself, for issues about the key rather than its value.
    func keyNode(_ key: String) -> Node? { pairs.first { $0.key == key }?.keyNode }

    /// The path of a field of this mapping.
    func path(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
}
