-- Warehouse schema: portable between SQLite (embedded default) and PostgreSQL.
-- Applied by village_reports.warehouse.create_schema; every statement is idempotent.

-- What was last applied (a digest of schema, views, catalogue and roster): a run whose
-- digest matches touches nothing, so concurrent runs never see views being re-created.
CREATE TABLE IF NOT EXISTS schema_state (
    name        TEXT PRIMARY KEY,
    digest      TEXT NOT NULL,
    applied_at  TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS dim_unit (
    unit_code    TEXT PRIMARY KEY,
    unit_name    TEXT NOT NULL,
    kind         TEXT NOT NULL,           -- 村 | 居委会 | 镇本级
    placeholder  BOOLEAN NOT NULL         -- name still to be confirmed by the township
);

CREATE TABLE IF NOT EXISTS dim_indicator (
    indicator_code  TEXT PRIMARY KEY,
    indicator_name  TEXT NOT NULL,
    unit            TEXT NOT NULL,
    section_code    TEXT NOT NULL,
    section_name    TEXT NOT NULL,
    value_type      TEXT NOT NULL,        -- integer | decimal | percentage
    decimals        INTEGER NOT NULL,
    reporter        TEXT NOT NULL,        -- village | township | derived
    aggregation     TEXT NOT NULL,        -- sum | township | ratio | count_units
    min_value       DOUBLE PRECISION NOT NULL,
    max_value       DOUBLE PRECISION NOT NULL,
    sort_order      INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS dim_period (
    year          INTEGER PRIMARY KEY,
    period_start  DATE NOT NULL,
    period_end    DATE NOT NULL,
    deadline      TEXT NOT NULL           -- ISO 8601 UTC; from data/rules.yaml
);

-- One row per distinct file received (its SHA-256); never deleted.
CREATE TABLE IF NOT EXISTS submission (
    submission_id     TEXT PRIMARY KEY,   -- SHA-256 of the file's bytes
    unit_code         TEXT,               -- as the workbook states it; NULL if unreadable
    year              INTEGER NOT NULL,
    file_name         TEXT NOT NULL,
    archive_path      TEXT NOT NULL,
    size_bytes        BIGINT NOT NULL,
    received_at       TEXT NOT NULL,      -- ISO 8601 UTC, first time this content was seen
    template_version  TEXT,
    status            TEXT NOT NULL,      -- accepted | accepted_with_warnings | rejected
    is_current        BOOLEAN NOT NULL,   -- the unit's figures for the year come from this file
    error_count       INTEGER NOT NULL,
    warning_count     INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS submission_unit_year ON submission (unit_code, year);

-- Every file ever received: one row per inbox path and content. Each is exactly one of
-- accepted, accepted with warnings, rejected (its submission's status) or duplicate.
CREATE TABLE IF NOT EXISTS file_receipt (
    receipt_id     TEXT PRIMARY KEY,      -- SHA-256 of inbox path and content hash
    submission_id  TEXT NOT NULL,         -- the content's SHA-256
    year           INTEGER NOT NULL,
    file_name      TEXT NOT NULL,
    received_at    TEXT NOT NULL,
    is_duplicate   BOOLEAN NOT NULL       -- same bytes as a file received before
);
CREATE INDEX IF NOT EXISTS file_receipt_submission ON file_receipt (submission_id);

-- Every Great Expectations run: one per batch of submissions.
CREATE TABLE IF NOT EXISTS validation_run (
    validation_id   TEXT PRIMARY KEY,     -- SHA-256 of the batch's submission ids
    validated_at    TEXT NOT NULL,
    submission_ids  TEXT NOT NULL,        -- JSON list
    success         BOOLEAN NOT NULL,
    evaluated       INTEGER NOT NULL,
    successful      INTEGER NOT NULL,
    result_json     TEXT NOT NULL         -- GX's own description of the run
);

-- Every figure of every submission, with the cell it came from.
CREATE TABLE IF NOT EXISTS fact_value (
    submission_id   TEXT NOT NULL REFERENCES submission (submission_id),
    indicator_code  TEXT NOT NULL,
    unit_code       TEXT NOT NULL,
    year            INTEGER NOT NULL,
    value           DOUBLE PRECISION,     -- NULL: blank, not reported
    raw_text        TEXT NOT NULL,
    sheet           TEXT NOT NULL,
    cell            TEXT NOT NULL,
    note            TEXT NOT NULL,
    PRIMARY KEY (submission_id, indicator_code)
);
CREATE INDEX IF NOT EXISTS fact_value_year ON fact_value (year, indicator_code);

CREATE TABLE IF NOT EXISTS submission_problem (
    submission_id   TEXT NOT NULL REFERENCES submission (submission_id),
    seq             INTEGER NOT NULL,
    code            TEXT NOT NULL,
    severity        TEXT NOT NULL,        -- error | warning | info
    sheet           TEXT NOT NULL,
    cell            TEXT NOT NULL,
    indicator_code  TEXT NOT NULL,
    message         TEXT NOT NULL,
    PRIMARY KEY (submission_id, seq)
);

-- Township totals per year, rewritten whole for a year by the report DAG.
CREATE TABLE IF NOT EXISTS township_total (
    year            INTEGER NOT NULL,
    indicator_code  TEXT NOT NULL,
    value           DOUBLE PRECISION,
    units_reported  INTEGER NOT NULL,
    units_expected  INTEGER NOT NULL,
    PRIMARY KEY (year, indicator_code)
);

-- The cells behind each total (provenance).
CREATE TABLE IF NOT EXISTS township_total_source (
    year            INTEGER NOT NULL,
    indicator_code  TEXT NOT NULL,
    unit_code       TEXT NOT NULL,
    source_code     TEXT NOT NULL,        -- the indicator whose cell this is (ratio parts differ)
    value           DOUBLE PRECISION NOT NULL,
    sheet           TEXT NOT NULL,
    cell            TEXT NOT NULL,
    PRIMARY KEY (year, indicator_code, unit_code, source_code)
);
