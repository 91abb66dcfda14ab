-- Baton's schema. The source of truth: the binaries embed this file (Sources/Baton/Store/Migrations.swift
-- is generated from sql/ by scripts/gen-migrations, and a test checks they match).

-- Calendars: working hours in a time zone minus holidays (spec holds hours and holidays).
CREATE TABLE calendars (
    name        text PRIMARY KEY,
    timezone    text NOT NULL,
    spec        jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE teams (
    name        text PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('sales', 'marketing', 'service', 'retention', 'other')),
    calendar    text REFERENCES calendars (name),
    manager     text,                       -- a member id (of any team); checked by the loader
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Members are never deleted: a member left out of the team file is deactivated, so ownership
-- history keeps pointing at a row.
CREATE TABLE members (
    id                   text PRIMARY KEY,
    team                 text NOT NULL REFERENCES teams (name),
    name                 text NOT NULL,
    email                text,
    capacity             int CHECK (capacity > 0),        -- NULL: unlimited
    weight               int NOT NULL DEFAULT 1 CHECK (weight >= 0),
    active               boolean NOT NULL DEFAULT true,
    out_of_office_until  date,
    backup               text,
    calendar             text REFERENCES calendars (name),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX members_team ON members (team);

-- Round-robin position per team. A worker takes a block of positions with one UPDATE ... RETURNING,
-- so parallel workers never hand out the same position and never wait on each other for long.
CREATE TABLE routing_cursors (
    team      text PRIMARY KEY REFERENCES teams (name),
    position  bigint NOT NULL DEFAULT 0
);

CREATE TABLE channels (
    name        text PRIMARY KEY,
    type        text NOT NULL CHECK (type IN ('webhook', 'slack', 'log')),
    spec        jsonb NOT NULL,             -- url, url_env, secret_env, timeout, max_attempts; never a secret
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Versions of a workflow; instances are pinned to the version they started on.
CREATE TABLE workflow_definitions (
    name        text NOT NULL,
    version     int NOT NULL CHECK (version > 0),
    spec        jsonb NOT NULL,             -- the parsed definition (WorkflowDefinition as JSON);
                                            -- jsonb equality with the newest version = "unchanged"
    source      text NOT NULL,              -- the file as applied
    file        text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, version)
);

CREATE TABLE contacts (
    id               text PRIMARY KEY,
    attributes       jsonb NOT NULL DEFAULT '{}',
    owner            text,
    backup_owner     text,
    team             text,
    lifecycle_stage  text,
    previous_owner   text,
    queued_since     timestamptz,           -- set while the contact waits unowned in its team's queue
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contacts_owner ON contacts (owner);

-- Every change of owner, appended, never updated by the engine.
CREATE TABLE ownership_history (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contact     text NOT NULL,
    from_owner  text,
    to_owner    text,
    team        text,
    reason      text NOT NULL,
    instance    bigint,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ownership_history_contact ON ownership_history (contact, id);

-- Instance states (docs/state-machine.md):
--   ready      due at run_at; claimed by a worker
--   running    leased by lease_owner until lease_expires_at; fence counts claims
--   waiting    for wait_event until deadline; run_at = deadline, or now when a signal wakes it
--   completed, failed (retries exhausted: stuck), cancelled
CREATE TABLE workflow_instances (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workflow          text NOT NULL,
    version           int NOT NULL,
    contact           text NOT NULL REFERENCES contacts (id),
    state             text NOT NULL CHECK (state IN ('ready', 'running', 'waiting', 'completed', 'failed', 'cancelled')),
    step              text NOT NULL,
    seq               int NOT NULL DEFAULT 0,        -- transitions so far (timeline sequence)
    attempt           int NOT NULL DEFAULT 0,        -- failed tries of the current step
    fence             bigint NOT NULL DEFAULT 0,     -- fencing token: +1 on every claim
    priority          int NOT NULL DEFAULT 0,
    run_at            timestamptz NOT NULL DEFAULT now(),
    lease_owner       text,
    lease_expires_at  timestamptz,
    wait_event        text,
    wait_started_at   timestamptz,
    deadline          timestamptz,                  -- when the current wait breaches
    used_signals      bigint[] NOT NULL DEFAULT '{}', -- signals this instance has consumed
    last_error        text,
    outcome           text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz,
    FOREIGN KEY (workflow, version) REFERENCES workflow_definitions (name, version),
    CONSTRAINT running_has_lease CHECK ((state = 'running') = (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL)),
    CONSTRAINT waiting_has_event CHECK (state <> 'waiting' OR wait_event IS NOT NULL),
    CONSTRAINT finished_has_time CHECK ((state IN ('completed', 'failed', 'cancelled')) = (finished_at IS NOT NULL))
);
-- At most one live instance per contact and workflow (failed ones count: retry them instead).
CREATE UNIQUE INDEX workflow_instances_one_live ON workflow_instances (workflow, contact)
    WHERE state NOT IN ('completed', 'cancelled');
-- The claim's three sources of due work, each a small partial index.
CREATE INDEX workflow_instances_ready ON workflow_instances (priority DESC, run_at) WHERE state = 'ready';
CREATE INDEX workflow_instances_deadline ON workflow_instances (run_at) WHERE state = 'waiting';
CREATE INDEX workflow_instances_lease ON workflow_instances (lease_expires_at) WHERE state = 'running';
CREATE INDEX workflow_instances_contact ON workflow_instances (contact);

-- The timeline of each instance, appended in the step's transaction.
CREATE TABLE instance_events (
    instance    bigint NOT NULL REFERENCES workflow_instances (id),
    seq         int NOT NULL,
    step        text NOT NULL,
    from_state  text NOT NULL,
    to_state    text NOT NULL,
    owner       text,
    worker      text,
    attempt     int NOT NULL,
    detail      text,
    error       text,
    at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (instance, seq)
);

-- External events for a contact. An instance consumes a signal by adding its id to used_signals.
CREATE TABLE signals (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contact      text NOT NULL,
    name         text NOT NULL,
    payload      jsonb,
    received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX signals_contact ON signals (contact, name, received_at);

-- Notifications written by steps and delivered by the outbox relay, at least once, by key.
CREATE TABLE outbox (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key  text NOT NULL UNIQUE,
    instance         bigint REFERENCES workflow_instances (id),
    workflow         text,
    step             text,
    contact          text,
    channel          text NOT NULL,
    recipient        text,                  -- member id, or 'contact'
    recipient_email  text,
    message          text NOT NULL,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivering', 'delivered', 'dead', 'suppressed')),
    attempts         int NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    lease_expires_at timestamptz,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status IN ('pending', 'delivering');
