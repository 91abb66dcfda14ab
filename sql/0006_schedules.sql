-- Schedules (`batonctl schedules apply FILE`): cron expressions in a time zone that the workers run
-- exactly once per period. A due schedule row is claimed like an instance: a lease (lease_owner,
-- lease_expires_at) and a fence bumped on every claim. A run commits only while its fence still
-- holds, and advances next_run_at in the same transaction as its outbox rows and its schedule_runs
-- row; a worker killed mid-run commits nothing, and another takes the period over once the lease
-- runs out.
CREATE TABLE schedules (
    name              text PRIMARY KEY,
    cron              text NOT NULL,
    timezone          text NOT NULL,
    action            text NOT NULL CHECK (action IN ('exception_report')),
    spec              jsonb NOT NULL,                -- the schedule as applied (channel, options)
    next_run_at       timestamptz NOT NULL,          -- the period due next
    last_period       timestamptz,                   -- the period the last run was for
    last_run_at       timestamptz,                   -- when that run committed
    runs              bigint NOT NULL DEFAULT 0,
    fence             bigint NOT NULL DEFAULT 0,     -- fencing token: +1 on every claim
    lease_owner       text,
    lease_expires_at  timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT lease_whole CHECK ((lease_owner IS NULL) = (lease_expires_at IS NULL))
);
CREATE INDEX schedules_due ON schedules (next_run_at);

-- One row per run, written in the run's transaction: a period can never run twice.
CREATE TABLE schedule_runs (
    schedule  text NOT NULL REFERENCES schedules (name) ON DELETE CASCADE,
    period    timestamptz NOT NULL,
    worker    text NOT NULL,
    messages  int NOT NULL,
    at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (schedule, period)
);
