import BatonCore
import Foundation
import Postgres

/// An outbox row as the relay delivers it and `outbox list` shows it.
public struct OutboxMessage: Sendable, Codable {
    public var id: String
    public var key: String
    public var instance: String?
    public var workflow: String?
    public var step: String?
    public var contact: String?
    public var channel: String
    public var recipient: String?
    public var recipient_email: String?
    public var message: String
    /// An email's subject from the notify step (`subject:`), rendered; nil: the channel's own.
    public var subject: String?
    public var status: String
    public var attempts: Int
    public var next_attempt_at: Date
    public var last_error: String?
    public var created_at: Date
    public var delivered_at: Date?
    /// `notification` (a notify step's message), `owner_sync` (write the contact's current owner to
    /// a CRM channel) or `owner_changed` (an `owner.changed` event for a webhook channel).
    public var kind: String
    /// Where the delivery goes, as `outbox list` shows it under TO: the recipient of a
    /// notification; for a CRM write-back the record and the owner id it sent (or, not sent yet,
    /// would send now), e.g. `hubspot:contact/123 → owner 456`; for an `owner.changed` event the
    /// contact. Only listings fill it (nil in what the relay claims).
    public var target: String?
}

extension OutboxMessage {
    /// The TO of a write-back row: `<crm>:<object>/<record> → owner <id>`. `crmOwner` is the id
    /// it sent ('' cleared the owner), else nil with `ownerNow` (the contact's owner now, a member)
    /// and `ownerNowID` (that member's id in the CRM).
    static func writeBackTarget(crm: String, object: String?, contact: String?, crmOwner: String?,
                                ownerNow: String?, ownerNowID: String?) -> String {
        let record = "\(crm):\(object ?? "contact")/\(contact ?? "?")"
        switch (crmOwner, ownerNow, ownerNowID) {
        case ("", _, _): return "\(record) → no owner"
        case (let sent?, _, _): return "\(record) → owner \(sent)"
        case (nil, let member?, let id?) where !id.isEmpty: return "\(record) → owner \(id) (\(member))"
        case (nil, let member?, _): return "\(record) → \(member) (no \(crm) id)"
        case (nil, nil, _): return "\(record) → no owner"
        }
    }
}

extension Store {
    /// Claims due deliveries with SKIP LOCKED; `attempts` + 1 is the claim's fencing token and
    /// `next_attempt_at` is pushed out by the lease, so a relay that dies mid-delivery leaves the
    /// row due again after the lease: it is sent again with the same idempotency key.
    static let claimOutbox = PreparedStatement(name: "baton_claim_outbox", sql: """
        WITH due AS (
            SELECT id FROM outbox o WHERE status IN ('pending', 'delivering') AND next_attempt_at <= now()
              -- One write-back per channel and contact in flight at a time: a later one waits until
              -- the earlier one's answer is recorded (or its lease ends), so the CRM never gets an
              -- older owner after a newer one.
              AND (o.kind <> 'owner_sync' OR NOT EXISTS (
                  SELECT 1 FROM outbox d
                  WHERE d.kind = 'owner_sync' AND d.status = 'delivering' AND d.channel = o.channel
                    AND d.contact = o.contact AND d.id <> o.id AND d.next_attempt_at > now()))
            ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED
        )
        UPDATE outbox o SET status = 'delivering', attempts = o.attempts + 1,
            next_attempt_at = now() + $2 * interval '1 millisecond'
        FROM due WHERE o.id = due.id
        RETURNING o.id, o.idempotency_key, o.instance, o.workflow, o.step, o.contact, o.channel, o.recipient,
            o.recipient_email, o.message, o.subject, o.status, o.attempts, o.next_attempt_at, o.last_error, o.created_at,
            o.delivered_at, o.kind
        """)

