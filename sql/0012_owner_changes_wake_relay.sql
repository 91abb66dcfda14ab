-- Owner write-backs and owner.changed events queued by an admin's reassignment (batonctl, the API,
-- the console), a company's owner change or a CRM report wake the outbox relays at once, as a
-- step's notifications do: the trigger that queues them sends NOTIFY baton_outbox (delivered at
-- commit, once per transaction however many rows) when it queued any. Before, they waited for the
-- relay's poll.
CREATE OR REPLACE FUNCTION baton_queue_owner_changes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    queued_syncs int;
    queued_events int;
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
    GET DIAGNOSTICS queued_syncs = ROW_COUNT;

    INSERT INTO outbox (idempotency_key, instance, contact, channel, message, kind)
    SELECT 'owner-changed:' || ch.name || ':' || a.id, a.instance, a.contact, ch.name,
           jsonb_build_object('from', a.from_owner, 'to', a.to_owner, 'team', a.team, 'reason', a.reason,
                              'at', to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))::text,
           'owner_changed'
    FROM added a
    JOIN channels ch ON ch.type = 'webhook' AND coalesce(ch.spec -> 'events', '[]'::jsonb) ? 'owner.changed'
    ORDER BY a.id
    ON CONFLICT (idempotency_key) DO NOTHING;
    GET DIAGNOSTICS queued_events = ROW_COUNT;

    IF queued_syncs + queued_events > 0 THEN
        PERFORM pg_notify('baton_outbox', '');
    END IF;
    RETURN NULL;
END
$$;
