import BatonCore
import Foundation
import Postgres

/// An instance a stage change started (a workflow whose `starts_on` matched it).
public struct StartedInstance: Sendable, Codable, Equatable {
    public var workflow: String
    public var instance: String
}

/// What setting a record's lifecycle stage did (`records stage --json`, a signal's `stage`).
public struct StageOutcome: Sendable, Codable, Equatable {
    /// `KIND:ID`.
    public var record: String
    /// The stage it had; null when it had none.
    public var from: String?
    public var to: String
    /// False when the record was in that stage already: nothing was written, nothing started.
    public var changed: Bool
    /// Instances the change started, in workflow name order.
    public var started: [StartedInstance]
}

/// The lifecycle stages in force: the organisation's (the team file's `lifecycle:`, else the
/// defaults), and every stage a record may be set to (those, then the stages workflows list in
/// their own `lifecycle:`, which their handoffs may set).
public struct LifecycleStages: Sendable, Equatable {
    public var organisation: [String]
    public var settable: [String]
}

extension Store {
    /// The team file's stages in order; none stored means the defaults.
    static let selectLifecycleStages = "SELECT name FROM lifecycle_stages ORDER BY position"
    /// The stages the newest version of each workflow lists in its own `lifecycle:`.
    static let selectWorkflowStages = """
        SELECT DISTINCT jsonb_array_elements_text(w.spec -> 'lifecycle') AS stage
        FROM (SELECT DISTINCT ON (name) spec FROM workflow_definitions ORDER BY name, version DESC) w
        WHERE jsonb_typeof(w.spec -> 'lifecycle') = 'array'
        ORDER BY 1
        """
    /// `teams apply` with a `lifecycle:` list: the stored list is removed, then replaced by that one
    /// (`insertLifecycleStages`), in one transaction.
    static let deleteLifecycleStages = "DELETE FROM lifecycle_stages"
    /// The new list, positions 1, 2, 3… in the file's order.
    static let insertLifecycleStages = """
        INSERT INTO lifecycle_stages (name, position) SELECT s.name, s.n FROM unnest($1::text[]) WITH ORDINALITY AS s(name, n)
        """

    /// Locks the record's row for a stage change and reads its stage and the record it was merged
    /// into. FOR NO KEY UPDATE, like a worker's batch: a change waits for a batch that holds the
    /// record and vice versa, so the `from` stage read here is still the record's stage when the
    /// change commits; and it waits for a merge (FOR UPDATE), so `merged_into` is current too.
    static let lockRecordStage = "SELECT lifecycle_stage, merged_into FROM contacts WHERE id = $1 FOR NO KEY UPDATE"
    /// Sets the stage of a record locked by `lockRecordStage`.
    static let updateRecordStage = "UPDATE contacts SET lifecycle_stage = $2, updated_at = now() WHERE id = $1"
    /// The newest version of every workflow that starts on a stage change, with what is needed to
    /// match and start it (not the whole spec).
    static let selectStageTriggers = """
        SELECT w.name, w.version, w.spec -> 'startsOn' AS starts_on, w.spec ->> 'subject' AS subject, w.spec ->> 'start' AS start
        FROM (SELECT DISTINCT ON (name) name, version, spec FROM workflow_definitions ORDER BY name, version DESC) w
        WHERE w.spec ? 'startsOn'
        ORDER BY w.name
        """
    /// Starts $1 v$2 at step $3 for each record of $4 that has no live instance of it (the partial
    /// unique index `workflow_instances_one_live` makes a racing start a no-op, never a duplicate),
    /// due at once; wakes idle workers on commit. Created at $5, else the statement's clock time
    /// (later than the transaction's `now()`, so a signal that made the change, stored in this
    /// transaction, is not one the new instance sees as received after it began).
    static let startOnStageChange = """
        WITH started AS (
            INSERT INTO workflow_instances (workflow, version, contact, state, step, run_at, created_at, updated_at)
            SELECT $1, $2, r.contact, 'ready', $3, coalesce($5, clock_timestamp()), coalesce($5, clock_timestamp()),
                   coalesce($5, clock_timestamp())
            FROM unnest($4::text[]) AS r(contact)
            ON CONFLICT (workflow, contact) WHERE state NOT IN ('completed', 'cancelled') DO NOTHING
            RETURNING id, contact
        ), woken AS (
            SELECT pg_notify('baton_wake', $1) WHERE EXISTS (SELECT 1 FROM started)
        )
        SELECT id, contact FROM started WHERE (SELECT count(*) FROM woken) >= 0
        """
    /// Appends stage history rows, one per change, in the given order; `started` is a bigint array
    /// literal per row. At $7, else the transaction's time.
    static let insertStageHistory = """
        INSERT INTO stage_history (contact, from_stage, to_stage, reason, instance, started, at)
        SELECT h.contact, h.from_stage, h.to_stage, h.reason, h.instance, h.started::bigint[], coalesce($7, now())
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[])
            WITH ORDINALITY AS h(contact, from_stage, to_stage, reason, instance, started, n)
        ORDER BY h.n
        """

