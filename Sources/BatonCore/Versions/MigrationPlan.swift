import Foundation

/// Live instances of one version standing at one step (what the planner is told about them).
public struct StandingInstances: Hashable, Sendable {
    public var step: String
    public var count: Int
    /// Some of their ids (the first few), for messages.
    public var sample: [Int]

    public init(step: String, count: Int, sample: [Int]) {
        self.step = step
        self.count = count
        self.sample = sample
    }
}

/// What `batonctl instances migrate` will do, decided before anything changes.
public struct MigrationPlan: Hashable, Sendable {
    /// One group of instances moving from a step of the old version to a step of the new one.
    public struct Move: Hashable, Sendable {
        public var from: String
        public var to: String
        public var kind: String
        public var count: Int
        public var sample: [Int]
    }

    public var workflow: String
    public var fromVersion: Int
    public var toVersion: Int
    /// The groups of selected instances and where they go, in the old version's step order.
    public var moves: [Move]
    /// Every step of the old version that has a compatible step in the new one, and that step. The
    /// apply moves an instance only from a step listed here, so one that a worker moved on meanwhile
    /// to a step without a counterpart is left where it is (and reported), never put on a missing step.
    public var mapping: [String: String]
    /// The new version: its waits give moved instances their event, and their deadline when recomputed.
    public var target: WorkflowDefinition

    /// How many instances the plan moves.
    public var total: Int { moves.reduce(0) { $0 + $1.count } }

    /// Where a waiting instance moved to `step` waits until. The deadline it had is kept, unless
    /// `recompute`: then the new wait's duration is counted again from when the wait began, on the
    /// new wait's clock and calendar.
    public func deadline(at step: String, waitStartedAt: Date?, kept: Date?, recompute: Bool, calendars: [String: BusinessCalendar]) -> Date? {
        guard recompute, let started = waitStartedAt, case .waitForSLA(let wait, _, _)? = target.step(step)?.action else { return kept }
        if wait.clock == .businessHours, let name = wait.calendar, let calendar = calendars[name] {
            return BusinessClock.deadline(from: started, adding: wait.within.seconds, in: calendar)
        }
        return started.addingTimeInterval(TimeInterval(wait.within.seconds))
    }

    /// The event the new step waits for; nil when it is not a wait.
    public func waitEvent(at step: String) -> String? {
        if case .waitForSLA(let wait, _, _)? = target.step(step)?.action { return wait.event }
        return nil
    }
}

/// Why a migration was refused: every problem, each naming the step and the instances standing there.
public struct MigrationRefusal: Error, Hashable, Sendable, CustomStringConvertible {
    public var problems: [String]
    public var description: String { problems.joined(separator: "\n") }
}

/// Plans moving live instances from one version of a workflow to another.
public enum MigrationPlanner {
    /// Checks that every step where a selected instance stands maps to a step of `target` of the same
    /// kind (a wait to a wait; explicit `map` entries first, else the step of the same id).
    /// - Throws: `MigrationRefusal` listing every problem; nothing is planned then.
    public static func plan(
        workflow: String, fromVersion: Int, source: StepOutline, toVersion: Int, target: WorkflowDefinition,
        map: [String: String], standing: [StandingInstances]
    ) throws -> MigrationPlan {
        var problems: [String] = []
        let here = "\(workflow) v\(fromVersion)", there = "\(workflow) v\(toVersion)"
        if fromVersion == toVersion { problems.append("--from-version and --to-version are both \(fromVersion): nothing to migrate") }
        if target.name != workflow { problems.append("version \(toVersion) belongs to \(target.name), not \(workflow)") }
        for (old, new) in map.sorted(by: { $0.key < $1.key }) {
            if source.kinds[old] == nil, !standing.contains(where: { $0.step == old }) {
                problems.append("--map \(old)=\(new): \(here) has no step \(old) (steps: \(source.ids.joined(separator: ", ")))")
            }
            if target.step(new) == nil {
                problems.append("--map \(old)=\(new): \(there) has no step \(new) (steps: \(target.steps.map(\.id).joined(separator: ", ")))")
            }
        }

        var mapping: [String: String] = [:]
        for id in source.ids {
            let to = map[id] ?? id
            if let kind = target.step(to)?.action.kind, kind == source.kinds[id] { mapping[id] = to }
        }

        var moves: [MigrationPlan.Move] = []
        let order = Dictionary(source.ids.enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { a, _ in a })
        for group in standing.sorted(by: { (order[$0.step] ?? .max, $0.step) < (order[$1.step] ?? .max, $1.step) }) {
            let who = "\(group.count) instance(s) stand there (\(sample(group)))"
            let to = map[group.step] ?? group.step
            let kind = source.kinds[group.step]
            guard let targetStep = target.step(to) else {
                if map[group.step] == nil {
                    problems.append("step \(group.step)\(kind.map { " (\($0))" } ?? "") is not in \(there): \(who); map it with --map \(group.step)=STEP")
                }
                continue
            }
            let targetKind = targetStep.action.kind
            if let kind, kind != targetKind {
                let rule = kind == "wait_for_sla" ? "a wait can only move to a wait" : "a step can only move to a step of the same kind"
                problems.append("step \(group.step) (\(kind)) would move to \(to) (\(targetKind)) in \(there): \(rule); \(who); choose another with --map \(group.step)=STEP")
                continue
            }
            if kind == nil, map[group.step] == nil {
                problems.append("step \(group.step) is not in \(here) itself: \(who); say where they go with --map \(group.step)=STEP")
                continue
            }
            mapping[group.step] = to
            moves.append(MigrationPlan.Move(from: group.step, to: to, kind: targetKind, count: group.count, sample: group.sample))
        }
        if !problems.isEmpty { throw MigrationRefusal(problems: problems) }
        return MigrationPlan(workflow: workflow, fromVersion: fromVersion, toVersion: toVersion, moves: moves,
                             mapping: mapping, target: target)
    }

    private static func sample(_ group: StandingInstances) -> String {
        let ids = group.sample.prefix(5).map(String.init).joined(separator: ", ")
        return group.count > min(5, group.sample.count) ? ids + ", …" : ids
    }
}
