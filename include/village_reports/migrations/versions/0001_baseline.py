"""Baseline: the warehouse's tables as they were before migrations (sql/schema.sql).

A warehouse made before migrations has exactly these tables: ``upgrade`` stamps it at
this revision instead of running it (``village_reports.warehouse.upgrade``).

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen: later changes come as new revisions, never as edits here.
STATEMENTS = (
    """
    CREATE TABLE schema_state (
        name        TEXT PRIMARY KEY,
        digest      TEXT NOT NULL,
        applied_at  TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE dim_unit (
        unit_code    TEXT PRIMARY KEY,
        unit_name    TEXT NOT NULL,
        kind         TEXT NOT NULL,           -- 村 | 居委会 | 镇本级
        placeholder  BOOLEAN NOT NULL         -- name still to be confirmed by the township
    )
    """,
    """
    CREATE TABLE dim_indicator (
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
    )
    """,
    """
    CREATE TABLE dim_period (
        year          INTEGER PRIMARY KEY,
        period_start  DATE NOT NULL,
        period_end    DATE NOT NULL,
        deadline      TEXT NOT NULL           -- ISO 8601 UTC; from data/rules.yaml
    )
    """,
    """
    CREATE TABLE submission (
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
    )
    """,
    """
    CREATE INDEX submission_unit_year ON submission (unit_code, year)
    """,
    """
    CREATE TABLE file_receipt (
        receipt_id     TEXT PRIMARY KEY,      -- SHA-256 of inbox path and content hash
        submission_id  TEXT NOT NULL,         -- the content's SHA-256
        year           INTEGER NOT NULL,
        file_name      TEXT NOT NULL,
        received_at    TEXT NOT NULL,
        is_duplicate   BOOLEAN NOT NULL       -- same bytes as a file received before
    )
    """,
    """
    CREATE INDEX file_receipt_submission ON file_receipt (submission_id)
    """,
    """
    CREATE TABLE validation_run (
        validation_id   TEXT PRIMARY KEY,     -- SHA-256 of the batch's submission ids
        validated_at    TEXT NOT NULL,
        submission_ids  TEXT NOT NULL,        -- JSON list
        success         BOOLEAN NOT NULL,
        evaluated       INTEGER NOT NULL,
        successful      INTEGER NOT NULL,
        result_json     TEXT NOT NULL         -- GX's own description of the run
    )
    """,
    """
    CREATE TABLE fact_value (
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
    )
    """,
    """
    CREATE INDEX fact_value_year ON fact_value (year, indicator_code)
    """,
    """
    CREATE TABLE submission_problem (
        submission_id   TEXT NOT NULL REFERENCES submission (submission_id),
        seq             INTEGER NOT NULL,
        code            TEXT NOT NULL,
        severity        TEXT NOT NULL,        -- error | warning | info
        sheet           TEXT NOT NULL,
        cell            TEXT NOT NULL,
        indicator_code  TEXT NOT NULL,
        message         TEXT NOT NULL,
        PRIMARY KEY (submission_id, seq)
    )
    """,
    """
    CREATE TABLE township_total (
        year            INTEGER NOT NULL,
        indicator_code  TEXT NOT NULL,
        value           DOUBLE PRECISION,
        units_reported  INTEGER NOT NULL,
        units_expected  INTEGER NOT NULL,
        PRIMARY KEY (year, indicator_code)
    )
    """,
    """
    CREATE TABLE township_total_source (
        year            INTEGER NOT NULL,
        indicator_code  TEXT NOT NULL,
        unit_code       TEXT NOT NULL,
        source_code     TEXT NOT NULL,        -- the indicator whose cell this is (ratio parts differ)
        value           DOUBLE PRECISION NOT NULL,
        sheet           TEXT NOT NULL,
        cell            TEXT NOT NULL,
        PRIMARY KEY (year, indicator_code, unit_code, source_code)
    )
    """,
)
# created in this order; dropped in reverse
TABLES = (
    "schema_state",
    "dim_unit",
    "dim_indicator",
    "dim_period",
    "submission",
    "file_receipt",
    "validation_run",
    "fact_value",
    "submission_problem",
    "township_total",
    "township_total_source",
)


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    for table in reversed(TABLES):
        op.execute(f"DROP TABLE {table}")
