"""docs/runbook_signoff.md, followed word for word on a fresh clone, as
test_runbook.py follows the backfill runbook: `make airflow`'s script in terminal 1, the
commands of every ``sh`` block in order in terminal 2.

What the runbook leaves to the world happens here between its commands: the year's files
are loaded before it starts ("the year's files are loaded"), a village sends a corrected
file after the sign-off and the nightly run reads it (before step 4), and the runs that
step 4 starts are waited for ("until it is success")."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import ROOT, add_to_value, wait_for
from .runbooks import Terminals, runbook_commands, start_terminals, type_in

RUNBOOK = ROOT / "docs" / "runbook_signoff.md"
YEAR = 2021
LOAD = "from village_reports import pipeline; lines = pipeline.run_ingest(); pipeline.finish_run(lines); " + (
    "[pipeline.report_year(year) for year in pipeline.reporting_years()]"
)


def _night(terminals: Terminals) -> None:
    """A night's ingest and report outside Airflow, on terminal 2's folders."""
    subprocess.run([sys.executable, "-c", LOAD], env=terminals.shell, check=True, capture_output=True, timeout=600)


def _total(terminals: Terminals, code: str) -> str:
    totals = Path(terminals.shell["VILLAGE_REPORTS_OUTPUT_DIR"]) / str(YEAR) / "township_totals.csv"
    with totals.open(encoding="utf-8-sig", newline="") as handle:
        return next(row["value"] for row in csv.DictReader(handle) if row["code"] == code)


def _runs_done(terminals: Terminals, setup: list[str], dag_id: str) -> bool:
    output = type_in(terminals, setup, f"airflow dags list-runs {dag_id} -o json")
    runs = json.loads(next((line for line in output.splitlines() if line.startswith("[")), "[]"))
    return bool(runs) and all(run["state"] in ("success", "failed") for run in runs)


@pytest.fixture
def terminals(tmp_path: Path) -> Iterator[Terminals]:
    yield from start_terminals(tmp_path)


@pytest.mark.slow
def test_the_signoff_runbook_word_for_word(terminals: Terminals) -> None:
    commands = runbook_commands(RUNBOOK.read_text("utf-8"))
    assert commands[0] == "make airflow"
    _night(terminals)  # "the year's files are loaded"
    before = _total(terminals, "REV01")

    setup: list[str] = []
    outputs: list[tuple[str, str]] = []
    for command in commands[1:]:
        if command.startswith(("source ", ". ")):
            setup.append(command)
            continue
        if command.startswith("bin/signoff reopen"):
            # a village corrects the signed-off year; the night reads its file and holds it
            inbox = Path(terminals.shell["VILLAGE_REPORTS_DATA_DIR"]) / "inbox" / str(YEAR)
            original = sorted(inbox.glob("MT01_*"))[0]
            corrected = original.with_name(f"{original.stem}_更正.xlsx")
            shutil.copy(original, corrected)
            add_to_value(corrected, "REV01", 3)
            _night(terminals)
            assert _total(terminals, "REV01") == before  # locked: no total moves
        outputs.append((command, type_in(terminals, setup, command)))
        if command.startswith("airflow dags trigger village_reports"):  # "until it is success"
            for dag_id in ("village_reports", "township_report"):
                wait_for(lambda d=dag_id: _runs_done(terminals, setup, d), 600, f"the runs of {dag_id}")

    said = dict(outputs)
    statuses = [out for command, out in outputs if command.startswith("python -m village_reports signoff-status")]
    assert len(statuses) >= 2
    assert f"{YEAR}年：定稿（admin 于" in statuses[0]
    assert f"{YEAR}年：定稿（admin 于" in statuses[-1]
    audit = statuses[-1]
    assert audit.index("审核通过") < audit.index("重新开放") < audit.rindex("审核通过"), audit
    assert "定稿后收到" in audit and "_更正.xlsx" in audit, audit
    assert float(_total(terminals, "REV01")) == float(before) + 3  # the held file loaded after reopening
    request = next(out for command, out in said.items() if command.startswith("bin/signoff request"))
    assert f"审核 {YEAR} 年度统计数据" in request
