import Yams

extension DefinitionLoader {
    /// HubSpot's webhook subscription types Baton understands.
    static let hubspotEventTypes = ["contact.creation", "contact.propertyChange", "contact.deletion", "contact.merge",
                                    "contact.restore", "contact.privacyDeletion"]

    /// A sources file (YAML or JSON): inbound systems and their event mappings. With `workflows`,
    /// every `start:` must name a stored workflow.
    /// - Throws: `DefinitionErrors` listing every mistake in the file.
    public static func sources(from text: String, file: String, workflows: Set<String>? = nil) throws -> SourcesFile {
        let r = NodeReader(file: file)
        let sources = readSourcesFile(text, r, workflows)
        guard r.issues.isEmpty, let sources else { throw DefinitionErrors(issues: r.issues) }
        return sources
    }

    private static func readSourcesFile(_ text: String, _ r: NodeReader, _ workflows: Set<String>?) -> SourcesFile? {
        guard let root = r.compose(text) else {
            if r.issues.isEmpty { r.issue(line: 1, column: 1, "", "the file is empty; a sources file lists sources") }
            return nil
        }
        guard let top = r.fields(root, "", allowed: ["sources"], expected: "a sources file (a mapping with sources)") else { return nil }
        var sources: [Source] = []
        var lines: [String: Int] = [:]
        for (i, node) in (r.list(top, "sources", required: true, hint: " (a list of sources)") ?? []).enumerated() {
            let p = "sources[\(i)]"
            guard let f = r.fields(node, p, allowed: ["name", "kind", "secret_env", "events"],
                                   expected: "a source (a mapping with name, kind, secret_env and events)")
            else { continue }
            var name = r.string(f, "name", required: true)
            if let n = name, let node = f["name"] {
                if n.isEmpty || n.contains("/") || n.contains(" ") {
                    r.issue(node, f.path("name"), "\"\(n)\" cannot be part of a URL path (use letters, digits, '-' and '_')")
                    name = nil
                } else if let line = lines[n] {
                    r.issue(node, f.path("name"), "duplicate source \"\(n)\" (first at line \(line))")
                    name = nil
                } else {
                    lines[n] = node.mark?.line ?? 1
                }
            }
            let kind = r.choice(f, "kind", SourceKind.self, required: true)
            let secretEnv = r.string(f, "secret_env", required: true, hint: " (the environment variable that holds the signing secret)")
            if let secretEnv, let node = f["secret_env"], !isEnvironmentName(secretEnv) {
                r.issue(node, f.path("secret_env"), "\"\(secretEnv)\" is not an environment variable name (write e.g. HUBSPOT_CLIENT_SECRET: "
                        + "the name of the variable that holds the secret, never the secret itself)")
            }
            var events: [SourceEvent] = []
            for (j, eventNode) in (r.list(f, "events", required: true, hint: " (a list of event mappings)") ?? []).enumerated() {
                if let event = readSourceEvent(eventNode, "\(f.path("events"))[\(j)]", kind, workflows, r) { events.append(event) }
            }
            guard let name, let kind, let secretEnv, isEnvironmentName(secretEnv) else { continue }
            sources.append(Source(name: name, kind: kind, secretEnv: secretEnv, events: events))
        }
        return SourcesFile(sources: sources)
    }

    private static func readSourceEvent(_ node: Node, _ p: String, _ kind: SourceKind?, _ workflows: Set<String>?,
                                        _ r: NodeReader) -> SourceEvent? {
        guard let f = r.fields(node, p, allowed: ["type", "property", "value", "start", "signal", "owner_changed", "stage"],
                               expected: "an event mapping (type, and one of start, signal, owner_changed or stage)")
        else { return nil }
        let type = r.string(f, "type", required: true)
        if kind == .hubspot, let type, let node = f["type"], !hubspotEventTypes.contains(type) {
            r.issue(node, f.path("type"), "unknown HubSpot event type \"\(type)\"\(didYouMean(type, hubspotEventTypes))")
            return nil
        }
        let property = r.string(f, "property")
        let value = r.string(f, "value")
        if kind == .hubspot, type == "contact.propertyChange", f["property"] == nil {
            r.issue(node, p, "a contact.propertyChange mapping needs \"property\" (the HubSpot property, e.g. lifecyclestage)")
        }
        let start = r.string(f, "start")
        let signal = r.string(f, "signal")
        let ownerChanged = f["owner_changed"] == nil ? nil : r.bool(f, "owner_changed")
        let stage = f["stage"] == nil ? nil : r.bool(f, "stage")
        let given = [start != nil, signal != nil, ownerChanged == true, stage == true].filter { $0 }.count
        if given != 1 {
            r.issue(node, p, "say what the event does with exactly one of start: WORKFLOW, signal: EVENT, owner_changed: true "
                    + "or stage: true")
        }
        if stage == true, let node = f["value"] {
            r.issue(node, f.path("value"), "stage: true takes the stage from the property's new value, whatever it is: "
                    + "leave out value (or map one value to a signal instead)")
            return nil
        }
        if stage == true, type != "contact.propertyChange", kind == .hubspot, let node = f["type"] {
            r.issue(node, f.path("type"), "stage: true reads a property's new value: use type: contact.propertyChange "
                    + "with property: lifecyclestage")
            return nil
        }
        if let start, let workflows, let node = f["start"], !workflows.contains(start) {
            let hint = workflows.isEmpty ? " (none exist yet: apply the workflow file first)" : didYouMean(start, workflows.sorted())
            r.issue(node, f.path("start"), "unknown workflow \"\(start)\"\(hint)")
            return nil
        }
        if ownerChanged == true, kind == .hubspot, let property, property != "hubspot_owner_id", let node = f["property"] {
            r.issue(node, f.path("property"), "owner_changed follows the owner property: write property: hubspot_owner_id")
            return nil
        }
        guard let type, given == 1 else { return nil }
        let action: SourceAction = start.map(SourceAction.start) ?? signal.map(SourceAction.signal)
            ?? (stage == true ? .stage : .ownerChanged)
        return SourceEvent(type: type, property: property, value: value, action: action)
    }
}
