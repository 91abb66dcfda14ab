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
        return compiled.render(DottedNames(values: values, prefix: ""))
    }

    /// Workflows have few distinct templates and render them for every instance: parse each once.
    private static let cache = TemplateCache()
}

/// Flat dotted names seen by mustache as nested contexts, resolved as the template asks for
/// them: nested dictionaries without building them (a template names a few variables;
/// the values hold every attribute). A name that other names continue (`contact.consent` beside
/// `contact.consent.email`) is a context (the longer names win).
struct DottedNames: MustacheParent {
    let values: [String: String]
    let prefix: String

    func child(named name: String) -> Any? {
        let key = prefix.isEmpty ? name : prefix + "." + name
        let continued = key + "."
        if values.keys.contains(where: { $0.hasPrefix(continued) }) { return DottedNames(values: values, prefix: key) }
        return values[key]
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
