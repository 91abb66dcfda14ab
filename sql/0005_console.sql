-- The web console (baton-server at /): sign-in sessions and changes to members made by hand.

-- A console session: created when a token signs in, ended by signing out or by expiry. Only the
-- SHA-256 of the session id (the cookie's value) is stored, so reading this table signs nobody in.
-- A session lives only while its token does: lookups join api_tokens and skip revoked tokens.
CREATE TABLE console_sessions (
    id_hash     bytea PRIMARY KEY,
    token       text NOT NULL REFERENCES api_tokens (name),
    csrf        text NOT NULL,                -- the per-session CSRF token every console form carries
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);

-- Out-of-office and active changes to members made in the console, appended, never updated:
-- who changed what and when (the members row holds the current value, which the audit reads).
CREATE TABLE member_changes (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    member  text NOT NULL REFERENCES members (id),
    change  text NOT NULL,                    -- e.g. "out of office until 2026-12-01", "inactive"
    actor   text NOT NULL,
    at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX member_changes_member ON member_changes (member, id);
