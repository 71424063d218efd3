"""A night in which a step fails ends failed, under `airflow dags test` as make run runs it,
and says in one line which steps failed; the steps that run all_done still account."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from village_reports.samples import write_samples

from .conftest import AIRFLOW, airflow_env

FAST_RETRIES = {"AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "1"}


def _dags_test(env: dict[str, str], *args: str) -> str:
    run = subprocess.run([AIRFLOW, "dags", "test", *args], env=env, capture_output=True, text=True, timeout=900)
    return run.stdout + run.stderr


@pytest.mark.slow
def test_a_failed_discover_fails_the_night(tmp_path: Path) -> None:
    """The archive cannot be written, so discover_and_archive fails; publish, all_done and
    the DAG's last step, used to end such a night green."""
    write_samples(tmp_path / "data" / "inbox", [2021])
    not_a_folder = tmp_path / "archive-is-a-file"
    not_a_folder.write_text("the archive was replaced by a file", encoding="utf-8")
    env = airflow_env(tmp_path, tmp_path, VILLAGE_REPORTS_ARCHIVE=str(not_a_folder), **FAST_RETRIES)
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    output = _dags_test(env, "village_reports")
    assert "state=failed" in output and "state=success" not in output.split("fail_the_run")[-1]
    assert "本次运行有步骤失败：discover_and_archive" in output


@pytest.mark.slow
def test_failed_loads_fail_the_annual_run(tmp_path: Path) -> None:
    """The 回执 cannot be written, so every batch's load fails; report_years, which runs
    all_done and is the DAG's last step, used to end such a run green."""
    write_samples(tmp_path / "data" / "inbox", [2021])
    blocked = tmp_path / "output"
    blocked.write_text("the output folder is a file", encoding="utf-8")  # every output write fails
    env = airflow_env(tmp_path, tmp_path, **FAST_RETRIES)
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    output = _dags_test(env, "village_reports_annual", "2022-01-01")
    assert "state=failed" in output
    assert "本次运行有步骤失败：batch.load_" in output


@pytest.mark.slow
def test_a_warehouse_that_is_down_ends_the_night_in_one_line(tmp_path: Path) -> None:
    """A resource fault fails its step at once (no retries) and the run says why in one line."""
    write_samples(tmp_path / "data" / "inbox", [2021])
    env = airflow_env(
        tmp_path, tmp_path, AIRFLOW_CONN_VILLAGE_WAREHOUSE="postgresql+psycopg://root@127.0.0.1:1/warehouse"
    )  # no FAST_RETRIES: a retried step would wait 5 minutes and the test would time out
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    output = _dags_test(env, "village_reports")
    assert "state=failed" in output
    assert "本次运行有步骤失败：prepare_warehouse" in output
    assert "（prepare_warehouse：数据仓库无法连接：127.0.0.1:1）" in output
