"""Sign-off as the township does it: a real api-server, scheduler and dag-processor, the
statistician answering the human step through the REST API as a logged-in user (PATCH
.../hitlDetails, with bin/signoff's client: the runbook's, which also sees an answer that
Airflow lost through).

One scheduler serves the module, with a response timeout short enough for a test: each
year is answered at once, except 2019's, which nobody answers and which takes the
configured default (退回). 2021 is approved, gets a file after the sign-off (held, no total
moves), is reopened, loads that file, and is signed off again."""

from __future__ import annotations

import importlib.machinery
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import text

from village_reports import model, pipeline, signoff, warehouse
from village_reports.samples import write_samples
from village_reports.settings import SIGNOFF_APPROVE, SIGNOFF_SEND_BACK

from ..conftest import Receiver
from .conftest import (
    ROOT,
    add_to_value,
    airflow_cli,
    airflow_env,
    airflow_processes,
    free_port,
    login_settings,
    scheduler_settings,
    wait_for,
)

pytestmark = pytest.mark.slow

YEARS = (2019, 2020, 2021)
USER, PASSWORD = "tongjiyuan", "signoff-test-password"
TIMEOUT_SECONDS = 90  # the human step's response timeout in this test (a week by default)


def _client() -> ModuleType:
    """bin/signoff, the REST client the runbook uses, as a module."""
    loader = importlib.machinery.SourceFileLoader("signoff_client", str(ROOT / "bin" / "signoff"))
    module = ModuleType(loader.name)
    loader.exec_module(module)
    return module


client = _client()


@pytest.fixture(scope="module")
def messages() -> Iterator[Receiver]:
    """The notify connection's channel: what the statistician's phone would get."""
    server = Receiver()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, messages: Receiver) -> Iterator[tuple[Any, Path]]:
    tmp = tmp_path_factory.mktemp("signoff")
    work, port = tmp / "work", free_port()
    env = airflow_env(
        tmp,
        work,
        AIRFLOW_CONN_VILLAGE_REPORTS_NOTIFY=messages.connection(),
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        **login_settings(tmp, USER, PASSWORD),
        VILLAGE_REPORTS_SIGNOFF_TIMEOUT_HOURS=str(TIMEOUT_SECONDS / 3600),
        **scheduler_settings(port, "signoff-test-secret"),
    )
    write_samples(work / "data" / "inbox", list(YEARS))
    airflow_cli(env, "db", "migrate", timeout=300)
    commands = {"api-server": ["api-server", "--port", str(port)], "scheduler": ["scheduler"]}
    commands["dag-processor"] = ["dag-processor"]
    with airflow_processes(commands, env, tmp / "logs"):
        wait_for(lambda: "township_reopen" in airflow_cli(env, "dags", "list", "-o", "plain"), 180, "the DAG processor")
        for dag_id in ("township_signoff", "township_reopen"):
            airflow_cli(env, "dags", "unpause", dag_id)
        base = f"http://127.0.0.1:{port}"
        wait_for(_answers(base), 120, "the api-server")
        yield client.Airflow(base, USER, PASSWORD), work


def _answers(base: str) -> Any:
    def check() -> bool:
        try:
            urllib.request.urlopen(f"{base}/api/v2/monitor/health", timeout=5).close()
            return True
        except OSError:
            return False

    return check


@pytest.fixture
def township(stack: tuple[Any, Path], monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Path]:
    """This process on the same warehouse, data and outputs as the scheduler's tasks: the
    nightly loads run here, the human steps there."""
    api, work = stack
    monkeypatch.setenv("VILLAGE_REPORTS_DATA_DIR", str(work / "data"))
    monkeypatch.setenv("VILLAGE_REPORTS_OUTPUT_DIR", str(work / "output"))
    monkeypatch.setenv("AIRFLOW_CONN_VILLAGE_WAREHOUSE", f"sqlite:///{work / 'data' / 'warehouse.sqlite'}")
    return api, work


def _night(*years: int) -> list[dict]:
    """What the nightly run does, in this process: ingest, account, report."""
    lines = pipeline.run_ingest()
    pipeline.finish_run(lines)
    for year in years:
        pipeline.report_year(year)
    return lines


