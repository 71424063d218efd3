"""Both DAGs under `airflow dags test` (SQLite metadata DB and SQLite warehouse), as make run does."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

import pytest

from village_reports.samples import write_samples

from .conftest import AIRFLOW, airflow_env


@pytest.mark.slow
def test_dags_test_runs_ingest_then_report(tmp_path: Path) -> None:
    env = airflow_env(tmp_path, tmp_path)
    write_samples(tmp_path / "data" / "inbox", [2021])
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    for dag_id in ("village_reports", "township_report"):
        run = subprocess.run([AIRFLOW, "dags", "test", dag_id], env=env, capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        assert "state=success" in run.stdout + run.stderr
    with (tmp_path / "output" / "2021" / "township_totals.csv").open(encoding="utf-8-sig") as handle:
        rows = {row["code"]: row for row in csv.DictReader(handle)}
    assert rows["REV01"]["value"] == "1137" and rows["REV01"]["units_reported"] == "18"
    assert rows["LIV01"]["value"] == "66.98"
