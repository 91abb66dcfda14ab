#!/usr/bin/env bash
# Baton's database roles for docker-compose.yml, made as scripts/pg makes them for the private
# cluster. The postgres image runs this once, as its superuser (POSTGRES_USER), when it initialises
# an empty data volume (it is mounted into /docker-entrypoint-initdb.d). No Baton process logs in as
# that superuser; they use these logins, each a member of one group role of sql/roles.sql:
#   baton    baton_owner     owns the database and Baton's tables; `batonctl migrate` (the migrate service)
#   server   baton_admin     baton-server, and batonctl for operators (`docker compose run --rm migrate …`
#                            runs as the owner)
#   worker   baton_worker    baton-worker: claims and advances, cannot change definitions or teams
#   reports  baton_readonly  reporting
# Their passwords come from the container's environment (BATON_OWNER_PASSWORD, BATON_SERVER_PASSWORD,
# BATON_WORKER_PASSWORD, BATON_REPORTS_PASSWORD; docker-compose.yml passes them on). Then the owner's
# login applies sql/roles.sql (mounted at /baton/roles.sql), as `batonctl roles apply` would: the
# group roles exist already, so it needs no CREATEROLE; `batonctl migrate` applies it again after
# migrating, so each table gets its grants. With BATON_OWNER_CAN_CREATE=1 the owner also gets
# CREATEDB and CREATEROLE, as the private cluster's `baton` has: what scripts/test needs (a database
# per suite, the roles tests' logins); leave it unset otherwise.
set -euo pipefail
roles_sql=${BATON_ROLES_SQL:-/baton/roles.sql}
[ -r "$roles_sql" ] || { echo "error: $roles_sql is missing: mount sql/roles.sql there (docker-compose.yml does)" >&2; exit 1; }
superuser() { psql -v ON_ERROR_STOP=1 -Atq --username "$POSTGRES_USER" "$@"; }

superuser --dbname "${POSTGRES_DB:-$POSTGRES_USER}" \
  -v owner_password="${BATON_OWNER_PASSWORD:?set BATON_OWNER_PASSWORD}" \
  -v server_password="${BATON_SERVER_PASSWORD:?set BATON_SERVER_PASSWORD}" \
  -v worker_password="${BATON_WORKER_PASSWORD:?set BATON_WORKER_PASSWORD}" \
  -v reports_password="${BATON_REPORTS_PASSWORD:?set BATON_REPORTS_PASSWORD}" <<'SQL'
CREATE ROLE baton_owner NOLOGIN;
CREATE ROLE baton_admin NOLOGIN;
CREATE ROLE baton_worker NOLOGIN;
CREATE ROLE baton_readonly NOLOGIN;
CREATE ROLE baton LOGIN NOSUPERUSER PASSWORD :'owner_password' IN ROLE baton_owner;
CREATE ROLE server LOGIN NOSUPERUSER PASSWORD :'server_password' IN ROLE baton_admin;
CREATE ROLE worker LOGIN NOSUPERUSER PASSWORD :'worker_password' IN ROLE baton_worker;
CREATE ROLE reports LOGIN NOSUPERUSER PASSWORD :'reports_password' IN ROLE baton_readonly;
CREATE DATABASE baton OWNER baton;
SQL
if [ "${BATON_OWNER_CAN_CREATE:-}" = 1 ]; then
  superuser --dbname postgres -c "ALTER ROLE baton CREATEDB CREATEROLE"
fi
# As the owner (SET ROLE: current_user is baton, with baton's privileges only), in one transaction.
superuser --dbname baton -1 -c "SET ROLE baton" -f "$roles_sql"
