-- docs/scaling.md's evidence: Baton's hot tables hash-partitioned by contact into 8 partitions
-- (what Citus would make shards), and the plans of the hot statements in the shape they would take
-- there. Run by scripts/bench-partitioning in a scratch database; prints only EXPLAIN output.
\set ON_ERROR_STOP 1
\pset pager off
SET client_min_messages = warning;

-- Instances, their timeline, signals and the outbox, all keyed by contact so that one contact's
-- rows live in one partition (colocation). The timeline and the outbox gain a contact column:
-- today they reach the contact through the instance.
CREATE TABLE p_instances (
    id bigint NOT NULL, contact text NOT NULL, workflow text NOT NULL, state text NOT NULL, step text NOT NULL,
    seq int NOT NULL DEFAULT 0, fence bigint NOT NULL DEFAULT 0, run_at timestamptz NOT NULL DEFAULT now(),
    lease_owner text, lease_expires_at timestamptz, wait_event text, deadline timestamptz,
    PRIMARY KEY (contact, id)
) PARTITION BY HASH (contact);
CREATE TABLE p_events (
    contact text NOT NULL, instance bigint NOT NULL, seq int NOT NULL, step text NOT NULL, to_state text NOT NULL,
    at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (contact, instance, seq)
) PARTITION BY HASH (contact);
CREATE TABLE p_signals (
    contact text NOT NULL, id bigint NOT NULL, name text NOT NULL, received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (contact, id)
) PARTITION BY HASH (contact);
CREATE TABLE p_contacts (
    id text NOT NULL PRIMARY KEY, owner text, team text, attributes jsonb NOT NULL DEFAULT '{}'
) PARTITION BY HASH (id);
SELECT format('CREATE TABLE %I PARTITION OF %I FOR VALUES WITH (MODULUS 8, REMAINDER %s)', t || '_' || r, t, r)
FROM unnest(ARRAY['p_instances', 'p_events', 'p_signals', 'p_contacts']) t, generate_series(0, 7) r \gexec
CREATE INDEX ON p_instances (run_at) WHERE state IN ('ready', 'waiting');

INSERT INTO p_contacts (id, owner, team) SELECT 'C-' || g, 'rep' || (g % 10), 'sales' FROM generate_series(1, 80000) g;
INSERT INTO p_instances (id, contact, workflow, state, step, run_at)
SELECT g, 'C-' || g, 'inbound-lead', CASE WHEN g % 4 = 0 THEN 'ready' ELSE 'waiting' END, 'first-touch',
       now() + (g % 100) * interval '1 minute' FROM generate_series(1, 80000) g;
INSERT INTO p_events (contact, instance, seq, step, to_state) SELECT 'C-' || g, g, 1, 'route', 'running' FROM generate_series(1, 80000) g;
ANALYZE p_instances, p_events, p_signals, p_contacts;

-- A batch as a worker claiming from one shard holds it: contacts of the same partition (8 here, to keep the plan short).
SELECT array_agg(contact) AS batch_contacts, array_agg(id) AS batch_ids
FROM (SELECT contact, id FROM p_instances_3 ORDER BY id LIMIT 8) b \gset

\echo '== 1. The commit of a batch (one UPDATE of its instances by contact and id): one partition'
EXPLAIN (COSTS OFF)
UPDATE p_instances i SET state = 'waiting', seq = i.seq + 1, lease_owner = NULL
WHERE i.contact = ANY (:'batch_contacts'::text[]) AND i.id = ANY (:'batch_ids'::bigint[]) AND i.fence = 1;

\echo '== 2. The batch timeline rows and a contact''s pending signals: one partition each'
EXPLAIN (COSTS OFF)
INSERT INTO p_events (contact, instance, seq, step, to_state) VALUES ('C-4', 4, 2, 'tell-owner', 'running');
EXPLAIN (COSTS OFF)
SELECT s.id, s.name FROM p_signals s WHERE s.contact = 'C-4' AND s.received_at >= now() - interval '1 day';

\echo '== 3. A signal for one contact wakes its waiting instances: one partition'
EXPLAIN (COSTS OFF)
UPDATE p_instances SET run_at = now() WHERE contact = 'C-4' AND state = 'waiting' AND wait_event = 'first_touch';

\echo '== 4. The claim as it is today (no contact in it): every partition, which is why a sharded claim is per shard'
EXPLAIN (COSTS OFF)
SELECT id FROM p_instances WHERE state IN ('ready', 'waiting') AND run_at <= now()
ORDER BY run_at LIMIT 100 FOR UPDATE SKIP LOCKED;

\echo '== 5. The claim against one shard (what a worker assigned to a shard runs): one partition'
EXPLAIN (COSTS OFF)
SELECT id FROM p_instances_3 WHERE state IN ('ready', 'waiting') AND run_at <= now()
ORDER BY run_at LIMIT 100 FOR UPDATE SKIP LOCKED;