    static func outboxMessage(_ row: Row) throws -> OutboxMessage {
        OutboxMessage(
            id: String(try row.decode(Int.self, "id")), key: try row.decode("idempotency_key"),
            instance: try row.decode(Int?.self, "instance").map(String.init), workflow: try row.decode("workflow"),
            step: try row.decode("step"), contact: try row.decode("contact"), channel: try row.decode("channel"),
            recipient: try row.decode("recipient"), recipient_email: try row.decode("recipient_email"),
            message: try row.decode("message"), subject: try row.decode("subject"), status: try row.decode("status"),
            attempts: try row.decode("attempts"),
            next_attempt_at: try row.decode("next_attempt_at"), last_error: try row.decode("last_error"),
            created_at: try row.decode("created_at"), delivered_at: try row.decode("delivered_at"), kind: try row.decode("kind"),
            target: nil)
    }

    /// A listed row, with its target (see `listOutbox`).
    static func listedOutboxMessage(_ row: Row) throws -> OutboxMessage {
        var message = try outboxMessage(row)
        switch message.kind {
        case "owner_sync":
            message.target = OutboxMessage.writeBackTarget(
                crm: try row.decode(String?.self, "channel_type") ?? message.channel, object: try row.decode("crm_object"),
                contact: message.contact, crmOwner: try row.decode("crm_owner"), ownerNow: try row.decode("owner_now"),
                ownerNowID: try row.decode("owner_now_crm"))
        case "owner_changed":
            message.target = "owner.changed of \(message.contact ?? "?")"
        default:
            message.target = message.recipient
        }
        return message
    }

    public func claimOutbox(limit: Int, lease: Duration) async throws -> [OutboxMessage] {
        let millis = lease.wholeMilliseconds
        return try await pool.withConnection { connection in
            try await connection.query(Self.claimOutbox, [limit, millis]).map(Self.outboxMessage)
        }
    }

    /// Marks a claimed delivery's outcome; matches only the claim that made attempt $2. $6 is 1 when
    /// the attempt does not count (deferred by a rate limit or a 429): it is given back.
    static let finishDelivery = """
        UPDATE outbox SET status = $3, last_error = $4, attempts = attempts - $6,
            next_attempt_at = CASE WHEN $3 = 'pending' THEN now() + $5 * interval '1 millisecond' ELSE next_attempt_at END,
            delivered_at = CASE WHEN $3 = 'delivered' THEN now() END
        WHERE id = $1 AND attempts = $2 AND status = 'delivering'
        """

    public enum DeliveryOutcome: Sendable {
        case delivered
        case retry(after: Duration, error: String)
        /// Not sent yet, and not a failure: a rate limit (ours, or the receiver's 429) says later.
        /// The attempt is given back.
        case deferred(after: Duration, note: String)
        case dead(String)
    }

    public func finishDelivery(id: Int, attempt: Int, _ outcome: DeliveryOutcome) async throws {
        let (status, error, delay, refund): (String, String?, Int, Int) = switch outcome {
        case .delivered: ("delivered", nil, 0, 0)
        case .retry(let after, let error):
            ("pending", error, after.wholeMilliseconds, 0)
        case .deferred(let after, let note): ("pending", note, after.wholeMilliseconds, 1)
        case .dead(let error): ("dead", error, 0, 0)
        }
        try await pool.withConnection { connection in
            try await connection.query(Self.finishDelivery, [id, attempt, status, error, delay, refund])
        }
    }

    /// The newest deliveries (of status $1 when given), with what a write-back's target needs: the
    /// channel's CRM and object, the owner id it sent, and — not sent yet — the contact's owner now
    /// and that member's id in the CRM.
    static let listOutbox = """
        SELECT o.id, o.idempotency_key, o.instance, o.workflow, o.step, o.contact, o.channel, o.recipient, o.recipient_email,
               o.message, o.subject, o.status, o.attempts, o.next_attempt_at, o.last_error, o.created_at, o.delivered_at, o.kind,
               o.crm_owner, ch.type AS channel_type, ch.spec ->> 'object' AS crm_object,
               c.owner AS owner_now, m.crm ->> ch.type AS owner_now_crm
        FROM (SELECT * FROM outbox WHERE ($1::text IS NULL OR status = $1) ORDER BY id DESC LIMIT $2) o
        LEFT JOIN channels ch ON ch.name = o.channel
        LEFT JOIN contacts c ON o.kind = 'owner_sync' AND o.crm_owner IS NULL AND c.id = o.contact
        LEFT JOIN members m ON m.id = c.owner
        ORDER BY o.id DESC
        """

