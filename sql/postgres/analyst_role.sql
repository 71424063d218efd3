-- A read-only role for analysts on the PostgreSQL warehouse. Run as the warehouse owner
-- (the role the pipeline connects as):
--   psql -d warehouse -f sql/postgres/analyst_role.sql
-- then give each person a login with the procedure it defines:
--   CALL add_village_analyst('alice', 'a password');
-- Analysts may read every table and view, now and later, and change nothing: not a
-- table, not the schema, and not even a temporary table of their own.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'village_analyst') THEN
        CREATE ROLE village_analyst NOLOGIN;
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO village_analyst', current_database());
    -- Every role may create temporary tables through PUBLIC, and a login does not inherit
    -- a role's settings: take TEMPORARY from PUBLIC and keep it for the pipeline's own role
    -- (it stages each batch's figures in a temporary table).
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO CURRENT_USER', current_database());
END
$$;
GRANT USAGE ON SCHEMA public TO village_analyst;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO village_analyst;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO village_analyst;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM village_analyst;
ALTER ROLE village_analyst SET default_transaction_read_only = on;

-- A login for one analyst: a member of village_analyst whose sessions are read-only by
-- default too (ALTER ROLE ... SET applies to the role that logs in, not to its groups).
CREATE OR REPLACE PROCEDURE add_village_analyst(login TEXT, password TEXT)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L IN ROLE village_analyst', login, password);
    EXECUTE format('ALTER ROLE %I SET default_transaction_read_only = on', login);
END
$$;
REVOKE ALL ON PROCEDURE add_village_analyst(TEXT, TEXT) FROM PUBLIC;
