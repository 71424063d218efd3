"""docs/runbook_backfill.md, followed word for word on a fresh clone: its `make airflow`
(the script the Makefile's recipe runs) starts the services in terminal 1, and the shell
commands of its fenced ``sh`` blocks run as written, in order, in terminal 2. The
backfill's runs must end success for reporting years 2019–2021; Ctrl-C in terminal 1
then stops all three services.

The clone is a copy in tmp of what the runbook touches (Makefile, bin/, dags/, plugins/,
and a link to the venv), so its `.airflow` is a fresh AIRFLOW_HOME; neither terminal has
any AIRFLOW_* setting of the test session's. The inbox (the sample submissions), the
warehouse and the outputs are in tmp too; the api-server listens on a free port, not 8080.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import ROOT, wait_for
from .runbooks import Terminals, runbook_commands, start_terminals, type_in

RUNBOOK = ROOT / "docs" / "runbook_backfill.md"
DAG_ID = "village_reports_annual"
YEARS = [2019, 2020, 2021]
LOGICAL_DATES = [f"{year}-12-31 16:00:00+00:00" for year in YEARS]


def test_the_dag_doc_gives_the_runbooks_dates() -> None:
    dag_source = (ROOT / "dags" / "village_ingest.py").read_text("utf-8")
    runbook = " ".join(runbook_commands(RUNBOOK.read_text("utf-8")))
    for option in ("--from-date", "--to-date"):
        in_runbook = set(re.findall(rf"{option} (\S+)", runbook))
        assert len(in_runbook) == 1, option
        assert set(re.findall(rf"{option} (\S+)", dag_source)) == in_runbook, option


@pytest.fixture
def terminals(tmp_path: Path) -> Iterator[Terminals]:
    assert "make airflow" in runbook_commands(RUNBOOK.read_text("utf-8")), "the runbook does not run `make airflow`"
    yield from start_terminals(tmp_path)


@pytest.mark.slow
def test_the_backfill_runbook_word_for_word(terminals: Terminals) -> None:
    assert f"Airflow UI:  http://localhost:{terminals.port}" in terminals.started
    passwords = json.loads((terminals.clone / ".airflow" / "simple_auth_manager_passwords.json.generated").read_text())
    assert f"login:       admin / {passwords['admin']}" in terminals.started

    setup: list[str] = []
    outputs: dict[str, str] = {}
    for command in runbook_commands(RUNBOOK.read_text("utf-8")):
        if command.startswith("make "):
            continue  # terminal 1: the fixture ran it
        if command.startswith(("source ", ". ")):
            setup.append(command)
            continue
        outputs[command] = type_in(terminals, setup, command)

    dry_runs = [out for command, out in outputs.items() if "backfill create" in command and "--dry-run" in command]
    assert len(dry_runs) == 1, "the runbook has no dry run"
    dates = re.findall(r"^\| (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+00:00) ", dry_runs[0], flags=re.M)
    assert dates == LOGICAL_DATES, dry_runs[0]
    assert any("backfill create" in c and "--dry-run" not in c for c in outputs), "the runbook has no backfill"
    follow = [out for command, out in outputs.items() if command.startswith("airflow dags list-runs")]
    assert follow, "the runbook does not say how to follow the runs"
    assert all(f"backfill__{year}-12-31T16:00:00+00:00" in follow[-1] for year in YEARS), follow[-1]

    def backfill_runs() -> dict[str, str]:
        out = type_in(terminals, setup, f"airflow dags list-runs {DAG_ID} -o json")
        runs = json.loads(next(line for line in out.splitlines() if line.startswith("[")))
        return {r["run_id"]: r["state"] for r in runs if r["run_id"].startswith("backfill__")}

    def finished() -> dict[str, str] | None:
        runs = backfill_runs()
        return runs if len(runs) == 3 and all(s in ("success", "failed") for s in runs.values()) else None

    runs = wait_for(finished, 600, "the backfill's three runs")
    assert runs == {f"backfill__{year}-12-31T16:00:00+00:00": "success" for year in YEARS}
    output = Path(terminals.shell["VILLAGE_REPORTS_OUTPUT_DIR"])
    assert {int(p.parent.name) for p in output.glob("*/township_totals.csv")} >= set(YEARS)
