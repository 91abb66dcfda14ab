-- Growth and privacy: indexes for pruning finished work, and the time a contact's data was erased.

-- Pruning walks finished instances by age and deletes their outbox rows by instance.
CREATE INDEX workflow_instances_finished ON workflow_instances (finished_at) WHERE state IN ('completed', 'cancelled');
CREATE INDEX outbox_instance ON outbox (instance);

-- `batonctl contacts erase`: the contact keeps its id and ownership history; its attributes,
-- signals and messages are gone.
ALTER TABLE contacts ADD COLUMN erased_at timestamptz;

-- The API's and console's listing filtered by state, paged by id.
CREATE INDEX workflow_instances_state_id ON workflow_instances (state, id);
