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
        connection.execute(text("SELECT * FROM v_signoff_audit")).all()  # the sign-off's audit trail
        connection.execute(text("SELECT * FROM signoff_state")).all()
        with pytest.raises(DBAPIError, match=r"permission denied"):
            connection.execute(text("DELETE FROM dim_unit"))


@pytest.mark.postgres
@pytest.mark.parametrize("project", ["postgresql"], indirect=True)
def test_an_analysts_login_is_read_only_too(project: Path) -> None:
    """A login made as the script says inherits the grants, not the role's settings: it
    must still be unable to write, create a table, or create a temporary table."""
    import uuid

    from sqlalchemy import create_engine

    engine = warehouse.get_engine()
    warehouse.create_schema(engine)
    raw = engine.raw_connection()
    login = f"analyst_{uuid.uuid4().hex[:8]}"
    try:
        raw.cursor().execute(ROLE_SCRIPT.read_text(encoding="utf-8"))
        raw.cursor().execute(f"CALL add_village_analyst('{login}', 'secret')")
        raw.commit()
    finally:
        raw.close()
    analyst = create_engine(engine.url.set(username=login, password="secret"))
    try:
        with analyst.connect() as connection:
            assert connection.execute(text("SHOW default_transaction_read_only")).scalar() == "on"
            connection.execute(text("SELECT * FROM submission_status")).all()
        for statement in ("CREATE TEMP TABLE scratch (x INT)", "CREATE TABLE scratch (x INT)", "DELETE FROM dim_unit"):
            with analyst.connect() as connection:
                # the default is only a default: an analyst can turn it off, the grants still hold
                connection.execute(text("SET TRANSACTION READ WRITE"))
                with pytest.raises(DBAPIError, match=r"permission denied"):
                    connection.execute(text(statement))
    finally:
        analyst.dispose()
        with engine.begin() as connection:
            connection.execute(text(f'DROP OWNED BY "{login}"'))
            connection.execute(text(f'DROP ROLE "{login}"'))
    # the pipeline's own role still stages a batch in a temporary table
    with engine.begin() as connection:
        warehouse.run_sql(connection, "dml/pg_create_fact_staging")
