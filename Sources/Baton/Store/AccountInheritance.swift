import BatonCore
import Foundation
import Postgres

extension Store {
    /// Account inheritance: when a company's owner changes from $2 to $3, its contacts and deals (ids
    /// not prefixed `company:` or `conversation:`; see RecordRef) that
    /// had the old owner follow it (one history row each, reason $5, instance $4), except those
    /// pinned by a manual reassignment and records merged away. The followers are locked in id order.
    /// Run in the transaction that changed the company's owner; a company left unowned ($3 NULL)
    /// moves nobody. Companies are given by id without the `company:` prefix ($1), and found under
    /// either spelling of the `company` attribute.
    static let followCompanyOwner = """
        WITH changed AS (
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS x(company, from_owner, to_owner, instance)
            WHERE x.to_owner IS NOT NULL AND x.from_owner IS DISTINCT FROM x.to_owner
        ), followers AS (
            SELECT f.id, x.from_owner, x.to_owner, x.instance FROM contacts f
            JOIN changed x ON f.attributes ? 'company' AND (f.attributes ->> 'company') IN (x.company, 'company:' || x.company)
            WHERE f.id NOT LIKE 'company:%' AND f.id NOT LIKE 'conversation:%' AND NOT f.pinned AND f.merged_into IS NULL
              AND f.owner IS NOT DISTINCT FROM x.from_owner
            ORDER BY f.id FOR NO KEY UPDATE OF f
        ), moved AS (
            UPDATE contacts c SET owner = fo.to_owner, team = coalesce(m.team, c.team), backup_owner = m.backup,
                previous_owner = c.owner, queued_since = NULL, updated_at = now()
            FROM followers fo LEFT JOIN members m ON m.id = fo.to_owner
            WHERE c.id = fo.id
            RETURNING c.id, fo.from_owner, fo.to_owner, c.team, fo.instance
        )
        INSERT INTO ownership_history (contact, from_owner, to_owner, team, reason, instance)
        SELECT id, from_owner, to_owner, team, $5, instance FROM moved ORDER BY id
        RETURNING contact
        """

    /// The reason recorded for records that follow their company's new owner.
    public static let companyOwnerChangedReason = "company owner changed"

    /// Moves the records that inherit from each changed company to its new owner; returns how many
    /// moved. `changes`: (company storage key, old owner, new owner, instance that changed it).
    @discardableResult
    func followCompanyOwners(_ changes: [(company: String, from: String?, to: String?, instance: Int?)],
                             on connection: Connection) async throws -> Int {
        // One change per company: its first old owner and its last new one.
        var order: [String] = []
        var collapsed: [String: (from: String?, to: String?, instance: Int?)] = [:]
        for change in changes where RecordRef(storageKey: change.company).kind == .company {
            let id = RecordRef(storageKey: change.company).id
            if let earlier = collapsed[id] {
                collapsed[id] = (earlier.from, change.to, change.instance ?? earlier.instance)
            } else {
                order.append(id)
                collapsed[id] = (change.from, change.to, change.instance)
            }
        }
        guard !order.isEmpty else { return 0 }
        typealias A = PostgresArrayLiteral
        let rows = try await connection.query(Self.followCompanyOwner, [
            A(order), A(order.map { collapsed[$0]!.from }), A(order.map { collapsed[$0]!.to }),
            A(order.map { collapsed[$0]!.instance }), Self.companyOwnerChangedReason,
        ])
        return rows.count
    }
}
