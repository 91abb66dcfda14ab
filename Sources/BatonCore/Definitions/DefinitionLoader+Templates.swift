import Foundation
import Yams

extension DefinitionLoader {
    /// The variables a message template may use; `contact.<attribute>` is open to any attribute.
    static let templateVariables = [
        "contact.id", "contact.name",
        "owner.id", "owner.name", "owner.email",
        "previous_owner.id", "previous_owner.name", "previous_owner.email",
        "new_owner.id", "new_owner.name", "new_owner.email",
        "recipient.id", "recipient.name",
        "team", "workflow", "step", "instance", "deadline", "event", "reason",
    ]

    /// Checks the `{{ name }}` tokens of a mustache template; section sigils (`#`, `/`, `^`, `&`) are
    /// skipped and comments (`{{! … }}`) ignored. Returns false after reporting a mistake.
    static func checkTemplate(_ template: String, _ node: Node, _ p: String, _ r: NodeReader) -> Bool {
        var ok = true
        var rest = template[...]
        while let open = rest.range(of: "{{") {
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                r.issue(node, p, "a \"{{\" is never closed with \"}}\"")
                return false
            }
            var name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            rest = rest[close.upperBound...]
            if name.hasPrefix("!") { continue }
            if name.hasPrefix("{") {  // {{{name}}}
                name.removeFirst()
                if rest.hasPrefix("}") { rest = rest.dropFirst() }
            } else if let sigil = name.first, "#/^&".contains(sigil) {
                name.removeFirst()
            }
            name = name.trimmingCharacters(in: .whitespaces)
            if name.hasPrefix("contact."), name.count > "contact.".count { continue }
            if templateVariables.contains(name) { continue }
            let hint = suggestion(for: name, in: templateVariables).map { " (did you mean \"{{\($0)}}\"?)" }
                ?? "; use one of: \(templateVariables.joined(separator: ", ")), or contact.<attribute>"
            r.issue(node, p, "unknown template variable \"{{\(name)}}\"\(hint)")
            ok = false
        }
        // The names are fine; the structure must parse too (sections closed, and so on).
        if ok, (try? Template.compile(template)) == nil {
            r.issue(node, p, "not a valid mustache template (check that every {{#section}} is closed by {{/section}})")
            return false
        }
        return ok
    }
}
