-- PostgreSQL only: a batch's facts arrive by COPY into this table, then one INSERT ... SELECT.
CREATE TEMP TABLE IF NOT EXISTS fact_staging (LIKE fact_value INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;
