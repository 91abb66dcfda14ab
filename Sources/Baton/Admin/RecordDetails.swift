import BatonCore
import Foundation
import Postgres

/// A record of any kind with its ownership fields and whole history (`records show --json`).
public struct RecordDetails: Sendable, Codable {
    /// One ownership change; `record` names the record it happened to (the shown one, or one merged into it).
    public struct Change: Sendable, Codable {
        public var record: String
        public var from: String?
        public var to: String?
        public var team: String?
        public var reason: String
        public var instance: String?
        public var at: Date
    }
    /// `KIND:ID`.
    public var record: String
    public var kind: String
    public var id: String
    public var attributes: [String: String]
    public var owner: String?
    public var backup: String?
    public var team: String?
    public var status: String?
    public var priority: String?
    public var source: String?
    public var lifecycle: String?
    /// The company it belongs to (`company:ID`), and for a conversation its contact.
    public var company: String?
    public var contact: String?
    /// The reason of its last assignment (the newest history row's).
    public var reason: String?
    /// Reassigned by hand: keeps its owner when its company's owner changes.
    public var pinned: Bool
    /// Set when this record was merged into another (`KIND:ID`).
    public var mergedInto: String?
    /// Records merged into this one (`KIND:ID`).
    public var merged: [String]
    public var history: [Change]
    /// Its lifecycle stage changes (and those of the records merged into it).
    public var stages: [StageHistoryEntry]

    enum CodingKeys: String, CodingKey {
        case record, kind, id, attributes, owner, backup, team, status, priority, source, lifecycle, company, contact
        case reason, pinned, merged, history, stages
        case mergedInto = "merged_into"
    }

    public func encode(to encoder: Encoder) throws {
        // Every field is present, null when unset: scripts read fields, not their absence.
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(record, forKey: .record); try c.encode(kind, forKey: .kind); try c.encode(id, forKey: .id)
        try c.encode(attributes, forKey: .attributes)
        for (key, value) in [(CodingKeys.owner, owner), (.backup, backup), (.team, team), (.status, status),
                             (.priority, priority), (.source, source), (.lifecycle, lifecycle), (.company, company),
                             (.contact, contact), (.reason, reason), (.mergedInto, mergedInto)] {
            try c.encode(value, forKey: key)
        }
        try c.encode(pinned, forKey: .pinned); try c.encode(merged, forKey: .merged); try c.encode(history, forKey: .history)
        try c.encode(stages, forKey: .stages)
    }
}

extension Store {
    /// One record by storage key, with the records merged into it.
    static let selectRecord = """
        SELECT id, attributes, owner, backup_owner, team, lifecycle_stage, attributes ->> 'status' AS status,
               attributes ->> 'priority' AS priority, attributes ->> 'source' AS source,
               attributes ->> 'company' AS company, attributes ->> 'contact' AS parent_contact, pinned, merged_into,
               coalesce((SELECT jsonb_agg(m.id ORDER BY m.id) FROM contacts m WHERE m.merged_into = $1), '[]') AS merged
        FROM contacts WHERE id = $1
        """
    /// The ownership history of a record and of every record merged into it, in the order it happened.
    static let selectRecordHistory = """
        SELECT contact, from_owner, to_owner, team, reason, instance, at FROM ownership_history
        WHERE contact = $1 OR contact IN (SELECT id FROM contacts WHERE merged_into = $1)
        ORDER BY id
        """

    /// A record of any kind (`ref`), or nil.
    public func record(_ ref: RecordRef) async throws -> RecordDetails? {
        try await pool.withConnection { connection in
            let key = ref.storageKey
            guard let row = try await connection.query(Self.selectRecord, [key]).first else { return nil }
            let history = try await connection.query(Self.selectRecordHistory, [key]).map { h in
                RecordDetails.Change(
                    record: RecordRef(storageKey: try h.decode("contact")).description,
                    from: try h.decode("from_owner"), to: try h.decode("to_owner"), team: try h.decode("team"),
                    reason: try h.decode("reason"), instance: try h.decode(Int?.self, "instance").map(String.init),
                    at: try h.decode("at"))
            }
            let company: String? = try row.decode("company")
            let contact: String? = try row.decode("parent_contact")
            let merged = try row.decode(PostgresJSON<[String]>.self, "merged").value
            return RecordDetails(
                record: ref.description, kind: ref.kind.rawValue, id: ref.id,
                attributes: try row.decode(PostgresJSON<[String: String]>.self, "attributes").value,
                owner: try row.decode("owner"), backup: try row.decode("backup_owner"), team: try row.decode("team"),
                status: try row.decode("status"), priority: try row.decode("priority"), source: try row.decode("source"),
                lifecycle: try row.decode("lifecycle_stage"),
                company: RecordRef.company(named: company)?.description,
                contact: contact.flatMap { RecordRef(parsing: $0) }?.description,
                reason: history.last(where: { $0.record == ref.description })?.reason,
                pinned: try row.decode("pinned"),
                mergedInto: try row.decode(String?.self, "merged_into").map { RecordRef(storageKey: $0).description },
                merged: merged.map { RecordRef(storageKey: $0).description },
                history: history, stages: try await stageHistory(key, on: connection))
        }
    }
}
