import BatonCore
import Foundation
import Postgres

/// A contact and its ownership history (the `contacts show --json` field names are a contract).
public struct ContactDetails: Sendable, Codable {
    public struct Change: Sendable, Codable {
        public var from: String?
        public var to: String?
        public var team: String?
        public var reason: String
        public var instance: String?
        public var at: Date
    }
    public var id: String
    public var attributes: [String: String]
    public var owner: String?
    public var backup: String?
    public var team: String?
    public var lifecycle: String?
    public var history: [Change]
    /// Its lifecycle stage changes (see `StageHistoryEntry`), for the text output. Not in the JSON,
    /// whose fields are pinned: `records show KIND:ID --json` carries them as `stages`.
    public var stages: [StageHistoryEntry] = []
    /// The storage key of the record this one was merged into, for the text output and the console
    /// (not in the JSON: `records show KIND:ID --json` carries it as `merged_into`).
    public var mergedInto: String? = nil

    enum CodingKeys: String, CodingKey { case id, attributes, owner, backup, team, lifecycle, history }
}

extension Store {
    /// One record by storage key, with the record it was merged into (if it was).
    static let selectContact = """
        SELECT id, attributes, owner, backup_owner, team, lifecycle_stage, merged_into FROM contacts WHERE id = $1
        """
    static let selectOwnershipHistory = """
        SELECT from_owner, to_owner, team, reason, instance, at FROM ownership_history WHERE contact = $1 ORDER BY id
        """

    public func contact(_ id: String) async throws -> ContactDetails? {
        try await pool.withConnection { connection in
            guard let row = try await connection.query(Self.selectContact, [id]).first else { return nil }
            let history = try await connection.query(Self.selectOwnershipHistory, [id]).map { h in
                ContactDetails.Change(
                    from: try h.decode("from_owner"), to: try h.decode("to_owner"), team: try h.decode("team"),
                    reason: try h.decode("reason"), instance: try h.decode(Int?.self, "instance").map(String.init),
                    at: try h.decode("at"))
            }
            return ContactDetails(
                id: try row.decode("id"), attributes: try row.decode(PostgresJSON<[String: String]>.self, "attributes").value,
                owner: try row.decode("owner"), backup: try row.decode("backup_owner"), team: try row.decode("team"),
                lifecycle: try row.decode("lifecycle_stage"), history: history,
                stages: try await stageHistory(id, on: connection), mergedInto: try row.decode("merged_into"))
        }
    }

    /// Gives a contact to a member by hand; recorded as `manual:<who>` in the ownership history. The
    /// record is pinned: it keeps this owner when its company's owner changes.
    static let reassignContact = """
        WITH member AS (SELECT id, team, backup FROM members WHERE id = $2),
        before AS (SELECT id, owner FROM contacts WHERE id = $1 FOR UPDATE),
        changed AS (
            UPDATE contacts c SET owner = m.id, team = m.team, backup_owner = m.backup, previous_owner = b.owner,
                queued_since = NULL, pinned = true, updated_at = now()
            FROM member m, before b WHERE c.id = b.id
            RETURNING c.id, b.owner AS from_owner, m.team
        ), history AS (
            INSERT INTO ownership_history (contact, from_owner, to_owner, team, reason)
            SELECT id, from_owner, $2, team, $3 FROM changed
        )
        SELECT (SELECT count(*) FROM before) AS contact, (SELECT count(*) FROM member) AS member,
               (SELECT count(*) FROM changed) AS changed, (SELECT owner FROM before) AS from_owner
        """

    /// Reassigns `contact` (a record's storage key) to `member`; a company's inheriting records
    /// follow in the same transaction. Returns how many records followed.
    @discardableResult
    public func reassign(contact: String, to member: String, reason: String) async throws -> Int {
        try await pool.transaction { connection in
            let row = try await connection.query(Self.reassignContact, [contact, member, reason])[0]
            if try row.decode(Int.self, "contact") == 0 {
                let ref = RecordRef(storageKey: contact)
                throw BatonError.notFound(ref.kind == .contact ? "no contact \(contact)" : "no record \(ref)")
            }
            if try row.decode(Int.self, "member") == 0 {
                throw BatonError.notFound("no member \(member): see your team file (batonctl teams apply FILE)")
            }
            guard contact.hasPrefix("company:") else { return 0 }
            let from: String? = try row.decode("from_owner")
            return try await followCompanyOwners([(company: contact, from: from, to: member, instance: nil)], on: connection)
        }
    }
}
