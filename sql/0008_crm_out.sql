-- Owner write-back (issue 14, outbound): CRM channels, owner changes queued for them, what each CRM
-- holds as far as Baton knows, and one shared rate limit per channel.

-- Channels of type hubspot and salesforce (spec: token_env, base_url | instance_url and object,
-- rate, syncOwner; never a token).
ALTER TABLE channels DROP CONSTRAINT channels_type_check;
ALTER TABLE channels ADD CONSTRAINT channels_type_check
    CHECK (type IN ('webhook', 'slack', 'log', 'hubspot', 'salesforce'));

-- What an outbox row delivers:
--   notification   a notify step's message (every row before this migration)
--   owner_sync     write the contact's owner AS IT IS WHEN SENT to a CRM channel; one pending row
--                  per channel and contact collects every change queued meanwhile
--   owner_changed  one `owner.changed` event (message: the change as JSON) to a webhook channel
ALTER TABLE outbox ADD COLUMN kind text NOT NULL DEFAULT 'notification'
    CHECK (kind IN ('notification', 'owner_sync', 'owner_changed'));
-- Finding a contact's unsent or in-flight write-back on a channel (collapse, and one in flight at a time).
CREATE INDEX outbox_owner_sync ON outbox (channel, contact) WHERE kind = 'owner_sync' AND status IN ('pending', 'delivering');

-- Per CRM channel and contact: the CRM's owner id as far as Baton knows (Baton wrote it and the CRM
-- answered 2xx, or the CRM reported it), and the id of Baton's latest write, sent or being sent.
-- An inbound owner change naming either is Baton's own write echoing back, not a person's change.
CREATE TABLE crm_owners (
    channel     text NOT NULL,
    contact     text NOT NULL,
    crm_owner   text,
    sent_owner  text,
    origin      text NOT NULL CHECK (origin IN ('baton', 'crm')),   -- who set crm_owner last
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel, contact)
);

-- A token bucket per rate-limited channel, shared by every relay: taking a call is one upsert.
-- tokens may go below zero: a relay that takes a call at -n waits n / rate seconds before it sends
-- (a reserved slot). blocked_until is set from a 429's Retry-After, for every relay at once.
CREATE TABLE channel_rates (
    channel        text PRIMARY KEY,
    tokens         float8 NOT NULL,
    refilled_at    timestamptz NOT NULL,
    blocked_until  timestamptz,
    granted        boolean NOT NULL DEFAULT true      -- whether the last take got a call
);

-- Every change of owner is a row of ownership_history, whichever path made it (a workflow step, an
-- admin, the console, the API, an owner change reported by a CRM). This trigger queues, in the
-- same transaction, a write-back per owner-syncing CRM channel (unless one is already pending for
-- that contact: it will read the newest owner when it is sent) and an owner.changed event per
-- webhook channel that asked for them. A change a CRM reported is queued too: the delivery finds
-- that the CRM holds that owner already (crm_owners) and makes no call.
CREATE FUNCTION baton_queue_owner_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO outbox (idempotency_key, contact, channel, message, kind)
    SELECT 'owner-sync:' || ch.name || ':' || a.contact || ':' || a.last_id, a.contact, ch.name,
           'write the owner of ' || a.contact || ' to ' || ch.name, 'owner_sync'
    FROM (SELECT contact, max(id) AS last_id FROM added GROUP BY contact) a
    JOIN channels ch ON ch.type IN ('hubspot', 'salesforce') AND ch.spec ->> 'syncOwner' = 'true'
    WHERE NOT EXISTS (
        SELECT 1 FROM outbox p
        WHERE p.kind = 'owner_sync' AND p.status = 'pending' AND p.channel = ch.name AND p.contact = a.contact)
    ON CONFLICT (idempotency_key) DO NOTHING;

    INSERT INTO outbox (idempotency_key, instance, contact, channel, message, kind)
    SELECT 'owner-changed:' || ch.name || ':' || a.id, a.instance, a.contact, ch.name,
           jsonb_build_object('from', a.from_owner, 'to', a.to_owner, 'team', a.team, 'reason', a.reason,
                              'at', to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))::text,
           'owner_changed'
    FROM added a
    JOIN channels ch ON ch.type = 'webhook' AND coalesce(ch.spec -> 'events', '[]'::jsonb) ? 'owner.changed'
    ORDER BY a.id
    ON CONFLICT (idempotency_key) DO NOTHING;
    RETURN NULL;
END
$$;

CREATE TRIGGER ownership_history_queues_owner_changes
    AFTER INSERT ON ownership_history REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION baton_queue_owner_changes();
