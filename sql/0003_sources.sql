-- Inbound sources (CRM webhooks): the sources file, events already processed, members' CRM ids.

-- A sources file's entries (`batonctl sources apply`): how a CRM's events map to Baton actions.
-- The secret is never stored: spec names the environment variable that holds it.
CREATE TABLE sources (
    name        text PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('hubspot', 'webhook')),
    spec        jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Every inbound event processed, by its id at the source, so a redelivered batch does nothing twice.
CREATE TABLE inbound_events (
    source       text NOT NULL,
    event_id     text NOT NULL,
    type         text NOT NULL,
    contact      text,
    action       text NOT NULL,            -- started | signalled | owner_changed | ignored
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, event_id)
);
CREATE INDEX inbound_events_received ON inbound_events (received_at);

-- A member's ids in CRMs: {"hubspot": "<owner id>", "salesforce": "<user id>"}.
ALTER TABLE members ADD COLUMN crm jsonb NOT NULL DEFAULT '{}';
CREATE INDEX members_crm_hubspot ON members ((crm ->> 'hubspot'));
