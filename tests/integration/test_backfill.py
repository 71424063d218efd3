"""A backfill of reporting years 2019–2021 with Airflow's own `airflow backfill create`,
executed by a real scheduler, DAG processor and api-server (LocalExecutor, SQLite
metadata DB), gives the same warehouse and outputs as a fresh nightly run."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from village_reports import pipeline
from village_reports.samples import write_samples

from .conftest import airflow_cli, airflow_env, airflow_processes, free_port, scheduler_settings, wait_for

DAG_ID = "village_reports_annual"
# Columns that say *when* something happened differ between two runs by design.
COMPARED = {
    "village_indicator_values": "year, unit_code, indicator_code, value, raw_text, sheet, cell, submission_id",
    "township_totals": "year, indicator_code, value, units_reported, units_expected",
    "submission_status": "year, unit_code, status, file_name, template_version, error_count, warning_count",
    "completeness": "*",
}


def _snapshot(warehouse: Path, output: Path) -> dict[str, object]:
    engine = create_engine(f"sqlite:///{warehouse}")
    with engine.connect() as connection:
        views = {
            name: [tuple(r) for r in connection.execute(text(f"SELECT {cols} FROM {name} ORDER BY 1, 2, 3"))]
            for name, cols in COMPARED.items()
        }
    engine.dispose()
    views["csv"] = {p.parent.name: p.read_text("utf-8") for p in sorted(output.glob("*/township_totals.csv"))}
    return views


@pytest.fixture
def airflow_services(tmp_path: Path) -> Iterator[dict[str, str]]:
    port = free_port()
    env = airflow_env(
        tmp_path,
        tmp_path / "backfill",
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__PARALLELISM="4",
        **scheduler_settings(port, "backfill-test-secret"),
        # batches of ten files: fewer task start-ups, same result (batching is a setting)
        VILLAGE_REPORTS_BATCH_SIZE="10",
    )
    airflow_cli(env, "db", "migrate", timeout=300)
    commands = {
        "api-server": ["api-server", "--port", str(port)],
        "scheduler": ["scheduler"],
        "dag-processor": ["dag-processor"],
    }
    with airflow_processes(commands, env, tmp_path / "logs"):
        yield env


@pytest.mark.slow
def test_backfill_of_three_years_equals_a_fresh_nightly_run(
    tmp_path: Path, airflow_services: dict[str, str], monkeypatch
) -> None:
    env = airflow_services
    # Ground truth: a fresh nightly run and its report, on a warehouse of its own.
    nightly = tmp_path / "nightly"
    monkeypatch.setenv("VILLAGE_REPORTS_DATA_DIR", str(nightly / "data"))
    monkeypatch.setenv("VILLAGE_REPORTS_OUTPUT_DIR", str(nightly / "output"))
    monkeypatch.setenv("AIRFLOW_CONN_VILLAGE_WAREHOUSE", f"sqlite:///{nightly / 'data' / 'warehouse.sqlite'}")
    write_samples(nightly / "data" / "inbox")
    pipeline.finish_run([pipeline.run_ingest()])
    for year in pipeline.reporting_years():
        pipeline.report_year(year)

    backfill = tmp_path / "backfill"
    shutil.copytree(nightly / "data" / "inbox", backfill / "data" / "inbox")  # the very same files
    wait_for(lambda: DAG_ID in airflow_cli(env, "dags", "list", "-o", "plain"), 180, "the DAG processor")
    airflow_cli(env, "dags", "unpause", DAG_ID)
    dry_run = airflow_cli(
        env,
        "backfill",
        "create",
        "--dag-id",
        DAG_ID,
        "--from-date",
        "2019-12-31",
        "--to-date",
        "2022-01-01",
        "--dry-run",
    )
    assert [d in dry_run for d in ("2019-12-31 16:00", "2020-12-31 16:00", "2021-12-31 16:00")] == [True] * 3
    airflow_cli(env, "backfill", "create", "--dag-id", DAG_ID, "--from-date", "2019-12-31", "--to-date", "2022-01-01")

    def backfill_runs() -> list[dict]:
        output = airflow_cli(env, "dags", "list-runs", DAG_ID, "-o", "json")
        runs = json.loads(next(line for line in output.splitlines() if line.startswith("[")))
        return [r for r in runs if r["run_id"].startswith("backfill__")]

    def finished() -> bool:
        runs = backfill_runs()
        return len(runs) == 3 and all(r["state"] in ("success", "failed") for r in runs)

    wait_for(finished, 480, "the backfill runs")
    assert {r["state"] for r in backfill_runs()} == {"success"}
    assert _snapshot(backfill / "data" / "warehouse.sqlite", backfill / "output") == _snapshot(
        nightly / "data" / "warehouse.sqlite", nightly / "output"
    )
