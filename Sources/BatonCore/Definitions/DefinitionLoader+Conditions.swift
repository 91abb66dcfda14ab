import Yams

extension DefinitionLoader {
    static let operators = ["in", "not_in", "prefix", "gte", "lte", "exists"]

    /// A `when:` condition: a mapping of attribute to a value (equals) or to a mapping of operators;
    /// several attributes must all hold. Nil when anything in it is wrong (each mistake is reported).
    static func readCondition(_ node: Node, _ p: String, _ r: NodeReader) -> Condition? {
        let shape = "a condition (a mapping of contact attribute to a value or to operators, e.g. { country: { in: [DE, AT] } })"
        guard let f = r.fields(node, p, allowed: nil, expected: shape, noun: "attribute") else { return nil }
        if f.pairs.isEmpty {
            r.issue(node, p, "a condition needs at least one attribute, e.g. { tier: enterprise }")
            return nil
        }
        var clauses: [Condition.Clause] = []
        var ok = true
        for pair in f.pairs {
            let ap = f.path(pair.key)
            if case .scalar = pair.value {
                if let value = r.text(pair.value, ap) {
                    clauses.append(.init(attribute: pair.key, tests: [.equals(value)]))
                } else {
                    ok = false
                }
                continue
            }
            guard let ops = r.fields(pair.value, ap, allowed: operators,
                                     expected: "a value or a mapping of operators (\(operators.joined(separator: ", ")))",
                                     noun: "operator", unknown: { op in
                                         "unknown operator \"\(op)\"\(didYouMean(op, operators)); one of: \(operators.joined(separator: ", "))"
                                     })
            else {
                ok = false
                continue
            }
            if ops.pairs.isEmpty, ops.node.mapping?.count == 0 {
                r.issue(pair.value, ap, "give at least one operator: \(operators.joined(separator: ", "))")
                ok = false
            }
            var tests: [Condition.Test] = []
            for op in ops.pairs {
                let op_ = ops.path(op.key)
                switch op.key {
                case "in", "not_in":
                    guard case .sequence(let list) = op.value else {
                        r.issue(op.value, op_, "expected a list, e.g. [DE, AT], found \(r.describe(op.value))")
                        ok = false
                        continue
                    }
                    let values = r.strings(op.value, op_) ?? []
                    if values.count < list.count { ok = false }
                    tests.append(op.key == "in" ? .oneOf(values.map(\.text)) : .noneOf(values.map(\.text)))
                case "prefix":
                    if let value = r.text(op.value, op_) { tests.append(.prefix(value)) } else { ok = false }
                case "gte", "lte":
                    guard case .scalar(let scalar) = op.value, let number = Double(scalar.string) else {
                        r.issue(op.value, op_, "expected a number, found \(r.describe(op.value))")
                        ok = false
                        continue
                    }
                    tests.append(op.key == "gte" ? .atLeast(number) : .atMost(number))
                default:  // exists
                    if let value = r.bool(op.value, op_) { tests.append(.exists(value)) } else { ok = false }
                }
            }
            if ops.pairs.count < (ops.node.mapping?.count ?? 0) { ok = false }  // an unknown operator was reported
            clauses.append(.init(attribute: pair.key, tests: tests))
        }
        if f.pairs.count < (node.mapping?.count ?? 0) { ok = false }  // a repeated attribute was reported
        return ok ? Condition(clauses) : nil
    }
}
