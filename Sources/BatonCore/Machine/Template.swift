/// Renders `{{name}}` and `{{ name }}` placeholders from a dictionary; unknown names render empty.
/// (The Definitions validator rejects unknown names when a workflow is applied.)
public enum Template {
    public static func render(_ template: String, _ values: [String: String]) -> String {
        var out = ""
        var rest = template[...]
        while let open = rest.range(of: "{{") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                out += rest[open.lowerBound...]
                return out
            }
            let name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            out += values[name] ?? ""
            rest = rest[close.upperBound...]
        }
        return out + rest
    }
}

import Foundation
