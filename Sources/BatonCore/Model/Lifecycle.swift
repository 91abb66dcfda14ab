/// Lifecycle stages of a record (its `lifecycle_stage`): which exist, what a change of stage is,
/// and which workflows a change starts (`starts_on:`). Pure: the Store applies what this decides.
public enum Lifecycle {
    /// The stages when neither the team file nor the workflow names any.
    public static let defaultStages = ["lead", "mql", "sql", "customer", "at_risk", "churned"]

    /// HubSpot's internal `lifecyclestage` values that mean one of the default stages. The others
    /// (`subscriber`, `opportunity`, `evangelist`, `other`, custom stages) are taken as given.
    public static let hubspotStages: [String: String] = [
        "lead": "lead", "marketingqualifiedlead": "mql", "salesqualifiedlead": "sql", "customer": "customer",
    ]

    /// Why `stage` cannot be set, given the stages that exist; nil when it can.
    public static func problem(with stage: String, stages: [String]) -> String? {
        if stages.contains(stage) { return nil }
        if stage.isEmpty { return "the lifecycle stage is empty; one of: \(stages.joined(separator: ", "))" }
        return "unknown lifecycle stage \"\(stage)\"\(didYouMean(stage, stages)); one of: \(stages.joined(separator: ", ")) "
            + "(the team file's lifecycle: names them)"
    }

    /// The stage a CRM's value stands for: HubSpot's internal name of a default stage when that
    /// stage exists, else the value itself when it is a stage; nil otherwise.
    public static func stage(forCRMValue value: String, stages: [String]) -> String? {
        if let mapped = hubspotStages[value], stages.contains(mapped) { return mapped }
        return stages.contains(value) ? value : nil
    }
}

/// A record's move from one lifecycle stage to another, as its history row tells it.
public struct StageChange: Hashable, Sendable {
    /// The record's storage key (`C-1`, `deal:D-7`).
    public var record: String
    /// The stage it left; nil when it had none.
    public var from: String?
    public var to: String
    /// What moved it, in the history's words: `handoff purchased`, `signal purchased`,
    /// `hubspot lifecyclestage customer`, `manual:ana: renewal signed`.
    public var cause: String

    public init(record: String, from: String?, to: String, cause: String) {
        self.record = record
        self.from = from
        self.to = to
        self.cause = cause
    }

    /// The history row's reason: `stage lead -> customer (signal purchased)`.
    public var reason: String { "stage \(from ?? "-") -> \(to) (\(cause))" }

    /// The workflows this change starts, in the given order: those whose `starts_on` matches it and
    /// whose subject is the record's kind. (Whether one already runs for the record is the Store's
    /// question: one live instance per workflow and record.)
    public func starts(_ workflows: [WorkflowDefinition]) -> [WorkflowDefinition] {
        let kind = RecordRef(storageKey: record).kind
        return workflows.filter { $0.subjectKind == kind && $0.startsOn?.matches(self) == true }
    }
}

/// `starts_on:` a workflow that starts when a record enters a stage (optionally, only from some stages).
public struct StartsOn: Hashable, Sendable, Codable {
    /// The stages whose entry starts the workflow (`stage:`, one or a list).
    public var stages: [String]
    /// Only a record that left one of these (`from:`, one or a list); nil: from any stage or none.
    public var from: [String]?

    public init(stages: [String], from: [String]? = nil) {
        self.stages = stages
        self.from = from
    }

    /// As the file writes it: `{ stage: at_risk, from: customer }`.
    public var text: String {
        func one(_ list: [String]) -> String { list.count == 1 ? list[0] : "[\(list.joined(separator: ", "))]" }
        return "{ stage: \(one(stages))" + (from.map { ", from: \(one($0))" } ?? "") + " }"
    }

    /// True when `change` enters one of `stages` from one of `from` (any, when nil). A record that
    /// stays in its stage changes nothing, so it matches nothing.
    public func matches(_ change: StageChange) -> Bool {
        guard change.from != change.to, stages.contains(change.to) else { return false }
        guard let from else { return true }
        return change.from.map(from.contains) ?? false
    }
}