def _trigger(api: Any, dag_id: str, conf: dict) -> str:
    return api.call("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf})["dag_run_id"]


def _awaiting_signoff(api: Any, year: int) -> str:
    run_id = _trigger(api, "township_signoff", {"year": year})
    wait_for(
        lambda: api.task_state("township_signoff", run_id, "sign_off") == "awaiting_input",
        300,
        f"the {year} sign-off to wait for its approver",
    )
    return run_id


def _finished(api: Any, dag_id: str, run_id: str) -> str:
    return client.finished(api, dag_id, run_id)


def _total(year: int, code: str) -> float | None:
    return pipeline.compute_year_totals(year)[code].value


def _decisions(year: int) -> list[dict]:
    """The year's sign-off events, oldest first, as analysts read them."""
    query = text(
        "SELECT what, who, reason_or_file AS reason FROM v_signoff_audit WHERE year = :year AND event_id IS NOT NULL "
        "ORDER BY event_id"
    )
    with warehouse.get_engine().connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query, {"year": year})]


def _totals_csv(work: Path, year: int) -> str:
    return (work / "output" / str(year) / "township_totals.csv").read_text(encoding="utf-8-sig")


def test_approve_lock_reopen_and_sign_off_again(township: tuple[Any, Path], messages: Receiver) -> None:
    api, work = township
    _night(*YEARS)
    engine = warehouse.get_engine()
    assert "草稿" in _totals_csv(work, 2021)

    run_id = _awaiting_signoff(api, 2021)
    details = api.call("GET", api.hitl_path(run_id))
    assert "2021" in details["subject"] and details["body"]  # the review the approver reads
    # and is told so, with the link to the form (the base_url the tasks reach)
    asked = wait_for(lambda: messages.titled("2021年度统计数据待审核"), 60, "the message that 2021 waits")[-1]  # type: ignore[index]
    link = f"{api.base}/dags/township_signoff/runs/{run_id}/tasks/sign_off/required_actions?map_index=-1"
    assert link in asked["message"] and "逾期未答复按" in asked["message"]
    assert client.answer(api, 2021, SIGNOFF_APPROVE, "已核对") == 0  # PATCH .../hitlDetails
    state = signoff.state(engine, 2021)
    assert state.locked and state.approved_by == USER
    assert "定稿" in _totals_csv(work, 2021) and USER in _totals_csv(work, 2021)

    # a corrected file after the sign-off: received and answered, and no total moves
    before = _total(2021, "REV01")
    inbox = work / "data" / "inbox" / "2021"
    original = next(inbox.glob("MT01_*"))
    corrected = inbox / f"{original.stem}_更正.xlsx"
    shutil.copy(original, corrected)
    add_to_value(corrected, "REV01", 2)
    lines = _night(2021)
    assert [line["status"] for line in lines if line["file_name"] == corrected.name] == [model.HELD]
    assert _total(2021, "REV01") == before
    assert signoff.state(engine, 2021).locked

    # reopened with a reason: the waiting file loads on the next run, and the total moves
    assert client.reopen(api, 2021, "MT01 更正了村集体收入") == 0
    assert not signoff.state(engine, 2021).locked
    assert "草稿" in _totals_csv(work, 2021)
    lines = _night(2021)
    assert [line["file_name"] for line in lines] == [corrected.name]
    assert _total(2021, "REV01") == before + 2

    # and signed off again
    _awaiting_signoff(api, 2021)
    assert client.answer(api, 2021, SIGNOFF_APPROVE, "") == 0
    assert signoff.state(engine, 2021).locked
    assert [row["what"] for row in _decisions(2021)] == ["approved", "reopened", "approved"]


def test_send_back_with_a_reason(township: tuple[Any, Path]) -> None:
    api, work = township
    _night(*YEARS)
    _awaiting_signoff(api, 2020)
    reason = "白若村贫困户数与上年差异大，请核实后重报"
    assert client.answer(api, 2020, SIGNOFF_SEND_BACK, reason) == 0
    engine = warehouse.get_engine()
    assert not signoff.state(engine, 2020).locked
    assert _decisions(2020) == [{"what": "sent_back", "who": USER, "reason": reason}]
    assert "草稿" in _totals_csv(work, 2020)


def test_no_answer_takes_the_configured_default(township: tuple[Any, Path]) -> None:
    api, _ = township
    _night(*YEARS)
    run_id = _awaiting_signoff(api, 2019)  # and nobody answers
    assert _finished(api, "township_signoff", run_id) == "success"
    engine = warehouse.get_engine()
    assert not signoff.state(engine, 2019).locked
    [decision] = _decisions(2019)
    assert decision["what"] == "sent_back" and "超时" in decision["reason"] and decision["who"] != USER
