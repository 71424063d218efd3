"""Sign-off and locking of a reporting year (issue 12).

``signoff_event`` keeps every decision on a year, never updated or deleted: the
statistician's approval (审核通过), a send-back (退回) and a reopening, each with who,
when, why, the time of the data reviewed and the digest of the totals approved. A year is
locked while its latest approval-or-reopening is an approval
(``village_reports.signoff``, the view ``signoff_state``).

``signoff_total`` keeps the township totals as an approval saw them, so that the next
review can list what moved since.

A submission for a locked year is stored with the status ``received_after_signoff``;
``submission.status`` is free text (the baseline has no constraint on it), so the new
value needs no change to that table.

Downgrade drops both tables: the decisions are lost, the files and figures stay. A file
held as ``received_after_signoff`` then stays so until it is read again.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signoff_event",
        sa.Column("event_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("acted_at", sa.Text(), nullable=False),  # ISO 8601 UTC
        sa.Column("reason", sa.Text(), nullable=False),  # '' for an approval without a comment
        sa.Column("data_as_of", sa.Text(), nullable=True),  # latest received_at of the year's loaded files
        sa.Column("totals_digest", sa.Text(), nullable=True),
        sa.Column("run_id", sa.Text(), nullable=True),  # the Airflow run that recorded it, if any
        sa.CheckConstraint("action IN ('approved', 'sent_back', 'reopened')", name="signoff_event_action"),
    )
    op.create_index("signoff_event_year", "signoff_event", ["year", "event_id"])
    op.create_table(
        "signoff_total",
        sa.Column("event_id", sa.Integer(), sa.ForeignKey("signoff_event.event_id"), nullable=False),
        sa.Column("indicator_code", sa.Text(), nullable=False),
        sa.Column("value", sa.Double(), nullable=True),  # None: nobody had reported it
        sa.PrimaryKeyConstraint("event_id", "indicator_code"),
    )


def downgrade() -> None:
    op.drop_table("signoff_total")
    op.drop_index("signoff_event_year", table_name="signoff_event")
    op.drop_table("signoff_event")
