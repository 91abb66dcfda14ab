-- scripts/chaos's checker: one line per invariant, "name<TAB>count<TAB>PASS|FAIL", on the chaos
-- run's database after every worker has stopped. psql variables: instances (enrolled), signals and
-- reassigns (stored by the API, as the driver counted them), received (distinct delivery keys the
-- webhook receiver saw).

-- Every instance reached a final state, and none failed (a crash or a restart is not a failure).
SELECT 'instances enrolled', count(*), CASE WHEN count(*) = :instances THEN 'PASS' ELSE 'FAIL' END
FROM workflow_instances;
SELECT 'instances not final', count(*), CASE WHEN count(*) = 0 THEN 'PASS' ELSE 'FAIL' END
FROM workflow_instances WHERE state NOT IN ('completed', 'failed', 'cancelled');
SELECT 'instances failed', count(*), CASE WHEN count(*) = 0 THEN 'PASS' ELSE 'FAIL' END
FROM workflow_instances WHERE state = 'failed';
SELECT 'outcome customer', count(*) FILTER (WHERE outcome = 'customer'), 'INFO' FROM workflow_instances;
SELECT 'outcome no_purchase', count(*) FILTER (WHERE outcome = 'no_purchase'), 'INFO' FROM workflow_instances;

-- Timelines: seq 1..n without gaps, n = the instance's seq, each entry starting where the last ended.
SELECT 'timeline entries', count(*), 'INFO' FROM instance_events;
SELECT 'timelines with gaps or a wrong length', count(*), CASE WHEN count(*) = 0 THEN 'PASS' ELSE 'FAIL' END
FROM workflow_instances i
WHERE i.seq <> (SELECT count(*) FROM instance_events e WHERE e.instance = i.id)
   OR i.seq <> coalesce((SELECT max(seq) FROM instance_events e WHERE e.instance = i.id), 0);
SELECT 'timeline entries not following the previous one', count(*), CASE WHEN count(*) = 0 THEN 'PASS' ELSE 'FAIL' END
FROM instance_events e JOIN instance_events p ON p.instance = e.instance AND p.seq = e.seq - 1
WHERE p.to_state <> e.from_state;

-- No step's effects applied twice: in chaos-lead every step is visited at most once, so a
-- transition (step, from, to) appears at most once per instance; one notification per step and
-- recipient; one engine ownership change per reason.
SELECT 'steps applied twice', count(*), CASE WHEN count(*) = 0 THEN 'PASS' ELSE 'FAIL' END
FROM (SELECT 1 FROM instance_events GROUP BY instance, step, from_state, to_state HAVING count(*) > 1) twice;
SELECT 'notifications written twice', count(*), CASE WHEN count(*) = 0 THEN 'PASS' ELSE 'FAIL' END
FROM (SELECT 1 FROM outbox GROUP BY instance, step, recipient HAVING count(*) > 1) twice;
SELECT 'engine ownership changes recorded twice', count(*), CASE WHEN count(*) = 0 THEN 'PASS' ELSE 'FAIL' END
FROM (SELECT 1 FROM ownership_history WHERE reason NOT LIKE 'manual%'
      GROUP BY instance, reason HAVING count(*) > 1) twice;

-- Every contact's owner is the last row of its ownership history.
SELECT 'ownership history rows', count(*), 'INFO' FROM ownership_history;
SELECT 'contacts whose owner differs from their last history row', count(*), CASE WHEN count(*) = 0 THEN 'PASS' ELSE 'FAIL' END
FROM contacts c
WHERE c.owner IS DISTINCT FROM (SELECT h.to_owner FROM ownership_history h WHERE h.contact = c.id ORDER BY h.id DESC LIMIT 1);
SELECT 'contacts without an owner', count(*), CASE WHEN count(*) = 0 THEN 'PASS' ELSE 'FAIL' END
FROM contacts WHERE owner IS NULL;

-- The rotation stayed even: the route step's picks per rep differ by at most one. Counted from the
-- timeline, not the history: a pick of the rep who already owns the contact (an admin reassigned it
-- before the route step ran) changes no owner and writes no history row, but is a pick.
SELECT 'round-robin spread (max - min picks per rep)', max(n) - min(n), CASE WHEN max(n) - min(n) <= 1 THEN 'PASS' ELSE 'FAIL' END
FROM (SELECT m.id, count(e.instance) AS n FROM members m
      LEFT JOIN instance_events e ON e.step = 'route' AND e.owner = m.id AND e.detail LIKE 'assigned % (round_robin)%'
      WHERE m.team = 'chaos-sales' GROUP BY m.id) per_rep;
SELECT 'route picks that kept an owner an admin had given', count(*), 'INFO'
FROM instance_events e JOIN workflow_instances i ON i.id = e.instance
WHERE e.step = 'route' AND NOT EXISTS (
    SELECT 1 FROM ownership_history h WHERE h.instance = e.instance AND h.reason = 'round_robin');

-- What was sent was stored.
SELECT 'signals stored (sent: ' || :signals || ')', count(*), CASE WHEN count(*) = :signals THEN 'PASS' ELSE 'FAIL' END
FROM signals;
SELECT 'manual reassignments recorded (sent: ' || :reassigns || ')', count(*), CASE WHEN count(*) = :reassigns THEN 'PASS' ELSE 'FAIL' END
FROM ownership_history WHERE reason LIKE 'manual%';

-- Notifications: all delivered, each key received.
SELECT 'notifications', count(*), 'INFO' FROM outbox;
SELECT 'notifications not delivered', count(*), CASE WHEN count(*) = 0 THEN 'PASS' ELSE 'FAIL' END
FROM outbox WHERE status <> 'delivered';
SELECT 'delivered keys the receiver never saw', count(*) - :received, CASE WHEN count(*) = :received THEN 'PASS' ELSE 'FAIL' END
FROM outbox WHERE status = 'delivered';

-- Nothing left held: no lease, no open connection.
SELECT 'instance leases still held', count(*), CASE WHEN count(*) = 0 THEN 'PASS' ELSE 'FAIL' END
FROM workflow_instances WHERE lease_owner IS NOT NULL OR state = 'running';
SELECT 'connections left open' || coalesce(' (' || string_agg(application_name || ' ' || state || ' since ' || backend_start, ', ') || ')', ''),
       count(*), CASE WHEN count(*) = 0 THEN 'PASS' ELSE 'FAIL' END
FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid();
