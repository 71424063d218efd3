"""Integration fixtures: a project folder in tmp, and a warehouse on SQLite or PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..conftest import IN_CI

PG_ADMIN_URL = os.environ.get("VILLAGE_REPORTS_TEST_PG", "postgresql+psycopg://root@127.0.0.1:5432/postgres")


def _postgres_database() -> Iterator[str]:
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            name = f"village_test_{uuid.uuid4().hex[:10]}"
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # ruff: ignore[blind-except]
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI: {exc}")
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def project(request, tmp_path: Path, monkeypatch) -> Iterator[Path]:
    """Data, output and warehouse settings pointed at a fresh folder (and database)."""
    monkeypatch.setenv("VILLAGE_REPORTS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VILLAGE_REPORTS_OUTPUT_DIR", str(tmp_path / "output"))
    if request.param == "sqlite":
        monkeypatch.setenv("AIRFLOW_CONN_VILLAGE_WAREHOUSE", f"sqlite:///{tmp_path / 'data' / 'warehouse.sqlite'}")
        yield tmp_path
    else:
        database = _postgres_database()
        monkeypatch.setenv("AIRFLOW_CONN_VILLAGE_WAREHOUSE", next(database))
        yield tmp_path
        next(database, None)
