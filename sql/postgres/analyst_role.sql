-- A read-only role for analysts on the PostgreSQL warehouse. Run as the warehouse owner:
--   psql -d warehouse -f sql/postgres/analyst_role.sql
-- then give people logins that inherit it:  CREATE ROLE alice LOGIN IN ROLE village_analyst;
-- Analysts may read every table and view, now and later, and change nothing.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'village_analyst') THEN
        CREATE ROLE village_analyst NOLOGIN;
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO village_analyst', current_database());
END
$$;
GRANT USAGE ON SCHEMA public TO village_analyst;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO village_analyst;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO village_analyst;
REVOKE CREATE ON SCHEMA public FROM village_analyst;
ALTER ROLE village_analyst SET default_transaction_read_only = on;
