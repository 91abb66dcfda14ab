import BatonCore
import Foundation
import Postgres

/// One change of a record's lifecycle stage (`records show --json` and `contacts show --json`,
/// field `stages`): `record` names the record it happened to (the shown one, or one merged into it).
public struct StageHistoryEntry: Sendable, Codable {
    public var record: String
    public var from: String?
    public var to: String
    /// `stage lead -> customer (signal purchased)`.
    public var reason: String
    /// The instance whose handoff made the change.
    public var instance: String?
    /// The instances the change started (workflows whose `starts_on` matched it).
    public var started: [StartedInstance]
    public var at: Date
}

extension Store {
    /// The stage history of a record and of every record merged into it, in the order it happened,
    /// with the workflow of each instance a change started.
    static let selectStageHistory = """
        SELECT h.contact, h.from_stage, h.to_stage, h.reason, h.instance, h.at,
               coalesce((SELECT jsonb_agg(jsonb_build_object('workflow', i.workflow, 'instance', i.id::text) ORDER BY i.workflow, i.id)
                         FROM workflow_instances i WHERE i.id = ANY (h.started)), '[]') AS started
        FROM stage_history h
        WHERE h.contact = $1 OR h.contact IN (SELECT id FROM contacts WHERE merged_into = $1)
        ORDER BY h.id
        """

    /// The stage history of `record` (a storage key) and the records merged into it.
    func stageHistory(_ record: String, on connection: Connection) async throws -> [StageHistoryEntry] {
        try await connection.query(Self.selectStageHistory, [record]).map { h in
            StageHistoryEntry(
                record: RecordRef(storageKey: try h.decode("contact")).description, from: try h.decode("from_stage"),
                to: try h.decode("to_stage"), reason: try h.decode("reason"),
                instance: try h.decode(Int?.self, "instance").map(String.init),
                started: try h.decode(PostgresJSON<[StartedInstance]>.self, "started").value, at: try h.decode("at"))
        }
    }
}
