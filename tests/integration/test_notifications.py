"""Reminders and alerts as Airflow sends them: through the connection village_reports_notify,
to an HTTP server the test starts on 127.0.0.1 (Apprise's json:// target)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from village_reports.samples import write_samples

from .conftest import AIRFLOW, airflow_cli, airflow_env, airflow_processes, free_port, scheduler_settings, wait_for
from .test_pipeline import set_cell

FAST_RETRIES = {"AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "1"}


def _dags_test(env: dict[str, str], *args: str) -> str:
    """``airflow dags test``'s output; it must exit 0 (a run that fails exits 1)."""
    run = subprocess.run([AIRFLOW, "dags", "test", *args], env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    return run.stdout + run.stderr


def _night_with_a_rejected_file(tmp_path: Path, connection: str) -> tuple[dict[str, str], Path]:
    write_samples(tmp_path / "data" / "inbox", [2021])
    rejected = next((tmp_path / "data" / "inbox" / "2021").glob("MT06_*"))
    set_cell(rejected, "REV01", 99999)  # out of range: sent back
    env = airflow_env(tmp_path, tmp_path, AIRFLOW_CONN_VILLAGE_REPORTS_NOTIFY=connection, **FAST_RETRIES)
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    return env, rejected


@pytest.mark.slow
def test_the_night_sends_its_rejections_and_the_reminder_names_the_unit(tmp_path: Path, receiver) -> None:
    env, rejected = _night_with_a_rejected_file(tmp_path, receiver.connection())
    _dags_test(env, "village_reports")
    [sent_back] = receiver.titled("退回通知")
    assert sent_back["title"] == "毛田镇村级报表退回通知"
    assert sent_back["message"].startswith(f"本次入库（2021年度）收到 19 份文件，退回 1 份：{rejected.name}。")

    _dags_test(env, "village_reminders", "2022-03-25T09:00:00+08:00")
    [reminder] = receiver.titled("催报")
    assert reminder["title"] == "毛田镇2021年度报表催报"
    assert reminder["message"].splitlines()[:2] == [
        "毛田镇2021年度村级报表3月31日截止（还剩 6 天）。",
        "被退回待重报 1 个：第06村（待核定）。",
    ]
    assert len(receiver.messages) == 2


@pytest.mark.slow
def test_a_notification_that_fails_shows_but_leaves_the_night_green(tmp_path: Path) -> None:
    """The night's files are in: a red night would send the operator to rerun it. The
    failed task shows the message was not sent, and fail_the_run's log says so."""
    closed = f"json://127.0.0.1:{free_port()}"  # nothing listens there
    env, _ = _night_with_a_rejected_file(
        tmp_path, json.dumps({"conn_type": "apprise", "extra": {"config": {"path": closed}}})
    )
    output = _dags_test(env, "village_reports")
    assert "未能全部发出" in output  # notify_rejections's error
    assert "只有通知未能发出（notify_rejections）" in output
    [run] = _finished_runs(env) or [{}]
    states = json.loads(
        airflow_cli(env, "tasks", "states-for-dag-run", "village_reports", run["run_id"], "-o", "json").splitlines()[-1]
    )
    assert {s["task_id"]: s["state"] for s in states}["notify_rejections"] == "failed"
    assert run["state"] == "success"


def _finished_runs(env: dict[str, str]) -> list[dict] | None:
    output = airflow_cli(env, "dags", "list-runs", "village_reports", "-o", "json")
    runs = json.loads(next((line for line in output.splitlines() if line.startswith("[")), "[]"))
    return runs if runs and all(r["state"] in ("success", "failed") for r in runs) else None


@pytest.mark.slow
def test_a_nightly_run_that_is_late_fires_the_deadline_alert(tmp_path: Path, receiver) -> None:
    """Under a real scheduler (LocalExecutor): the nightly run's deadline, shortened to a
    few seconds after it was queued, passes while it runs; the callback sends the alert."""
    port = free_port()
    env = airflow_env(
        tmp_path,
        tmp_path / "night",
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__PARALLELISM="4",
        **scheduler_settings(port, "notify-test-secret"),
        AIRFLOW_CONN_VILLAGE_REPORTS_NOTIFY=receiver.connection(),
        VILLAGE_REPORTS_NIGHTLY_LATE_MINUTES="0.05",  # 3 s: a run takes longer under any scheduler
    )
    write_samples(tmp_path / "night" / "data" / "inbox", [2021])
    airflow_cli(env, "db", "migrate", timeout=300)
    commands = {"api-server": ["api-server", "--port", str(port)], "scheduler": ["scheduler"]}
    commands["dag-processor"] = ["dag-processor"]
    with airflow_processes(commands, env, tmp_path / "logs"):
        wait_for(lambda: "village_reports" in airflow_cli(env, "dags", "list", "-o", "plain"), 180, "the DAG processor")
        airflow_cli(env, "dags", "unpause", "village_reports")  # its latest night starts at once
        [alert] = wait_for(lambda: receiver.titled("超时"), 300, "the deadline alert")  # type: ignore[misc]
        [run] = wait_for(lambda: _finished_runs(env), 300, "the nightly run")  # type: ignore[misc]
    assert run["state"] == "success"  # a missed deadline alerts; it does not fail the run
    assert alert["title"] == "毛田镇夜间入库超时"
    assert alert["message"].startswith("夜间入库（village_reports，scheduled__")
    assert "仍未完成" in alert["message"]
