-- Lifecycle stages (issue 16): the organisation's stages from the team file, the history of every
-- record's stage changes, and workflows that start on a change (`starts_on:` in their spec).

-- The team file's `lifecycle:` list, in order (`teams apply` replaces it when the file has one).
-- Empty: the default stages (Lifecycle.defaultStages). Read to validate workflows and every stage set.
CREATE TABLE lifecycle_stages (
    name        text PRIMARY KEY,
    position    int NOT NULL UNIQUE,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per change of a record's lifecycle_stage, whichever way it was made (a handoff's stage:,
-- a signal's payload, a CRM source, `batonctl records stage`); appended, never updated. Apart from
-- ownership_history on purpose: a row there is an owner change (it counts as an assignment in stats
-- and audit, and its trigger queues CRM owner write-backs and owner.changed events), and a stage
-- change is none of those. `instance` is the instance whose handoff made the change; `started`
-- the instances the change started (workflows whose starts_on matched), in the same transaction.
CREATE TABLE stage_history (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contact     text NOT NULL,
    from_stage  text,
    to_stage    text NOT NULL,
    reason      text NOT NULL,
    instance    bigint,
    started     bigint[] NOT NULL DEFAULT '{}',
    at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT stage_history_changes CHECK (from_stage IS DISTINCT FROM to_stage)
);
-- A record's stage history (records show), and its stage at a given time (stats --by stage).
CREATE INDEX stage_history_contact ON stage_history (contact, id);
