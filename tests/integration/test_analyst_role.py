"""The read-only analyst role on PostgreSQL: reads every view, changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from village_reports import warehouse

ROLE_SCRIPT = Path(__file__).resolve().parents[2] / "sql" / "postgres" / "analyst_role.sql"


@pytest.mark.postgres
@pytest.mark.parametrize("project", ["postgresql"], indirect=True)
def test_analyst_role_reads_views_and_cannot_write(project: Path) -> None:
    engine = warehouse.get_engine()
    warehouse.create_schema(engine)
    raw = engine.raw_connection()  # as psql would run it: no parameter parsing of '%I'
    try:
        raw.cursor().execute(ROLE_SCRIPT.read_text(encoding="utf-8"))
        raw.commit()
    finally:
        raw.close()
    with engine.connect() as connection:
        connection.execute(text("SET ROLE village_analyst"))
        assert connection.execute(text("SELECT COUNT(*) FROM dim_indicator")).scalar() > 40
        connection.execute(text("SELECT * FROM township_totals")).all()
        with pytest.raises(DBAPIError, match=r"permission denied"):
            connection.execute(text("DELETE FROM dim_unit"))
