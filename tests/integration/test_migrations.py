"""The warehouse's tables change by Alembic revisions, on SQLite and PostgreSQL alike:
a warehouse made before migrations is adopted, an upgrade keeps every row, and a new
column used by a view is one new revision file (issue 11)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from village_reports import intake, pipeline, settings, warehouse
from village_reports.__main__ import main
from village_reports.samples import write_samples

TABLES = (
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
    "signoff_event",
    "signoff_total",
)

NEW_COLUMN = '''"""dim_unit gains the township's code.

Revision ID: 0099
Revises: {head}
"""

import sqlalchemy as sa
from alembic import op

revision = "0099"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dim_unit") as table:
        table.add_column(sa.Column("township_code", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dim_unit") as table:
        table.drop_column("township_code")
'''


def _counts() -> dict[str, int]:
    with warehouse.get_engine().connect() as connection:
        return {t: connection.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in TABLES}


@pytest.fixture
def loaded(project: Path) -> dict[str, int]:
    """A warehouse holding two years of real data, and its row counts."""
    write_samples(settings.inbox_dir(), [2020, 2021])
    pipeline.finish_run([pipeline.run_ingest()])
    for year in (2020, 2021):
        pipeline.report_year(year)
    counts = _counts()
    assert counts["submission"] == 38 and counts["fact_value"] and counts["township_total_source"], counts
    return counts


def _downgrade(target: str) -> None:
    from alembic import command

    with warehouse.get_engine().begin() as connection:
        for statement in warehouse._view_statements(connection.dialect.name):
            if str(statement).startswith("DROP VIEW"):
                connection.execute(statement)
        command.downgrade(warehouse._alembic_config(connection), target)


def _content_hashes() -> set[tuple[str, str]]:
    with warehouse.get_engine().connect() as connection:
        return {tuple(row) for row in connection.execute(text("SELECT submission_id, content_sha256 FROM submission"))}


def test_a_warehouse_made_before_migrations_is_adopted(loaded: dict[str, int], capsys) -> None:
    """The baseline's tables and no alembic_version, as every warehouse before migrations:
    `upgrade` stamps it at the baseline, runs the later revisions, and loses nothing."""
    engine = warehouse.get_engine()
    _downgrade(warehouse.BASELINE)
    assert "content_sha256" not in {c["name"] for c in inspect(engine).get_columns("submission")}
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
    assert warehouse.current_revision(engine) is None
    assert main(["upgrade"]) == 0
    assert warehouse.current_revision(engine) == warehouse.head_revision()
    assert "仓库建于迁移之前：已按基线版本 0001 登记" in capsys.readouterr().out
    assert _counts() == loaded
    # 0002: every stored submission was one content for its year, its id that content's hash
    hashes = _content_hashes()
    assert len(hashes) == loaded["submission"] and all(sid == content for sid, content in hashes)
    pipeline.report_year(2021)  # the views work again


def test_a_stored_content_moved_to_another_year_after_the_upgrade_is_read(loaded: dict[str, int]) -> None:
    """Upgraded from the baseline, a warehouse keeps its ids, and a file it holds for 2020
    moved to 2021/ is read for 2021 under an id of its own."""
    _downgrade(warehouse.BASELINE)
    pipeline.prepare_warehouse()
    path = next(settings.inbox_dir().glob("2020/MT09_*"))
    shutil.copy(path, settings.inbox_dir() / "2021" / "MT09_去年的表.xlsx")
    (line,) = pipeline.run_ingest()
    assert (line["year"], line["unit_code"], line["status"]) == (2021, "MT09", "rejected")  # it states 2020
    content = dict(_content_hashes())
    assert content[line["submission_id"]] == intake.file_sha256(path) != line["submission_id"]
    assert _counts()["submission"] == loaded["submission"] + 1


def test_a_new_column_used_by_a_view_is_one_revision(loaded: dict[str, int], tmp_path: Path, monkeypatch) -> None:
    """The issue's case: add dim_unit.township_code and use it in a view. On SQLite the view
    would block the table's copy; the upgrade drops the views and makes them again."""
    head = warehouse.head_revision()
    migrations = tmp_path / "migrations"
    shutil.copytree(settings.migrations_dir(), migrations, ignore=shutil.ignore_patterns("__pycache__"))
    (migrations / "versions" / "0099_township_code.py").write_text(NEW_COLUMN.format(head=head), encoding="utf-8")
    sql = tmp_path / "sql"
    shutil.copytree(settings.sql_dir(), sql)
    views = (sql / "views.sql").read_text(encoding="utf-8")
    used = views.replace("f.unit_code, u.unit_name,", "f.unit_code, u.unit_name, u.township_code,", 1)
    assert used != views
    (sql / "views.sql").write_text(used, encoding="utf-8")
    monkeypatch.setenv("VILLAGE_REPORTS_MIGRATIONS", str(migrations))
    monkeypatch.setenv("VILLAGE_REPORTS_SQL_DIR", str(sql))
    warehouse._statements.cache_clear()

    engine = warehouse.get_engine()
    pipeline.prepare_warehouse()  # what the first task of the next run does
    assert warehouse.current_revision(engine) == "0099"
    assert "township_code" in {c["name"] for c in inspect(engine).get_columns("dim_unit")}
    assert _counts() == loaded
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT township_code FROM village_indicator_values")).all()
    assert rows and {row[0] for row in rows} == {None}  # the view reads the new column


def test_every_revision_goes_down_and_up_again(project: Path) -> None:
    """Each revision is reversible: down to nothing, and up again to the same tables."""
    from alembic import command

    engine = warehouse.get_engine()
    warehouse.create_schema(engine)
    tables = set(inspect(engine).get_table_names())
    with engine.begin() as connection:
        for statement in warehouse._view_statements(connection.dialect.name):
            if str(statement).startswith("DROP VIEW"):
                connection.execute(statement)
        command.downgrade(warehouse._alembic_config(connection), "base")
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    warehouse.create_schema(engine)
    assert set(inspect(engine).get_table_names()) == tables


def test_the_signoff_revision_goes_down_and_up_again_with_the_data(loaded: dict[str, int]) -> None:
    """0003 adds the sign-off's tables: down, they are gone and every file and figure
    stays; up again, a year can be signed off and a file for it is held (issue 12)."""
    from village_reports import signoff

    engine = warehouse.get_engine()
    pipeline.compute_year_totals(2021)
    review = signoff.review(engine, 2021)
    signoff.record_decision(engine, 2021, signoff.APPROVE, "张三", "", review.digest)
    assert _counts()["signoff_event"] == 1 and _counts()["signoff_total"] > 40
    _downgrade("0002")
    assert not {"signoff_event", "signoff_total"} & set(inspect(engine).get_table_names())
    assert warehouse.current_revision(engine) == "0002"
    pipeline.prepare_warehouse()  # the next run's first task
    assert warehouse.current_revision(engine) == warehouse.head_revision() == "0003"
    assert _counts() == {**loaded, "signoff_event": 0, "signoff_total": 0}
    assert not signoff.state(engine, 2021).locked  # the decisions went with the tables
    pipeline.compute_year_totals(2021)
    signoff.record_decision(engine, 2021, signoff.APPROVE, "张三", "", signoff.review(engine, 2021).digest)
    assert signoff.state(engine, 2021).locked
