"""Airflow's SQLite metadata DB without "database is locked" from a savepoint.

``[database] sql_alchemy_connect_args = village_reports.airflow_sqlite.CONNECT_ARGS``
(bin/airflow-env sets it for ``make airflow`` and the operator's shell).

The cause. Python's sqlite3 opens a transaction (``BEGIN``, deferred) only before an
INSERT, UPDATE or DELETE. A SQLAlchemy savepoint sent outside one (``SAVEPOINT``) opens a
*deferred* transaction instead: its first SELECT pins a snapshot of the WAL database, and
its first write must then upgrade that reader to the writer. If the scheduler, the DAG
processor or the api-server committed in between, SQLite refuses the upgrade at once
(SQLITE_BUSY, "database is locked") without waiting for the busy timeout, since waiting
cannot help a stale snapshot. ``airflow backfill create`` creates each run inside such a
savepoint (``airflow.models.backfill``), and so does the UI's backfill; so the first
backfill, made while the scheduler is busy with the run unpausing created, can fail.

The fix. A savepoint that would open the transaction opens it with ``BEGIN IMMEDIATE``:
the writer's lock is taken first, waiting up to ``timeout`` seconds like any other write,
and the snapshot can no longer go stale. Reads outside a transaction are unchanged.
"""

from __future__ import annotations

import sqlite3
from typing import Any

BUSY_TIMEOUT_SECONDS = 30.0


class _Cursor(sqlite3.Cursor):
    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        if not self.connection.in_transaction and sql.lstrip()[:9].upper() == "SAVEPOINT":
            super().execute("BEGIN IMMEDIATE")
        return super().execute(sql, parameters)


class SavepointImmediateConnection(sqlite3.Connection):
    """A sqlite3 connection whose savepoints open their transaction with BEGIN IMMEDIATE."""

    def cursor(self, factory: Any = _Cursor) -> sqlite3.Cursor:  # type: ignore[override]
        return super().cursor(factory)

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return self.cursor().execute(sql, parameters)  # the shortcut skips cursor()


def connect_args(sql_alchemy_conn: str) -> dict[str, Any]:
    """``sqlite3.connect`` arguments for a SQLite metadata DB; none for another database."""
    if not sql_alchemy_conn.startswith("sqlite"):
        return {}
    return {"timeout": BUSY_TIMEOUT_SECONDS, "factory": SavepointImmediateConnection}


def _configured() -> dict[str, Any]:
    try:
        from airflow.configuration import conf
    except ImportError:  # imported without Airflow, e.g. by a test
        return {}
    return connect_args(conf.get("database", "sql_alchemy_conn"))


CONNECT_ARGS = _configured()
