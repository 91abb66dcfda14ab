import Yams

/// Parses and validates the files sales ops write (workflow, team and channel files, in YAML or JSON).
///
/// Every mistake in a file is reported at once, each as one `FILE:LINE:COLUMN: path: message` line;
/// the loaders throw `DefinitionErrors` unless the file is entirely right.
public enum DefinitionLoader {
    static let stepKinds = ["assign", "notify", "wait_for_sla", "escalate", "handoff", "branch", "goto", "end"]
    static let transitionKeys = ["next", "on_met", "on_breach"]
    static let stepKeys = stepKinds + transitionKeys + ["max_attempts", "description"]

    /// A workflow file (YAML or JSON), checked against itself and, for each non-nil set of `known`,
    /// against the teams, calendars, channels and members that exist.
    /// - Throws: `DefinitionErrors` listing every mistake in the file.
    public static func workflow(from text: String, file: String, known: KnownNames = KnownNames()) throws
        -> WorkflowDefinition
    {
        let reader = NodeReader(file: file)
        let definition = readWorkflow(text, reader, known)
        guard reader.issues.isEmpty, let definition else { throw DefinitionErrors(issues: reader.issues) }
        return definition
    }

    private static func readWorkflow(_ text: String, _ r: NodeReader, _ known: KnownNames) -> WorkflowDefinition? {
        guard let root = r.compose(text) else {
            if r.issues.isEmpty { r.issue(line: 1, column: 1, "", "the file is empty; a workflow needs name, start and steps") }
            return nil
        }
        guard let top = r.fields(root, "", allowed: ["name", "description", "subject", "lifecycle", "starts_on", "on_duplicate",
                                                     "duplicate_key", "start", "steps"],
                                 expected: "a workflow (a mapping with name, start and steps)")
        else { return nil }
        let name = r.string(top, "name", required: true)
        let description = r.string(top, "description")
        let start = r.string(top, "start", required: true, hint: " (the id of the first step)")
        let subject = top["subject"] == nil ? .contact : r.choice(top, "subject", RecordKind.self)
        let lifecycle = top["lifecycle"] == nil ? nil : readStages(top, r)
        let onDuplicate = top["on_duplicate"] == nil ? .allow : r.choice(top, "on_duplicate", OnDuplicate.self)
        let duplicateKey = r.string(top, "duplicate_key")
        var known = known
        // A workflow's own stages, else the team file's (`known.stages`), else the defaults.
        known.stages = lifecycle ?? known.stages
        let startsOn = top["starts_on"] == nil ? nil : readStartsOn(top, r, known.stages)

        var graph = StepGraph()
        var steps: [Step] = []
        if let stepsNode = top["steps"] {
            if r.isNull(stepsNode) || stepsNode.mapping?.count == 0 {
                r.issue(stepsNode, "steps", "the workflow has no steps (an empty workflow cannot run); add at least one step")
            } else if let stepFields = r.fields(stepsNode, "steps", allowed: nil, expected: "a mapping of step ids to steps",
                                                noun: "step id") {
                for pair in stepFields.pairs {
                    let read = readStep(pair.key, pair.value, r, known)
                    graph.add(pair.key, keyNode: pair.keyNode, read)
                    if let step = read.step { steps.append(step) }
                }
            }
        } else {
            r.missing(top, "steps", " (a mapping of step ids to steps)")
        }

        // Every transition names a step of this workflow.
        if let start, let startNode = top["start"], !graph.order.isEmpty, graph.isWait[start] == nil {
            r.issue(startNode, "start", "unknown step \"\(start)\"\(didYouMean(start, graph.order))")
        }
        for edge in graph.edges where graph.isWait[edge.target] == nil {
            r.issue(edge.node, edge.path, "unknown step \"\(edge.target)\"\(didYouMean(edge.target, graph.order))")
        }
        checkLoops(graph, r)
        if let start, !graph.order.isEmpty { checkReachable(graph, from: start, r) }

        guard let name, let start, let subject, let onDuplicate, top["starts_on"] == nil || startsOn != nil, r.issues.isEmpty
        else { return nil }
        return WorkflowDefinition(name: name, description: description, start: start, steps: steps, subject: subject,
                                  lifecycle: lifecycle, onDuplicate: onDuplicate, duplicateKey: duplicateKey,
                                  startsOn: startsOn)
    }

    /// Reports a name missing from a non-nil set of known names.
    static func checkKnown(_ name: String, _ set: Set<String>?, _ node: Node, _ path: String, _ what: String,
                           _ r: NodeReader) {
        guard let set, !set.contains(name) else { return }
        let file = what == "channel" ? "channel file" : "team file"
        let hint = set.isEmpty ? " (none exist yet: apply the \(file) first)"
            : suggestion(for: name, in: set.sorted()).map { " (did you mean \"\($0)\"?)" }
            ?? (set.count <= 8 ? " (known \(what)s: \(set.sorted().joined(separator: ", ")))" : "")
        r.issue(node, path, "unknown \(what) \"\(name)\"\(hint)")
    }
}
