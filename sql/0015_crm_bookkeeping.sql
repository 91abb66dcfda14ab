-- CRM write-back bookkeeping (issue 14 leftovers): what each write-back sent, every owner id Baton
-- wrote to a contact and when it last sent one (to recognise a late echo of an older write), and
-- an index for pruning finished outbox rows that belong to no instance.

-- owner_sync rows: the CRM owner id the latest attempt sent ('' when it cleared the owner), shown
-- by `outbox list` as the row's target; NULL until an attempt sends one.
ALTER TABLE outbox ADD COLUMN crm_owner text;

-- Per CRM channel and contact: every owner id Baton has sent (a set; at most one entry per owner
-- the contact ever had) and when Baton last sent one. An inbound owner change to one of those ids
-- that occurred before Baton's latest send is the late echo of an older write, not a person's change.
ALTER TABLE crm_owners ADD COLUMN sent_owners text[] NOT NULL DEFAULT '{}';
ALTER TABLE crm_owners ADD COLUMN sent_at timestamptz;

-- `batonctl prune`: finished outbox rows of no instance (owner write-backs, owner.changed events
-- of admin or CRM reassignments), by the time they finished.
CREATE INDEX outbox_detached_finished ON outbox ((coalesce(delivered_at, created_at)))
    WHERE instance IS NULL AND status IN ('delivered', 'suppressed');
