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


@pytest.mark.slow
def test_an_annual_run_rewrites_the_later_years_that_show_its_year(tmp_path: Path) -> None:
    """A backfill of 2020 alone, after 2021 was written without it: 2021's 上年 column
    said 上年无数据 until 2021 ran again. The annual run now rewrites it after its own year."""
    env = airflow_env(tmp_path, tmp_path)
    write_samples(tmp_path / "data" / "inbox", [2020, 2021])
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)

    def annual(logical_date: str) -> str:
        args = [AIRFLOW, "dags", "test", "village_reports_annual", logical_date]
        run = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        return (tmp_path / "output" / "2021" / "annual_report.md").read_text(encoding="utf-8")

    assert "| 低保救助对象 | 1137 人 | 上年无数据 | 上年无数据 |" in annual("2022-01-01")  # 2021 alone
    assert "| 低保救助对象 | 1137 人 | 1127 人 | 比上年增加 10 人 |" in annual("2021-01-01")  # then 2020
