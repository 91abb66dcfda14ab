/// A `when:` condition over contact attributes: every clause must hold.
///
/// ```yaml
/// when: { country: { in: [DE, AT, CH] }, tier: enterprise, score: { gte: 50 } }
/// ```
public struct Condition: Hashable, Sendable, Codable {
    /// The clauses, in file order.
    public var clauses: [Clause]
    public init(_ clauses: [Clause]) { self.clauses = clauses }

    /// One attribute and the tests it must pass (all of them).
    public struct Clause: Hashable, Sendable, Codable {
        public var attribute: String
        public var tests: [Test]
        public init(attribute: String, tests: [Test]) {
            self.attribute = attribute
            self.tests = tests
        }
    }

    /// One test of an attribute's value. Attribute values are text; `gte`/`lte` compare numbers.
    public enum Test: Hashable, Sendable, Codable {
        case equals(String)
        case oneOf([String])
        case noneOf([String])
        case prefix(String)
        case atLeast(Double)
        case atMost(Double)
        case exists(Bool)
    }

    /// True when every clause holds for `attributes`.
    public func matches(_ attributes: [String: String]) -> Bool {
        clauses.allSatisfy { clause in
            let value = attributes[clause.attribute]
            return clause.tests.allSatisfy { $0.holds(for: value) }
        }
    }
}

extension Condition.Test {
    /// Whether the test holds for a value (nil: the attribute is absent).
    public func holds(for value: String?) -> Bool {
        switch self {
        case .exists(let wanted): return (value != nil) == wanted
        case .noneOf(let values): return value.map { !values.contains($0) } ?? true
        default: break
        }
        guard let value else { return false }
        switch self {
        case .equals(let expected): return value == expected
        case .oneOf(let values): return values.contains(value)
        case .prefix(let prefix): return value.hasPrefix(prefix)
        case .atLeast(let bound): return Double(value).map { $0 >= bound } ?? false
        case .atMost(let bound): return Double(value).map { $0 <= bound } ?? false
        case .exists, .noneOf: return true  // handled above
        }
    }
}
