#!/bin/sh
# Runs once on every Citus node (coordinator and workers) when its volume is initialised:
# the two RiskAtlas roles (as 20-riskatlas-roles.sh makes them), the database with citus
# first and PostGIS, and pg_dist_authinfo rows so that the nodes, which connect to each
# other as the user running a query, can log in to each other with the same passwords.
set -eu

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres <<'SQL'
\getenv owner_password RISKATLAS_OWNER_PASSWORD
\getenv app_password RISKATLAS_APP_PASSWORD
\getenv postgres_password POSTGRES_PASSWORD
CREATE ROLE riskatlas_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'owner_password';
CREATE ROLE riskatlas_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'app_password';
-- See app/cluster/nodes.py (ensure_roles): how the owner's migrations meet Citus.
ALTER ROLE riskatlas_owner SET citus.create_object_propagation TO 'deferred';
ALTER ROLE riskatlas_owner SET citus.enable_unsafe_triggers TO on;
ALTER ROLE riskatlas_owner SET citus.enable_repartition_joins TO on;
ALTER ROLE riskatlas_app SET citus.enable_repartition_joins TO on;
ALTER ROLE riskatlas_app SET citus.max_adaptive_executor_pool_size TO 1;
CREATE DATABASE riskatlas OWNER riskatlas_owner;
REVOKE ALL ON DATABASE riskatlas FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE riskatlas TO riskatlas_app;

\connect riskatlas
CREATE EXTENSION IF NOT EXISTS citus;
CREATE EXTENSION IF NOT EXISTS postgis;
GRANT USAGE ON SCHEMA public TO riskatlas_app;
ALTER DEFAULT PRIVILEGES FOR ROLE riskatlas_owner IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO riskatlas_app;
ALTER DEFAULT PRIVILEGES FOR ROLE riskatlas_owner IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO riskatlas_app;
ALTER DEFAULT PRIVILEGES FOR ROLE riskatlas_owner IN SCHEMA public
    GRANT EXECUTE ON ROUTINES TO riskatlas_app;
INSERT INTO pg_dist_authinfo (nodeid, rolename, authinfo) VALUES
    (0, 'postgres', 'password=' || :'postgres_password'),
    (0, 'riskatlas_owner', 'password=' || :'owner_password'),
    (0, 'riskatlas_app', 'password=' || :'app_password');
SQL
