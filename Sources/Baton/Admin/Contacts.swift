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
}

/// One finding of `audit`.
public struct AuditFinding: Sendable, Codable {
    /// unowned | inactive_owner | out_of_office_owner | over_capacity | high_load | queued_too_long
    public var kind: String
    public var contact: String?
    public var member: String?
    public var team: String?
    public var detail: String
}

extension Store {
    static let selectContact = """
        SELECT id, attributes, owner, backup_owner, team, lifecycle_stage FROM contacts WHERE id = $1
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
                lifecycle: try row.decode("lifecycle_stage"), history: history)
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

    /// Ownership problems: unowned contacts, owners who are inactive or out of office, members over
    /// capacity or with more than twice their team's median open work, contacts queued too long.
    static let selectAudit = """
        WITH live AS (
            SELECT DISTINCT contact FROM workflow_instances WHERE state IN ('ready', 'running', 'waiting')
        ), open AS (
            SELECT m.id, m.team, m.capacity, count(l.contact) AS n
            FROM members m LEFT JOIN contacts c ON c.owner = m.id LEFT JOIN live l ON l.contact = c.id
            WHERE m.active GROUP BY m.id, m.team, m.capacity
        ), medians AS (
            SELECT team, percentile_cont(0.5) WITHIN GROUP (ORDER BY n) AS median FROM open GROUP BY team
        )
        SELECT 'unowned' AS kind, c.id AS contact, NULL AS member, c.team,
               'no owner' || CASE WHEN c.queued_since IS NOT NULL THEN ' (queued since ' || c.queued_since || ')' ELSE '' END AS detail
        FROM contacts c JOIN live l ON l.contact = c.id WHERE c.owner IS NULL
          AND (c.queued_since IS NULL OR c.queued_since >= now() - $1 * interval '1 second')
        UNION ALL
        SELECT 'queued_too_long', c.id, NULL, c.team, 'queued unowned since ' || c.queued_since
        FROM contacts c JOIN live l ON l.contact = c.id
        WHERE c.owner IS NULL AND c.queued_since < now() - $1 * interval '1 second'
        UNION ALL
        SELECT 'inactive_owner', c.id, m.id, c.team, 'owned by ' || m.id || ', who is inactive'
        FROM contacts c JOIN members m ON m.id = c.owner WHERE NOT m.active
        UNION ALL
        SELECT 'out_of_office_owner', c.id, m.id, c.team, 'owned by ' || m.id || ', out of office until ' || m.out_of_office_until
        FROM contacts c JOIN members m ON m.id = c.owner WHERE m.active AND m.out_of_office_until >= current_date
        UNION ALL
        SELECT 'over_capacity', NULL, o.id, o.team, o.n || ' open, capacity ' || o.capacity
        FROM open o WHERE o.capacity IS NOT NULL AND o.n > o.capacity
        UNION ALL
        SELECT 'high_load', NULL, o.id, o.team, o.n || ' open, more than twice the team median of ' || md.median
        FROM open o JOIN medians md ON md.team = o.team WHERE o.n > 2 * md.median AND o.n >= 3
        ORDER BY kind, contact, member
        """

    public func audit(queuedLongerThan seconds: Int) async throws -> [AuditFinding] {
        try await pool.withConnection { connection in
            try await connection.query(Self.selectAudit, [seconds]).map { row in
                AuditFinding(kind: try row.decode("kind"), contact: try row.decode("contact"), member: try row.decode("member"),
                             team: try row.decode("team"), detail: try row.decode("detail"))
            }
        }
    }
}
