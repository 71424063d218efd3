"""A submission is one content received for one year, not one content.

Before, ``submission_id`` was the file's SHA-256, so the same bytes moved to another
year folder (a clerk who put a 2021 workbook into 2022/, then moved it) were a
duplicate of the first and never read for the year they were moved to (issue 15).

``content_sha256`` now holds the file's SHA-256, and (content, year) is the identity.
``submission_id`` keeps its value for every row already stored, and stays the content's
SHA-256 for the first year a content arrives for; the same content received for another
year gets SHA-256 of ``<content>/<year>`` (``village_reports.intake.submission_id``).
The 回执 already written, named by the id's first 12 characters, keep their names.

Downgrade drops the column: every row stays, and a content stored for two years
is then two submissions whose second id is not a content hash.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("submission") as batch:
        batch.add_column(sa.Column("content_sha256", sa.Text(), nullable=True))
    op.execute("UPDATE submission SET content_sha256 = submission_id")
    with op.batch_alter_table("submission") as batch:
        batch.alter_column("content_sha256", existing_type=sa.Text(), nullable=False)
        batch.create_unique_constraint("submission_content_year", ["content_sha256", "year"])


def downgrade() -> None:
    with op.batch_alter_table("submission") as batch:
        batch.drop_constraint("submission_content_year", type_="unique")
        batch.drop_column("content_sha256")
