-- SLA pause and resume (issue 17): a wait_for_sla with pause_on / resume_on events stops its clock
-- while the customer holds things up. Each pause is a row of its own, written by the same statement
-- that commits the advance handling the signal (see Store.commitAdvances).

-- The waiting step's pause_on and resume_on events: a signal with one of these names wakes the
-- waiting instance as its wait_event does. NULL when the wait has none (and when not waiting).
-- While the clock is stopped run_at is 9999-12-31T23:59:59Z: no deadline wakes the instance, only a
-- signal does; resuming sets run_at to the moved deadline.
ALTER TABLE workflow_instances ADD COLUMN pause_events text[];

-- One pause of a wait's clock. A wait is (instance, step, wait_started_at): a step waited at again
-- is another wait. Open (ended_at NULL) while the clock is stopped: at most one per wait, and only
-- the holder of the instance's fence writes it. paused_s is the paused time on the wait's clock
-- (business seconds on a business-hours calendar), set when the pause ends; the deadline moved by
-- exactly that. resume_event is NULL while paused, and when the wait ended (met) while paused.
CREATE TABLE sla_pauses (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    instance         bigint NOT NULL REFERENCES workflow_instances (id) ON DELETE CASCADE,
    step             text NOT NULL,
    wait_started_at  timestamptz NOT NULL,
    started_at       timestamptz NOT NULL,
    ended_at         timestamptz,
    pause_event      text NOT NULL,
    resume_event     text,
    paused_s         float8,
    deadline_before  timestamptz NOT NULL,     -- the wait's deadline when its clock stopped
    deadline_after   timestamptz,              -- where it moved when the clock started again
    CONSTRAINT sla_pauses_ended CHECK ((ended_at IS NULL) = (paused_s IS NULL) AND (ended_at IS NULL) = (deadline_after IS NULL)),
    CONSTRAINT sla_pauses_order CHECK (ended_at IS NULL OR ended_at >= started_at),
    CONSTRAINT sla_pauses_resumed_ended CHECK (resume_event IS NULL OR ended_at IS NOT NULL)
);
-- A wait's pauses (the claim reads the open one and the paused total; instances show lists them).
CREATE INDEX sla_pauses_wait ON sla_pauses (instance, wait_started_at);
-- Stats over a period.
CREATE INDEX sla_pauses_started ON sla_pauses (started_at);
