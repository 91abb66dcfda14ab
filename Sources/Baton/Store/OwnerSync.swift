import BatonCore
import Foundation
import Postgres

/// What a write-back delivery found when it read the contact: the owner to send and what the CRM
/// holds as far as Baton knows.
public struct OwnerToWrite: Sendable, Equatable {
    /// Whether the contact exists.
    public var known: Bool
    /// The contact's owner (a member id), nil when unowned (queued).
    public var owner: String?
    /// The owner's id in this CRM (the member's `crm` entry), nil when the member has none.
    public var crmID: String?
    /// The CRM's owner id as far as Baton knows (written with a 2xx answer, or reported by the CRM).
    public var crmHolds: String?
    /// Who set `crmHolds` last: `baton` (a write the CRM accepted) or `crm` (the CRM reported it: a person).
    public var crmHoldsOrigin: String?
}

/// A call taken from a channel's shared rate limit.
public struct RateTake: Sendable, Equatable {
    /// Whether a call was granted; when it was, send after `wait`.
    public var granted: Bool
    /// Granted: how long until the reserved slot. Refused: how long until asking again is worthwhile.
    public var wait: Duration
}

extension Store {
    /// The contact's owner now, that owner's id in the CRM ($3: `hubspot` or `salesforce`), and
    /// what the CRM holds for the contact on channel $2 as far as Baton knows. Read when a
    /// write-back is sent, so every delivery sends the newest owner whatever order they run in.
    static let selectOwnerToWrite = """
        SELECT c.id IS NOT NULL AS known, c.owner, m.crm ->> $3 AS crm_id, s.crm_owner, s.origin
        FROM (SELECT $1::text AS id) k
        LEFT JOIN contacts c ON c.id = k.id
        LEFT JOIN members m ON m.id = c.owner
        LEFT JOIN crm_owners s ON s.channel = $2 AND s.contact = k.id
        """

    /// Reads what a write-back for `contact` on `channel` (of CRM type `type`) should send now.
    public func ownerToWrite(contact: String, channel: String, type: ChannelType) async throws -> OwnerToWrite {
        try await pool.withConnection { connection in
            let row = try await connection.query(Self.selectOwnerToWrite, [contact, channel, type.rawValue])[0]
            return OwnerToWrite(known: try row.decode("known"), owner: try row.decode("owner"),
                                crmID: try row.decode("crm_id"), crmHolds: try row.decode("crm_owner"),
                                crmHoldsOrigin: try row.decode("origin"))
        }
    }

    /// Records the owner id Baton is about to send (before the call, so an echo that overtakes the
    /// answer is still recognised as Baton's own write), adds it to the ids Baton ever sent the
    /// contact with the time of this send (so a late echo of an older write is recognised too), and
    /// notes it on outbox row $4 (what `outbox list` shows as the row's target).
    static let recordOwnerSending = """
        WITH noted AS (
            UPDATE outbox SET crm_owner = $3 WHERE id = $4
        )
        INSERT INTO crm_owners AS s (channel, contact, sent_owner, sent_owners, sent_at, origin)
        VALUES ($1, $2, $3, ARRAY[$3], clock_timestamp(), 'baton')
        ON CONFLICT (channel, contact) DO UPDATE SET sent_owner = EXCLUDED.sent_owner,
            sent_owners = CASE WHEN EXCLUDED.sent_owner = ANY (s.sent_owners) THEN s.sent_owners
                               ELSE s.sent_owners || EXCLUDED.sent_owner END,
            sent_at = EXCLUDED.sent_at, updated_at = now()
        """

    /// Records that the CRM accepted owner id $3 for the contact (a 2xx answer to Baton's write).
    static let recordOwnerWritten = """
        INSERT INTO crm_owners (channel, contact, crm_owner, sent_owner, origin) VALUES ($1, $2, $3, $3, 'baton')
        ON CONFLICT (channel, contact) DO UPDATE SET crm_owner = EXCLUDED.crm_owner, origin = 'baton', updated_at = now()
        """

    /// Records that outbox row `outbox` is about to send `crmOwner` for `contact` on `channel`.
    public func recordOwnerSending(channel: String, contact: String, crmOwner: String, outbox: Int) async throws {
        try await pool.withConnection { try await $0.query(Self.recordOwnerSending, [channel, contact, crmOwner, outbox]) }
    }

