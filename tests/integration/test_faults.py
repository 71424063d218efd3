"""Faults during a load, on PostgreSQL: a killed process or a lost connection leaves the
warehouse as it was before that load, and the next run completes the load."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from village_reports import pipeline, settings, warehouse
from village_reports.samples import write_samples
from village_reports.template import COL_CODE, COL_VALUE, COLUMNS, DATA_SHEET

pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("project", ["postgresql"], indirect=True)]

VIEWS = ("village_indicator_values", "submission_status", "received_files", "file_accounting")


def run_pipeline() -> list[dict]:
    return pipeline.run_ingest()


def snapshot() -> dict[str, list[tuple]]:
    with warehouse.get_engine().connect() as connection:
        return {v: [tuple(r) for r in connection.execute(text(f"SELECT * FROM {v} ORDER BY 1, 2, 3"))] for v in VIEWS}


def resubmit_mt01(value: int) -> None:
    path = next((settings.inbox_dir() / "2021").glob("MT01_*"))
    workbook = openpyxl.load_workbook(path)
    ws = workbook[DATA_SHEET]
    code_col, value_col = COLUMNS.index(COL_CODE) + 1, COLUMNS.index(COL_VALUE) + 1
    row = next(r for r in range(1, ws.max_row + 1) if ws.cell(row=r, column=code_col).value == "REV01")
    ws.cell(row=row, column=value_col).value = value
    workbook.save(path)


def mt01_rev01() -> float:
    with warehouse.get_engine().connect() as connection:
        return connection.execute(
            text(
                "SELECT value FROM village_indicator_values "
                "WHERE year = 2021 AND unit_code = 'MT01' AND indicator_code = 'REV01'"
            )
        ).scalar_one()


@pytest.fixture
def loaded(project: Path) -> dict[str, list[tuple]]:
    write_samples(settings.inbox_dir(), [2021])
    assert len(run_pipeline()) == 19
    resubmit_mt01(77)
    return snapshot()


STALLED_LOAD = """
import sys, time
from pathlib import Path
from village_reports import pipeline, warehouse

marker = Path(sys.argv[1])
original = warehouse.run_sql

def stalling(connection, name, params=None):
    original(connection, name, params)
    # inside the load's transaction: the facts are written, nothing is committed
    if name in ("dml/insert_fact", "dml/insert_facts_from_staging"):
        marker.write_text("inside")
        time.sleep(120)

warehouse.run_sql = stalling
pipeline.run_ingest()
"""


def test_killed_load_leaves_the_warehouse_as_it_was(loaded: dict, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    process = subprocess.Popen([sys.executable, "-c", STALLED_LOAD, str(marker)], env=dict(os.environ))
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert process.poll() is None, "the load finished before it could be interrupted"
            assert time.monotonic() < deadline, "the load never reached its facts"
            time.sleep(0.2)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    time.sleep(1)  # PostgreSQL notices the dropped connection and rolls back
    assert snapshot() == loaded
    assert [line["unit_code"] for line in run_pipeline()] == ["MT01"]  # the next run completes it
    assert mt01_rev01() == 77


def test_lost_connection_mid_load_leaves_the_warehouse_as_it_was(loaded: dict, monkeypatch) -> None:
    original = warehouse.run_sql

    def drop_connection(connection, name: str, params=None) -> None:
        original(connection, name, params)
        if name in ("dml/insert_fact", "dml/insert_facts_from_staging"):
            connection.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))

    monkeypatch.setattr(warehouse, "run_sql", drop_connection)
    with pytest.raises(DBAPIError):
        run_pipeline()
    monkeypatch.setattr(warehouse, "run_sql", original)
    assert snapshot() == loaded
    assert [line["unit_code"] for line in run_pipeline()] == ["MT01"]
    assert mt01_rev01() == 77
