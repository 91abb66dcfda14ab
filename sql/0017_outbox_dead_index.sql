-- Dead deliveries by channel (issue 15: every console page under 100 ms at a million rows): the
-- console's outbox counts and lists them, and the stuck check reads them, without scanning the
-- delivered history. Dead rows are few, so the index is small and costs the relay nothing until a
-- delivery dies.
CREATE INDEX outbox_dead ON outbox (channel, id) WHERE status = 'dead';
