"""Two runs at once (the nightly run and a backfill, or two manual runs) over one inbox,
warehouse and outputs: afterwards the views equal a single run's, every 回执 is whole,
and no temporary file is left (issue 15, item 3)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import openpyxl
from sqlalchemy import text

from village_reports import settings, warehouse
from village_reports.samples import write_samples

from .conftest import _postgres_database

# Each process waits for the go file, so both start their runs at the same moment (their
# imports take seconds), then runs what a nightly run and the annual run do, without
# Airflow; one file per batch makes their loads and 回执 interleave.
RUN = """
import sys, time
from pathlib import Path
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.01)
from village_reports import pipeline
run_key = sys.argv[1]
lines = pipeline.run_ingest(batch_size=1, run_key=run_key)
pipeline.finish_run([lines], run_key=run_key)
for year in pipeline.reporting_years():
    pipeline.report_year(year)
print(len(lines))
"""

VIEWS = ("village_indicator_values", "submission_status", "received_files", "file_accounting", "township_totals")


def _start(run_key: str, go: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", RUN, run_key, str(go)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen) -> int:
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-4000:]
    return int(out.split()[-1])


def _views(env: dict[str, str], root: Path) -> dict[str, list[tuple]]:
    """Every analyst view, rows sorted, the project's own folder written as ``<root>``."""
    engine = warehouse.get_engine(env["AIRFLOW_CONN_VILLAGE_WAREHOUSE"])
    found = {}
    with engine.connect() as connection:
        for name in VIEWS:
            rows = connection.execute(text(f"SELECT * FROM {name}")).all()
            found[name] = sorted(
                (tuple(str(v).replace(str(root), "<root>") if isinstance(v, str) else v for v in row) for row in rows),
                key=repr,
            )
    engine.dispose()
    return found


def _outputs(root: Path) -> dict[str, int]:
    """Every output file by its path under output/ (the validation report aside); each
    回执 must open."""
    found = {}
    for path in sorted((root / "output").rglob("*")):
        if path.is_file() and "validation" not in path.parts:
            if path.suffix == ".xlsx":
                openpyxl.load_workbook(path, read_only=True).close()
            found[str(path.relative_to(root / "output"))] = 1
    return found


def test_two_runs_at_once_equal_one_run(project: Path, tmp_path: Path) -> None:
    inbox = settings.inbox_dir()
    write_samples(inbox, [2020, 2021])
    env = {**os.environ, "VILLAGE_REPORTS_INBOX": str(inbox)}

    go = tmp_path / "go"
    runs = [_start(key, go, env) for key in ("scheduled__2021-06-01T18:00:00+00:00", "backfill__2021-12-31")]
    time.sleep(0.5)
    go.touch()
    loaded = [_finish(run) for run in runs]

    # the reference: one run over the same inbox, in a fresh data folder and warehouse
    single = tmp_path / "single"
    database = None
    if env["AIRFLOW_CONN_VILLAGE_WAREHOUSE"].startswith("sqlite"):
        url = f"sqlite:///{single / 'data' / 'warehouse.sqlite'}"
    else:
        database = _postgres_database()
        url = next(database)
    single_env = {
        **env,
        "VILLAGE_REPORTS_DATA_DIR": str(single / "data"),
        "VILLAGE_REPORTS_OUTPUT_DIR": str(single / "output"),
        "AIRFLOW_CONN_VILLAGE_WAREHOUSE": url,
    }
    try:
        alone = _start("manual__single", go, single_env)
        assert _finish(alone) == sum(loaded) == 38  # each file was loaded by one of the two runs
        assert _views(env, project) == _views(single_env, single)
    finally:
        if database is not None:
            next(database, None)

    assert _outputs(project) == _outputs(single)
    left = [p for p in project.rglob("*") if p.name.endswith(".part")]
    assert not left, left
    staging = project / "data" / "staging"
    assert not staging.exists() or not any(staging.iterdir())


REPORT = """
import sys, time
from pathlib import Path
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.01)
from village_reports import pipeline
for _ in range(3):
    pipeline.report_year(2021)
print(0)
"""


def test_two_reports_of_a_year_at_once(project: Path, tmp_path: Path) -> None:
    """The annual run's report_years and township_report may report 2021 at the same time:
    both end well, and the totals and outputs are one report's."""
    from village_reports import pipeline

    write_samples(settings.inbox_dir(), [2021])
    pipeline.finish_run([pipeline.run_ingest()])
    pipeline.report_year(2021)
    before = _views(dict(os.environ), project)
    go = tmp_path / "go"
    reports = [
        subprocess.Popen(
            [sys.executable, "-c", REPORT, key, str(go)],
            env=dict(os.environ),
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for key in ("a", "b")
    ]
    time.sleep(0.5)
    go.touch()
    for report in reports:
        _finish(report)
    assert _views(dict(os.environ), project) == before
    for path in (project / "output" / "2021").glob("*.xlsx"):
        openpyxl.load_workbook(path)
    assert not [p for p in project.rglob("*") if p.name.endswith(".part")]
