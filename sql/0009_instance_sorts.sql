-- baton: no-transaction
-- The instances list (API and console) sorted by run_at or updated_at, paged by (key, id): an
-- index each, so a page reads its 50 rows instead of sorting the table. Built CONCURRENTLY, so a
-- big table keeps taking writes meanwhile. A build that fails leaves an invalid index; dropping
-- first makes the repeat that the next migrate runs build it again.
DROP INDEX CONCURRENTLY IF EXISTS workflow_instances_run_at_id;
CREATE INDEX CONCURRENTLY workflow_instances_run_at_id ON workflow_instances (run_at, id);
DROP INDEX CONCURRENTLY IF EXISTS workflow_instances_updated_at_id;
CREATE INDEX CONCURRENTLY workflow_instances_updated_at_id ON workflow_instances (updated_at, id);
