-- A pause of an SLA clock can also end because an admin took the instance off its wait while it was
-- paused: `cancel` (one or in bulk) or `resume --at STEP`. Before, such a pause stayed open for
-- ever (instances show listed it with no end, stats counted it). ended_by says which admin action
-- ended it: 'cancelled' or 'moved'; NULL when the wait itself ended the pause (a resume event, or
-- its own event meeting it). Such a pause has no paused_s and no deadline_after: the wait it
-- stopped is over, no deadline moved.
ALTER TABLE sla_pauses ADD COLUMN ended_by text CHECK (ended_by IN ('cancelled', 'moved'));
ALTER TABLE sla_pauses DROP CONSTRAINT sla_pauses_ended;
ALTER TABLE sla_pauses ADD CONSTRAINT sla_pauses_ended CHECK (
    CASE WHEN ended_by IS NULL
         THEN (ended_at IS NULL) = (paused_s IS NULL) AND (ended_at IS NULL) = (deadline_after IS NULL)
         ELSE ended_at IS NOT NULL AND paused_s IS NULL AND deadline_after IS NULL AND resume_event IS NULL
    END);

-- Close the pauses already left open that way: the instance was cancelled, or stands in another
-- wait or step than the paused one.
UPDATE sla_pauses p
SET ended_at = greatest(p.started_at, coalesce(i.finished_at, i.updated_at)),
    ended_by = CASE WHEN i.state = 'cancelled' THEN 'cancelled' ELSE 'moved' END
FROM workflow_instances i
WHERE i.id = p.instance AND p.ended_at IS NULL
  AND (i.state = 'cancelled' OR (i.step, i.wait_started_at) IS DISTINCT FROM (p.step, p.wait_started_at));