    /// The stages in force (see `LifecycleStages`).
    public func lifecycleStages() async throws -> LifecycleStages {
        try await pool.withConnection { try await lifecycleStages(on: $0) }
    }

    func lifecycleStages(on connection: Connection) async throws -> LifecycleStages {
        let stored = try await connection.query(Self.selectLifecycleStages).map { try $0.decode(String.self, at: 0) }
        let organisation = stored.isEmpty ? Lifecycle.defaultStages : stored
        let listed = try await connection.query(Self.selectWorkflowStages).map { try $0.decode(String.self, at: 0) }
        return LifecycleStages(organisation: organisation, settable: organisation + listed.filter { !organisation.contains($0) })
    }

    /// Replaces the stored organisation stages with `stages` (in the caller's transaction).
    func replaceLifecycleStages(_ stages: [String], on connection: Connection) async throws {
        try await connection.query(Self.deleteLifecycleStages)
        try await connection.query(Self.insertLifecycleStages, [stages])
    }

    /// What a stage set by hand is recorded as (the `cause` of `setStage`): `manual:ana` or
    /// `manual:ana: renewal signed`; `who` is `$BATON_USER` for batonctl, the token's name over HTTP.
    public static func manualStageCause(by who: String, reason: String?) -> String {
        let note = reason?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        return "manual:\(who)" + (note.isEmpty ? "" : ": \(note)")
    }

    /// Sets `record`'s (a storage key) lifecycle stage to `stage` by hand, in one transaction with
    /// its history row and the instances it starts. `cause` is what the history says moved it
    /// (`manualStageCause`). Unknown stage, unknown record or a record merged into another (its
    /// stage is the survivor's to set): an error, nothing written.
    public func setStage(record: String, to stage: String, cause: String) async throws -> StageOutcome {
        let stages = try await lifecycleStages()
        if let problem = Lifecycle.problem(with: stage, stages: stages.settable) { throw BatonError.invalid(problem) }
        return try await pool.transaction { connection in
            guard let outcome = try await changeStage(record, to: stage, cause: cause, refusingMerged: true, on: connection) else {
                throw BatonError.notFound(Self.unknownRecord(record))
            }
            return outcome
        }
    }

    /// `setStage` inside the caller's transaction, the stage already validated; nil when there is
    /// no such record. A record already in `stage` changes nothing. `refusingMerged`: a record merged
    /// into another is a conflict naming the survivor (checked under the row lock, so a merge
    /// committing meanwhile is seen).
    func changeStage(_ record: String, to stage: String, cause: String, refusingMerged: Bool = false,
                     on connection: Connection) async throws -> StageOutcome?
    {
        guard let row = try await connection.query(Self.lockRecordStage, [record]).first else { return nil }
        if refusingMerged, let survivor = try row.decode(String?.self, "merged_into") {
            throw BatonError.conflict(Self.mergedAway(record, into: survivor))
        }
        let from: String? = try row.decode("lifecycle_stage")
        let ref = RecordRef(storageKey: record).description
        guard from != stage else { return StageOutcome(record: ref, from: from, to: stage, changed: false, started: []) }
        try await connection.query(Self.updateRecordStage, [record, stage])
        let change = StageChange(record: record, from: from, to: stage, cause: cause)
        let started = try await recordStageChanges([(change, nil)], now: nil, on: connection)
        return StageOutcome(record: ref, from: from, to: stage, changed: true, started: started[0])
    }

