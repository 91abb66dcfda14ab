-- The HTTP API (baton-server): bearer tokens and idempotency keys.

-- API tokens. Only a SHA-256 hash of each token is stored: the token itself is printed once by
-- `batonctl tokens create` and never again. Tokens are 32 random bytes, so a plain hash is as good
-- as a slow one. Revoked tokens stay (their name stays taken, and timelines keep naming them).
CREATE TABLE api_tokens (
    name          text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    role          text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    hash          bytea NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_by    text,
    last_used_at  timestamptz,
    revoked_at    timestamptz
);

-- Responses to POSTs that carried an Idempotency-Key, per token, so a repeated request gets the
-- first response instead of acting twice. A row with status NULL is a request still in progress.
CREATE TABLE idempotency_keys (
    token         text NOT NULL,
    key           text NOT NULL,
    method        text NOT NULL,
    path          text NOT NULL,
    request_hash  bytea NOT NULL,
    status        int,
    body          bytea,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (token, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

