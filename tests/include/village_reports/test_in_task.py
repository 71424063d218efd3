"""faults.in_task: what fails an Airflow task at once (no retry), and what is left to retries."""

from __future__ import annotations

from types import SimpleNamespace

import airflow.sdk
import pytest
from airflow.sdk.exceptions import AirflowFailException

from village_reports import faults, signoff, totals


@pytest.fixture(autouse=True)
def task_context(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("VILLAGE_REPORTS_DATA_DIR", str(tmp_path / "data"))
    context = {"ti": SimpleNamespace(task_id="report_year", map_index=0), "run_id": "manual__1"}
    monkeypatch.setattr(airflow.sdk, "get_current_context", lambda: context)


@pytest.mark.parametrize(
    "refusal",
    [
        signoff.StaleReview("2021 年度的数据在审核之后有变化"),
        totals.ApprovedTotalsChanged("2021 年度已审核定稿，但……"),
        faults.ResourceFault("磁盘已满", "report_year_0"),
    ],
)
def test_a_refusal_or_a_resource_fault_fails_the_task_without_retries(refusal: Exception) -> None:
    """Retrying a stale sign-off form or an approved year's changed totals only fails again."""
    with pytest.raises(AirflowFailException, match=str(refusal)[:8]), faults.in_task():
        raise refusal


def test_anything_else_is_left_to_the_tasks_retries() -> None:
    with pytest.raises(ValueError, match="退回须写明原因"), faults.in_task():
        raise ValueError("退回须写明原因")
