-- Baton's database roles (docs/operations.md, "Roles"). Not a migration: `batonctl roles apply`
-- runs it (and `scripts/pg start` for the private cluster), and every `batonctl migrate` run by a
-- member of baton_owner runs it again after the migrations, so a table a migration adds gets its
-- grants at once. Safe to repeat: each run revokes what the three granted roles hold on Baton's
-- tables and grants the matrix below again, in one transaction.
--
-- Four NOLOGIN group roles; people and programs log in as their own users, members of one:
--   baton_owner     owns the tables and runs migrations (the only role with DDL)
--   baton_admin     what batonctl and baton-server need: reads and writes every table, no DDL
--   baton_worker    what baton-worker touches (claim, advance, outbox relay, schedules); reads
--                   definitions, teams, channels and sources but cannot change them; no tokens
--   baton_readonly  reporting: reads everything except token hashes, console sessions and stored
--                   API responses
-- Creating the group roles needs CREATEROLE (or a superuser) once; after that the owner's login
-- applies the grants alone.
--
-- Why a grants step and not ALTER DEFAULT PRIVILEGES: default privileges give every new table
-- the same grants, but the worker and the reporting role need a decision per table (the worker
-- must not write definitions; the reporting role must not read tokens). A new table must be
-- added to the matrix below; a test fails for any table it does not name.

DO $roles$
DECLARE
    group_role text;
BEGIN
    FOREACH group_role IN ARRAY ARRAY['baton_owner', 'baton_admin', 'baton_worker', 'baton_readonly'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = group_role) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', group_role);
        END IF;
    END LOOP;
    -- The login running this is the one that migrates: it joins baton_owner (a superuser is a
    -- member of every role already).
    IF NOT pg_has_role(current_user, 'baton_owner', 'MEMBER') THEN
        EXECUTE format('GRANT baton_owner TO %I', current_user);
    END IF;
END
$roles$;

DO $grants$
DECLARE
    schema_name text := current_schema();
    entry record;
