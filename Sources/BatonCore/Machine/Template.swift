import Foundation
import Mustache

/// Renders a message template with swift-mustache, as plain text (no HTML escaping). Dotted names
/// (`contact.id`, `owner.name`, `contact.consent.email`) are nested contexts, as mustache expects.
/// The Definitions validator rejects templates that do not parse or name unknown variables when a
/// workflow is applied; a template that still fails here renders as its own text.
public enum Template {
    /// Parses `template` as plain-text mustache.
    public static func compile(_ template: String) throws -> MustacheTemplate {
        try MustacheTemplate(string: "{{% CONTENT_TYPE: TEXT}}" + template)
    }

    public static func render(_ template: String, _ values: [String: String]) -> String {
        guard let compiled = try? compile(template) else { return template }
        return compiled.render(nested(values))
    }

    /// `["owner.name": "Ana"]` -> `["owner": ["name": "Ana"]]`.
    static func nested(_ values: [String: String]) -> [String: Any] {
        var root: [String: Any] = [:]
        func insert(_ path: ArraySlice<Substring>, _ value: String, into dictionary: inout [String: Any]) {
            guard let head = path.first.map(String.init) else { return }
            if path.count == 1 {
                if dictionary[head] == nil { dictionary[head] = value }
                return
            }
            var child = dictionary[head] as? [String: Any] ?? [:]
            insert(path.dropFirst(), value, into: &child)
            dictionary[head] = child
        }
        // Shorter paths first, so `contact.consent` and `contact.consent.email` keep the nested one.
        for (key, value) in values.sorted(by: { $0.key.count > $1.key.count }) {
            insert(key.split(separator: ".")[...], value, into: &root)
        }
        return root
    }
}