    /// Records stage changes already made to the records' rows (in the caller's transaction, with
    /// those rows locked): starts the workflows whose `starts_on` matches each change (one live
    /// instance per workflow and record), then appends one history row per change naming what it
    /// started. `instance` is the instance whose handoff made the change. Returns, per change, the
    /// instances it started.
    func recordStageChanges(_ changes: [(change: StageChange, instance: Int?)], now: Date?, on connection: Connection)
        async throws -> [[StartedInstance]]
    {
        guard !changes.isEmpty else { return [] }
        var started = [[StartedInstance]](repeating: [], count: changes.count)
        var ids = [[Int]](repeating: [], count: changes.count)
        let triggers = try await stageTriggers(on: connection)
        for trigger in triggers {
            // The changes this workflow starts on; a record changed twice in a batch is started once.
            var first: [String: Int] = [:]
            for (index, entry) in changes.enumerated() where !entry.change.starts([trigger.definition]).isEmpty {
                if first[entry.change.record] == nil { first[entry.change.record] = index }
            }
            guard !first.isEmpty else { continue }
            let records = first.keys.sorted()
            for row in try await connection.query(Self.startOnStageChange, [
                trigger.name, trigger.version, trigger.definition.start, records, now,
            ]) {
                let id: Int = try row.decode("id"), record: String = try row.decode("contact")
                guard let index = first[record] else { continue }
                started[index].append(StartedInstance(workflow: trigger.name, instance: String(id)))
                ids[index].append(id)
            }
        }
        try await connection.query(Self.insertStageHistory, [
            changes.map(\.change.record), PostgresArrayLiteral(changes.map(\.change.from)), changes.map(\.change.to),
            changes.map(\.change.reason), PostgresArrayLiteral(changes.map(\.instance)),
            ids.map { PostgresArrayLiteral($0).postgresText }, now,
        ])
        return started
    }

    /// The workflows that start on a stage change, as matching needs them.
    private func stageTriggers(on connection: Connection) async throws
        -> [(name: String, version: Int, definition: WorkflowDefinition)]
    {
        try await connection.query(Self.selectStageTriggers).map { row in
            let startsOn = try row.decode(PostgresJSON<StartsOn>.self, "starts_on").value
            let subject = try row.decode(String?.self, "subject").flatMap(RecordKind.init(rawValue:))
            // Only what `StageChange.starts` reads; the instance runs on the stored version.
            let definition = WorkflowDefinition(name: try row.decode("name"), start: try row.decode("start"), steps: [],
                                                subject: subject, startsOn: startsOn)
            return (definition.name, try row.decode(Int.self, "version"), definition)
        }
    }

    /// The one line for a stage set on a record merged into `survivor` (both storage keys).
    static func mergedAway(_ record: String, into survivor: String) -> String {
        let target = RecordRef(storageKey: survivor)
        return "\(RecordRef(storageKey: record)) was merged into \(target): set the stage on \(target)"
    }

    /// The one line for a record that does not exist.
    static func unknownRecord(_ record: String) -> String {
        let ref = RecordRef(storageKey: record)
        if ref.kind != .contact {
            return "unknown record \(ref): enroll it first with `batonctl start WORKFLOW --record \(ref)`"
        }
        return "unknown contact \(record): enroll it first with `batonctl start WORKFLOW --contact \(record)`"
    }
}
