"""The nightly DAG over 1,000 submissions under `airflow dags test`: tasks pass references,
not records, so every task instance's XCom stays small at any N, no batch is printed in
the log, and the run's staged files are gone once it has loaded."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from .conftest import AIRFLOW, airflow_env, bench_module

N = 1_000
XCOM_LIMIT = 64 * 1024  # bytes per task instance, as Airflow stores the value


@pytest.mark.slow
def test_every_xcom_stays_under_64_kib_at_a_thousand_files(tmp_path: Path) -> None:
    bench = bench_module()
    bench.CORPUS = tmp_path / "corpus"
    corpus = bench.make_corpus(N)
    work = tmp_path / "work"
    env = airflow_env(
        tmp_path,
        work,
        VILLAGE_REPORTS_ROSTER=str(corpus / "roster.yaml"),
        VILLAGE_REPORTS_INBOX=str(corpus / "inbox"),
    )
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    run = subprocess.run(
        [AIRFLOW, "dags", "test", "village_reports"], env=env, capture_output=True, text=True, timeout=1200
    )
    log = run.stdout + run.stderr
    assert run.returncode == 0 and "state=success" in log, log[-3000:]

    with sqlite3.connect(tmp_path / "airflow" / "airflow.db") as metadata:
        sizes = metadata.execute(
            "SELECT task_id, map_index, length(CAST(value AS BLOB)) FROM xcom WHERE dag_id = 'village_reports'"
        ).fetchall()
    tasks = {task for task, _, _ in sizes}
    assert {"discover_and_archive", "plan_batches", "batch.read", "batch.validate", "batch.load", "publish"} <= tasks
    largest = max(sizes, key=lambda row: row[2])
    assert largest[2] < XCOM_LIMIT, f"{largest[0]}[{largest[1]}] pushed {largest[2]:,} bytes"
    # a returned value is logged whole: no line may carry a batch's records
    assert max(len(line) for line in log.splitlines()) < XCOM_LIMIT
    assert "raw_text" not in log and len(log) < 4_000_000  # the records alone are 8 MB a step

    staging = work / "data" / "staging"
    assert not staging.exists() or not any(staging.iterdir())
    warehouse = create_engine(env["AIRFLOW_CONN_VILLAGE_WAREHOUSE"])
    with warehouse.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM submission")).scalar() == N
        assert connection.execute(text("SELECT COUNT(*) FROM fact_value")).scalar() > 50 * N
    warehouse.dispose()
    receipts = list((work / "output" / "feedback" / "2021").glob("BV*.xlsx"))
    assert len(receipts) == N