    public func outbox(status: String?, limit: Int) async throws -> [OutboxMessage] {
        try await pool.withConnection { connection in
            try await connection.query(Self.listOutbox, [status, limit]).map(Self.listedOutboxMessage)
        }
    }

    /// Deliveries waiting or dead, per channel and status: the pending ones through `outbox_due`,
    /// the dead ones through `outbox_dead`, never the delivered history.
    static let countOutboxByChannel = """
        SELECT channel, status, count(*) AS n FROM outbox WHERE status IN ('pending', 'delivering') GROUP BY channel, status
        UNION ALL
        SELECT channel, 'dead', count(*) FROM outbox WHERE status = 'dead' GROUP BY channel
        """

    /// How many deliveries wait (`pending`, `delivering`) or are `dead`, per channel and status.
    public func outboxCountsByChannel() async throws -> [String: [String: Int]] {
        try await pool.withConnection { connection in
            var counts: [String: [String: Int]] = [:]
            for row in try await connection.query(Self.countOutboxByChannel) {
                counts[try row.decode("channel"), default: [:]][try row.decode("status")] = try row.decode(Int.self, "n")
            }
            return counts
        }
    }

    /// Makes dead deliveries pending again, with a fresh attempt budget.
    static let retryOutbox = """
        UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = now(), last_error = NULL
        WHERE status = 'dead' AND ($1::bigint IS NULL OR id = $1)
        RETURNING id
        """

    public func retryOutbox(id: Int?) async throws -> [Int] {
        try await pool.withConnection { connection in
            try await connection.query(Self.retryOutbox, [id]).map { try $0.decode(Int.self, at: 0) }
        }
    }

    static let selectChannels = "SELECT spec FROM channels"

    public func channels() async throws -> [String: Channel] {
        try await pool.withConnection { connection in
            var result: [String: Channel] = [:]
            for row in try await connection.query(Self.selectChannels) {
                let channel = try row.decode(PostgresJSON<Channel>.self, "spec").value
                result[channel.name] = channel
            }
            return result
        }
    }
}

extension Store {
    /// Deliveries not finished (pending, or in flight under a lease) and how long until the first
    /// of them is due (zero or less: due now). Uses the `outbox_due` partial index.
    static let outboxBacklog = """
        SELECT count(*) AS waiting, extract(epoch FROM min(next_attempt_at) - now())::float8 AS due_in
        FROM outbox WHERE status IN ('pending', 'delivering')
        """

    /// How many deliveries are not finished, and when the first of them is due (nil when none).
    public func outboxBacklog() async throws -> (waiting: Int, dueIn: Duration?) {
        try await pool.withConnection { connection in
            let row = try await connection.query(Self.outboxBacklog)[0]
            let seconds = try row.decode(Double?.self, "due_in")
            return (try row.decode(Int.self, "waiting"), seconds.map { .milliseconds(Int64(max(0, min($0, 1e9)) * 1000)) })
        }
    }
}

extension Store {
    /// A member's email as the team file holds it now (an email delivery queued before the address
    /// was added finds it on retry); no row when there is no such member.
    static let selectMemberEmail = "SELECT email FROM members WHERE id = $1"

    /// Whether `member` exists, and its email address now.
    public func memberEmail(_ member: String) async throws -> (known: Bool, email: String?) {
        try await pool.withConnection { connection in
            let rows = try await connection.query(Self.selectMemberEmail, [member])
            guard let row = rows.first else { return (false, nil) }
            return (true, try row.decode(String?.self, "email"))
        }
    }
}