BEGIN
    -- baton_owner owns Baton's tables and its trigger function, so any of its members can migrate
    -- (an owner needs CREATE on the schema; the database owner, who runs this, can grant it).
    EXECUTE format('GRANT USAGE, CREATE ON SCHEMA %I TO baton_owner', schema_name);
    FOR entry IN
        SELECT c.relname FROM pg_class c
        WHERE c.relnamespace = schema_name::regnamespace AND c.relkind IN ('r', 'p')
          AND c.relowner <> 'baton_owner'::regrole AND pg_has_role(c.relowner, 'USAGE')
    LOOP
        EXECUTE format('ALTER TABLE %I.%I OWNER TO baton_owner', schema_name, entry.relname);
    END LOOP;
    FOR entry IN
        SELECT p.oid::regprocedure AS signature FROM pg_proc p
        WHERE p.pronamespace = schema_name::regnamespace AND p.proname LIKE 'baton\_%'
          AND p.proowner <> 'baton_owner'::regrole AND pg_has_role(p.proowner, 'USAGE')
    LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO baton_owner', entry.signature);
    END LOOP;

    EXECUTE format('GRANT USAGE ON SCHEMA %I TO baton_admin, baton_worker, baton_readonly', schema_name);
    EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM baton_admin, baton_worker, baton_readonly', schema_name);
    EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM baton_admin, baton_worker, baton_readonly', schema_name);
    -- Identity columns' sequences: whoever inserts rows draws ids.
    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO baton_admin, baton_worker', schema_name);

    -- The matrix: per table, what the admin, the worker and the reporting role may do ('' = nothing).
    -- A SELECT ... FOR UPDATE and an upsert need UPDATE as well.
    FOR entry IN
        SELECT * FROM (VALUES
            -- schema bookkeeping: only migrations (the owner) write it
            ('baton_migrations',     'SELECT',                         'SELECT',                 'SELECT'),
            -- definitions, teams, channels, sources: the worker reads them and cannot change them
            ('calendars',            'SELECT, INSERT, UPDATE, DELETE', 'SELECT',                 'SELECT'),
            ('teams',                'SELECT, INSERT, UPDATE, DELETE', 'SELECT',                 'SELECT'),
            ('members',              'SELECT, INSERT, UPDATE, DELETE', 'SELECT',                 'SELECT'),
            ('member_changes',       'SELECT, INSERT, UPDATE, DELETE', 'SELECT',                 'SELECT'),
            ('channels',             'SELECT, INSERT, UPDATE, DELETE', 'SELECT',                 'SELECT'),
            ('workflow_definitions', 'SELECT, INSERT, UPDATE, DELETE', 'SELECT',                 'SELECT'),
            ('sources',              'SELECT, INSERT, UPDATE, DELETE', 'SELECT',                 'SELECT'),
            ('lifecycle_stages',     'SELECT, INSERT, UPDATE, DELETE', 'SELECT',                 'SELECT'),
            -- the runtime: claims and advances (history and timelines are appended, never changed)
            ('contacts',             'SELECT, INSERT, UPDATE, DELETE', 'SELECT, UPDATE',         'SELECT'),
            -- INSERT: a handoff's stage change starts the workflows whose starts_on matches it
            ('workflow_instances',   'SELECT, INSERT, UPDATE, DELETE', 'SELECT, INSERT, UPDATE', 'SELECT'),
            ('instance_events',      'SELECT, INSERT, UPDATE, DELETE', 'SELECT, INSERT',         'SELECT'),
            ('ownership_history',    'SELECT, INSERT, UPDATE, DELETE', 'SELECT, INSERT',         'SELECT'),
            ('stage_history',        'SELECT, INSERT, UPDATE, DELETE', 'SELECT, INSERT',         'SELECT'),
            ('routing_cursors',      'SELECT, INSERT, UPDATE, DELETE', 'SELECT, INSERT, UPDATE', 'SELECT'),
            ('signals',              'SELECT, INSERT, UPDATE, DELETE', 'SELECT',                 'SELECT'),
            ('sla_pauses',           'SELECT, INSERT, UPDATE, DELETE', 'SELECT, INSERT, UPDATE', 'SELECT'),
            -- the outbox relay and CRM write-back
            ('outbox',               'SELECT, INSERT, UPDATE, DELETE', 'SELECT, INSERT, UPDATE', 'SELECT'),
            ('crm_owners',           'SELECT, INSERT, UPDATE, DELETE', 'SELECT, INSERT, UPDATE', 'SELECT'),
            ('channel_rates',        'SELECT, INSERT, UPDATE, DELETE', 'SELECT, INSERT, UPDATE', 'SELECT'),
            -- schedules: `schedules apply` writes them, workers run them
            ('schedules',            'SELECT, INSERT, UPDATE, DELETE', 'SELECT, UPDATE',         'SELECT'),
            ('schedule_runs',        'SELECT, INSERT, UPDATE, DELETE', 'SELECT, INSERT',         'SELECT'),
            -- the HTTP API: tokens, sessions, idempotent responses, inbound CRM events
            ('api_tokens',           'SELECT, INSERT, UPDATE, DELETE', '',
                'SELECT (name, role, created_at, created_by, last_used_at, revoked_at)'),
            ('console_sessions',     'SELECT, INSERT, UPDATE, DELETE', '',                       ''),
            ('idempotency_keys',     'SELECT, INSERT, UPDATE, DELETE', '',                       ''),
            ('inbound_events',       'SELECT, INSERT, UPDATE, DELETE', '',                       'SELECT')
        ) AS matrix (table_name, admin, worker, readonly)
        WHERE to_regclass(format('%I.%I', schema_name, table_name)) IS NOT NULL
    LOOP
        EXECUTE format('GRANT %s ON %I.%I TO baton_admin', entry.admin, schema_name, entry.table_name);
        IF entry.worker <> '' THEN
            EXECUTE format('GRANT %s ON %I.%I TO baton_worker', entry.worker, schema_name, entry.table_name);
        END IF;
        IF entry.readonly <> '' THEN
            EXECUTE format('GRANT %s ON %I.%I TO baton_readonly', entry.readonly, schema_name, entry.table_name);
        END IF;
    END LOOP;
END
$grants$;
