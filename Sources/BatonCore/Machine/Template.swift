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
        guard let compiled = cache.compiled(template) else { return template }
        return compiled.render(nested(values))
    }

    /// Workflows have few distinct templates and render them for every instance: parse each once.
    private static let cache = TemplateCache()

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

/// Parsed templates by their text. `@unchecked Sendable`: `templates` is only touched under `lock`;
/// MustacheTemplate values are immutable and Sendable.
final class TemplateCache: @unchecked Sendable {
    private let lock = NSLock()
    private var templates: [String: MustacheTemplate] = [:]

    func compiled(_ text: String) -> MustacheTemplate? {
        if let hit = lock.withLock({ templates[text] }) { return hit }
        guard let template = try? Template.compile(text) else { return nil }
        lock.withLock {
            if templates.count > 10_000 { templates.removeAll() }  // bounded; templates come from definitions
            templates[text] = template
        }
        return template
    }
}
