"""Nights as the scheduler runs them (LocalExecutor, api-server, dag-processor): the
nightly ingest's asset event says which years changed, and `township_report` rewrites
only those. A night with no new files emits no event and rewrites nothing."""

from __future__ import annotations

import csv
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from village_reports.samples import write_samples

from .conftest import add_to_value, airflow_cli, airflow_env, airflow_processes, free_port, scheduler_settings, wait_for

YEARS = (2019, 2020, 2021)


@pytest.fixture
def scheduler(tmp_path: Path) -> Iterator[dict[str, str]]:
    port = free_port()
    env = airflow_env(
        tmp_path,
        tmp_path / "night",
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__PARALLELISM="4",
        **scheduler_settings(port, "nights-test-secret"),
        VILLAGE_REPORTS_BATCH_SIZE="20",  # fewer task start-ups, the same result
    )
    write_samples(tmp_path / "night" / "data" / "inbox", list(YEARS))
    airflow_cli(env, "db", "migrate", timeout=300)
    commands = {"api-server": ["api-server", "--port", str(port)], "scheduler": ["scheduler"]}
    commands["dag-processor"] = ["dag-processor"]
    with airflow_processes(commands, env, tmp_path / "logs"):
        yield env


def _runs(env: dict[str, str], dag_id: str) -> list[dict]:
    output = airflow_cli(env, "dags", "list-runs", dag_id, "-o", "json")
    return json.loads(next((line for line in output.splitlines() if line.startswith("[")), "[]"))


def _wait_for_runs(env: dict[str, str], dag_id: str, count: int) -> list[dict]:
    def finished() -> list[dict] | None:
        runs = _runs(env, dag_id)
        done = len(runs) >= count and all(r["state"] in ("success", "failed") for r in runs)
        return runs if done else None

    runs = wait_for(finished, 600, f"{count} run(s) of {dag_id}")
    assert {r["state"] for r in runs} == {"success"}, runs  # type: ignore[union-attr]
    return runs  # type: ignore[return-value]


def _stamps(output: Path) -> dict[int, int]:
    return {year: (output / str(year) / "township_totals.csv").stat().st_mtime_ns for year in YEARS}


@pytest.mark.slow
def test_township_report_rewrites_only_the_years_that_changed(scheduler: dict[str, str], tmp_path: Path) -> None:
    env, output = scheduler, tmp_path / "night" / "output"
    wait_for(lambda: "township_report" in airflow_cli(env, "dags", "list", "-o", "plain"), 180, "the DAG processor")
    airflow_cli(env, "dags", "unpause", "township_report")
    airflow_cli(env, "dags", "unpause", "village_reports")  # its latest night starts at once

    _wait_for_runs(env, "village_reports", 1)
    _wait_for_runs(env, "township_report", 1)
    first = _stamps(output)
    totals_2021 = (output / "2021" / "township_totals.csv").read_text(encoding="utf-8-sig")

    # a night with nothing new: publish is skipped, so no asset event and no report run
    airflow_cli(env, "dags", "trigger", "village_reports")
    _wait_for_runs(env, "village_reports", 2)
    time.sleep(20)  # time enough for the scheduler to start a township_report, which it must not
    assert len(_runs(env, "township_report")) == 1
    assert _stamps(output) == first
    second_night = next(r for r in _runs(env, "village_reports") if r["run_id"].startswith("manual__"))
    states = json.loads(
        airflow_cli(env, "tasks", "states-for-dag-run", "village_reports", second_night["run_id"], "-o", "json")
    )
    assert {s["task_id"]: s["state"] for s in states}["publish"] == "skipped"

    # a corrected 2021 file: only 2021 is rewritten, with the new figure
    _night_with_a_correction(env, tmp_path / "night" / "data" / "inbox" / "2021", 2, nights=3)
    after = _stamps(output)
    assert after[2019] == first[2019] and after[2020] == first[2020] and after[2021] != first[2021]
    assert (output / "2021" / "township_totals.csv").read_text(encoding="utf-8-sig") != totals_2021

    # a corrected 2020 file: 2020, then 2021, whose 上年 column shows 2020, are rewritten
    report_2021 = (output / "2021" / "annual_report.md").read_text(encoding="utf-8")
    _night_with_a_correction(env, tmp_path / "night" / "data" / "inbox" / "2020", 5, nights=4)
    last = _stamps(output)
    assert last[2019] == after[2019] and last[2020] != after[2020] and last[2021] != after[2021]
    rev01_2020 = _rev01(output / "2020" / "township_totals.csv")
    assert f"| 低保救助对象 | {_rev01(output / '2021' / 'township_totals.csv')} 人 | {rev01_2020} 人 |" in (
        output / "2021" / "annual_report.md"
    ).read_text(encoding="utf-8")
    assert f"| {rev01_2020 - 5} 人 |" in report_2021  # what it said before


def _night_with_a_correction(env: dict[str, str], inbox: Path, added: int, nights: int) -> None:
    """MT01 sends a corrected file (its REV01 plus ``added``) to ``inbox``, and the night
    that loads it runs, then the report: ``nights`` nights and ``nights - 1`` reports in all."""
    original = next(inbox.glob("MT01_*"))
    corrected = inbox / f"{original.stem}_修改.xlsx"
    shutil.copy(original, corrected)
    add_to_value(corrected, "REV01", added)
    airflow_cli(env, "dags", "trigger", "village_reports")
    _wait_for_runs(env, "village_reports", nights)
    _wait_for_runs(env, "township_report", nights - 1)


def _rev01(totals_csv: Path) -> int:
    with totals_csv.open(encoding="utf-8-sig") as handle:
        return int(float(next(row["value"] for row in csv.DictReader(handle) if row["code"] == "REV01")))
