import Foundation
import Yams

/// Reads a composed YAML tree with positions, collecting every issue instead of stopping at the first.
final class NodeReader {
    let file: String
    private(set) var issues: [DefinitionIssue] = []

    init(file: String) { self.file = file }

    func issue(_ node: Node?, _ path: String, _ message: String) {
        let mark = node?.mark
        issues.append(DefinitionIssue(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1, path: path, message: message))
    }

    /// Parses the text into a node; reports a syntax error as one issue.
    func compose(_ text: String) -> Node? {
        do {
            guard let node = try Yams.compose(yaml: text) else {
                issue(nil, "", "the file is empty")
                return nil
            }
            return node
        } catch let error as YamlError {
            switch error {
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _):
                issues.append(DefinitionIssue(file: file, line: mark.line, column: mark.column, path: "",
                                              message: "not valid YAML: \(problem)"))
            default:
                issue(nil, "", "not valid YAML: \(String(describing: error).split(separator: "\n").first ?? "")")
            }
            return nil
        } catch {
            issue(nil, "", "not valid YAML")
            return nil
        }
    }

    /// The pairs of a mapping, reporting unknown keys (with a suggestion) and duplicate keys.
    func mapping(_ node: Node?, _ path: String, allowed: [String]? = nil) -> [(key: String, node: Node, keyNode: Node)]? {
        guard let node else { return nil }
        guard case .mapping(let mapping) = node else {
            issue(node, path, "expected a mapping of keys to values")
            return nil
        }
        var seen = Set<String>()
        var pairs: [(String, Node, Node)] = []
        for (keyNode, value) in mapping {
            guard let key = keyNode.string else {
                issue(keyNode, path, "keys must be plain text")
                continue
            }
            let child = path.isEmpty ? key : "\(path).\(key)"
            if let allowed, !allowed.contains(key) {
                issue(keyNode, child, "unknown key \"\(key)\"\(didYouMean(key, allowed))")
                continue
            }
            guard seen.insert(key).inserted else {
                issue(keyNode, child, "\"\(key)\" appears twice")
                continue
            }
            pairs.append((key, value, keyNode))
        }
        return pairs
    }

    func string(_ node: Node?, _ path: String) -> String? {
        guard let node else { return nil }
        guard case .scalar(let scalar) = node, !scalar.string.isEmpty else {
            issue(node, path, "expected text")
            return nil
        }
        return scalar.string
    }

    func int(_ node: Node?, _ path: String, minimum: Int) -> Int? {
        guard let node else { return nil }
        guard case .scalar(let scalar) = node, let value = Int(scalar.string), value >= minimum else {
            issue(node, path, "expected a whole number of at least \(minimum)")
            return nil
        }
        return value
    }

    func bool(_ node: Node?, _ path: String) -> Bool? {
        guard let node else { return nil }
        guard case .scalar(let scalar) = node, let value = Bool(scalar.string.lowercased()) else {
            issue(node, path, "expected true or false")
            return nil
        }
        return value
    }

    func list(_ node: Node?, _ path: String) -> [Node]? {
        guard let node else { return nil }
        guard case .sequence(let sequence) = node else {
            issue(node, path, "expected a list")
            return nil
        }
        return Array(sequence)
    }

    /// A list of text, or a single text as a one-element list.
    func strings(_ node: Node?, _ path: String) -> [String]? {
        guard let node else { return nil }
        if case .scalar = node { return string(node, path).map { [$0] } }
        return list(node, path)?.enumerated().compactMap { string($0.element, "\(path)[\($0.offset)]") }
    }

    func duration(_ node: Node?, _ path: String) -> TimeSpan? {
        guard let text = string(node, path) else { return nil }
        guard let span = TimeSpan(parsing: text) else {
            issue(node, path, "bad duration \"\(text)\" (write a number and a unit: 90s, 15m, 4h, 3d)")
            return nil
        }
        return span
    }

    func choice<T: RawRepresentable & CaseIterable>(_ node: Node?, _ path: String, _: T.Type) -> T? where T.RawValue == String {
        guard let text = string(node, path) else { return nil }
        guard let value = T(rawValue: text) else {
            let allowed = T.allCases.map(\.rawValue)
            issue(node, path, "unknown value \"\(text)\"\(didYouMean(text, allowed)); one of: \(allowed.joined(separator: ", "))")
            return nil
        }
        return value
    }

    func missing(_ node: Node?, _ path: String, _ key: String, _ what: String = "") {
        issue(node, path.isEmpty ? key : "\(path).\(key)", "missing required field \"\(key)\"\(what)")
    }
}

extension Node {
    var mark: Mark? {
        switch self {
        case .scalar(let s): return s.mark
        case .mapping(let m): return m.mark
        case .sequence(let s): return s.mark
        case .alias(let a): return a.mark
        }
    }
}
