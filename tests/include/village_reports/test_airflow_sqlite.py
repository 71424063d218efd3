"""The SQLite connect args that keep `airflow backfill create` from "database is locked":
the race it meets, reproduced with two connections, with and without them."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from village_reports.airflow_sqlite import SavepointImmediateConnection, connect_args


def _database(tmp_path: Path) -> Path:
    path = tmp_path / "airflow.db"
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode=WAL")  # as Airflow sets it
        setup.execute("CREATE TABLE dag_run (id INTEGER PRIMARY KEY, run_id TEXT)")
    return path


def _savepoint_and_read(cli: sqlite3.Connection) -> None:
    """How `backfill create` starts each run: a savepoint, then "is there a run already?"."""
    cli.execute("SAVEPOINT sa_savepoint_1")
    cli.execute("SELECT count(*) FROM dag_run").fetchall()


def test_a_plain_connection_meets_database_is_locked_whatever_the_timeout(tmp_path: Path) -> None:
    path = _database(tmp_path)
    cli, scheduler = sqlite3.connect(path, timeout=30), sqlite3.connect(path)
    _savepoint_and_read(cli)
    scheduler.execute("INSERT INTO dag_run (run_id) VALUES ('scheduled')")
    scheduler.commit()
    started = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        cli.execute("INSERT INTO dag_run (run_id) VALUES ('backfill')")
    assert time.monotonic() - started < 5  # at once: waiting cannot help


def test_the_savepoint_takes_the_write_lock_first(tmp_path: Path) -> None:
    path = _database(tmp_path)
    cli, scheduler = sqlite3.connect(path, **connect_args(f"sqlite:///{path}")), sqlite3.connect(path, timeout=0.1)
    _savepoint_and_read(cli)
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        scheduler.execute("INSERT INTO dag_run (run_id) VALUES ('scheduled')")  # waits its busy timeout
    cli.execute("INSERT INTO dag_run (run_id) VALUES ('backfill')")
    cli.execute("RELEASE SAVEPOINT sa_savepoint_1")
    assert cli.in_transaction  # RELEASE no longer commits: SQLAlchemy's COMMIT does
    cli.commit()
    scheduler.rollback()
    scheduler.execute("INSERT INTO dag_run (run_id) VALUES ('scheduled')")
    scheduler.commit()
    assert cli.execute("SELECT run_id FROM dag_run ORDER BY id").fetchall() == [("backfill",), ("scheduled",)]


def test_only_sqlite_gets_them() -> None:
    assert connect_args("sqlite:////tmp/airflow.db")["factory"] is SavepointImmediateConnection
    assert connect_args("postgresql+psycopg2://airflow@postgres/airflow") == {}
