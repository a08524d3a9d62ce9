#!/bin/sh
# Runs once, as the superuser inside the db container, when the data volume is first
# initialised (docker-entrypoint-initdb.d; after the image's own 10_postgis.sh). Makes the
# two roles RiskAtlas logs in as (see app/db_roles.py):
#   riskatlas_owner  owns the database and its objects: migrations, loads, backups;
#   riskatlas_app    the API: reads and writes rows, cannot create, alter or drop anything.
# Passwords come from the environment and are read by psql's \getenv, so they never appear
# on a command line. Changing them later: ALTER ROLE ... PASSWORD in the db container.
set -eu

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres <<'SQL'
\getenv owner_password RISKATLAS_OWNER_PASSWORD
\getenv app_password RISKATLAS_APP_PASSWORD
CREATE ROLE riskatlas_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'owner_password';
CREATE ROLE riskatlas_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'app_password';
CREATE DATABASE riskatlas OWNER riskatlas_owner;
REVOKE ALL ON DATABASE riskatlas FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE riskatlas TO riskatlas_app;

\connect riskatlas
-- PostGIS is not a trusted extension: the superuser installs it, once.
CREATE EXTENSION IF NOT EXISTS postgis;
GRANT USAGE ON SCHEMA public TO riskatlas_app;
-- Whatever the owner's migrations create is the app role's to use, and only to use.
ALTER DEFAULT PRIVILEGES FOR ROLE riskatlas_owner IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO riskatlas_app;
ALTER DEFAULT PRIVILEGES FOR ROLE riskatlas_owner IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO riskatlas_app;
ALTER DEFAULT PRIVILEGES FOR ROLE riskatlas_owner IN SCHEMA public
    GRANT EXECUTE ON ROUTINES TO riskatlas_app;
SQL