    public func recordOwnerWritten(channel: String, contact: String, crmOwner: String) async throws {
        try await pool.withConnection { try await $0.query(Self.recordOwnerWritten, [channel, contact, crmOwner]) }
    }

    /// Takes one call from channel $1's token bucket (capacity 1 call, refilled at $2 calls/s), in
    /// one upsert, so all relays share it. The bucket may go negative down to -$3 (slots reserved
    /// up to $3 / rate seconds ahead); a take that would go deeper, or while a 429 blocks the
    /// channel, is refused and changes nothing but the refill. clock_timestamp() in SET, not
    /// now() nor EXCLUDED's: the time once the row lock is held, so a take that waited for the
    /// lock never moves refilled_at back (which would count an interval's refill twice).
    static let takeRateCall = """
        INSERT INTO channel_rates AS r (channel, tokens, refilled_at, granted) VALUES ($1, 0, clock_timestamp(), true)
        ON CONFLICT (channel) DO UPDATE SET
            tokens = least(1, r.tokens + greatest(0, extract(epoch FROM clock_timestamp() - r.refilled_at)) * $2::float8)
                     - CASE WHEN coalesce(r.blocked_until <= clock_timestamp(), true)
                             AND least(1, r.tokens + greatest(0, extract(epoch FROM clock_timestamp() - r.refilled_at)) * $2::float8)
                                 - 1 >= -($3::float8)
                            THEN 1 ELSE 0 END,
            granted = coalesce(r.blocked_until <= clock_timestamp(), true)
                      AND least(1, r.tokens + greatest(0, extract(epoch FROM clock_timestamp() - r.refilled_at)) * $2::float8)
                          - 1 >= -($3::float8),
            refilled_at = greatest(r.refilled_at, clock_timestamp())
        RETURNING granted, tokens,
            greatest(0, extract(epoch FROM blocked_until - refilled_at))::float8 AS blocked_for
        """

    /// Takes a call on `channel` limited to `rate`; slots are reserved at most `horizon` ahead.
    public func takeRateCall(channel: String, rate: ChannelRate, horizon: Duration) async throws -> RateTake {
        let perSecond = rate.perSecond
        let depth = max(0, Double(horizon.wholeMilliseconds) / 1000 * perSecond)
        return try await pool.withConnection { connection in
            let row = try await connection.query(Self.takeRateCall, [channel, perSecond, depth])[0]
            let granted: Bool = try row.decode("granted")
            let tokens: Double = try row.decode("tokens")
            let blocked = try row.decode(Double?.self, "blocked_for") ?? 0
            if granted { return RateTake(granted: true, wait: .seconds(max(0, -tokens) / perSecond)) }
            let behind = max(0, (-(tokens - 1) - depth) / perSecond)
            return RateTake(granted: false, wait: .seconds(max(blocked, behind, 0.05)))
        }
    }

    /// A 429 on channel $1: no relay takes a call for $2 ms. Slots already reserved stay reserved
    /// (their holders check `channelBlockedFor` before sending), so calls after the block do not
    /// double up with them.
    static let blockChannel = """
        INSERT INTO channel_rates AS r (channel, tokens, refilled_at, blocked_until, granted)
        VALUES ($1, 0, clock_timestamp(), clock_timestamp() + $2 * interval '1 millisecond', false)
        ON CONFLICT (channel) DO UPDATE SET blocked_until = greatest(r.blocked_until, EXCLUDED.blocked_until)
        """

    public func blockChannel(_ channel: String, for duration: Duration) async throws {
        try await pool.withConnection { try await $0.query(Self.blockChannel, [channel, duration.wholeMilliseconds]) }
    }

    /// How long channel $1 stays blocked by a 429 (0 when it is not).
    static let selectChannelBlock = """
        SELECT greatest(0, extract(epoch FROM blocked_until - clock_timestamp()))::float8 FROM channel_rates WHERE channel = $1
        """

    /// How long a 429 still blocks `channel`; zero when it does not.
    public func channelBlockedFor(_ channel: String) async throws -> Duration {
        try await pool.withConnection { connection in
            guard let row = try await connection.query(Self.selectChannelBlock, [channel]).first else { return .zero }
            return .seconds(try row.decode(Double?.self, at: 0) ?? 0)
        }
    }
}
