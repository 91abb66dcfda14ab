import Foundation

/// The steps of one stored version as id and kind — all the migration planner needs of the version
/// instances leave. Read from the stored JSON loosely, so a version this build cannot load in full
/// (`stuck` calls it `orphaned_version`) can still be migrated away from.
public struct StepOutline: Hashable, Sendable {
    /// Step ids in file order.
    public var ids: [String]
    /// The kind of each step as the file writes it (`wait_for_sla`), or the stored name of a kind this
    /// build does not know.
    public var kinds: [String: String]

    public init(_ definition: WorkflowDefinition) {
        self.init(ids: definition.steps.map(\.id),
                  kinds: Dictionary(definition.steps.map { ($0.id, $0.action.kind) }, uniquingKeysWith: { a, _ in a }))
    }

    init(ids: [String], kinds: [String: String]) {
        self.ids = ids
        self.kinds = kinds
    }

    /// From a stored spec (`workflow_definitions.spec`); nil when it has no readable `steps` list.
    public init?(specJSON data: Data) {
        if let definition = try? JSONDecoder().decode(WorkflowDefinition.self, from: data) {
            self.init(definition)
            return
        }
        guard case .object(let root)? = try? JSONDecoder().decode(JSONValue.self, from: data),
              case .array(let steps)? = root["steps"] else { return nil }
        var ids: [String] = []
        var kinds: [String: String] = [:]
        for case .object(let step) in steps {
            guard case .string(let id)? = step["id"] else { continue }
            var stored = "unknown"
            if case .object(let action)? = step["action"], let key = action.keys.first { stored = key }
            ids.append(id)
            kinds[id] = stored == "waitForSLA" ? "wait_for_sla" : stored
        }
        self.init(ids: ids, kinds: kinds)
    }
}
