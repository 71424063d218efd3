#!/bin/bash
# Run once by the postgres image on first start: the warehouse lives beside Airflow's metadata.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<-SQL
  CREATE DATABASE warehouse OWNER "$POSTGRES_USER";
SQL
