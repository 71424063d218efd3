"""DAG integrity and policy: every DAG imports cleanly and follows the house rules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from village_reports.settings import REPORTING_TIMEZONE

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def test_dags_import_without_errors(dagbag) -> None:
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == {
        "village_reports",
        "village_reports_annual",
        "township_report",
        "township_signoff",
        "township_reopen",
        "village_reminders",
    }


def test_every_dag_has_tags_doc_retries_and_local_start(dagbag) -> None:
    for dag_id, dag in dagbag.dags.items():
        assert "village-reports" in dag.tags, dag_id
        assert dag.doc_md and len(dag.doc_md) > 100, dag_id
        assert dag.max_active_runs == 1, dag_id
        assert dag.catchup is False, dag_id
        assert str(dag.timezone) == REPORTING_TIMEZONE, dag_id  # the schedules keep the township's clock
        for task in dag.tasks:
            if task.task_id == "fail_the_run":  # it only reports a failure: retrying it changes nothing
                continue
            assert task.retries >= 1, f"{dag_id}.{task.task_id} has no retries"


def test_a_failed_step_fails_the_run(dagbag) -> None:
    """publish and report_years run all_done; fail_the_run, downstream of every task, runs
    only when one failed and fails, so that such a run never ends green."""
    for dag_id in ("village_reports", "village_reports_annual"):
        dag = dagbag.dags[dag_id]
        watcher = dag.get_task("fail_the_run")
        assert watcher.trigger_rule == "one_failed" and watcher.retries == 0
        assert {t.task_id for t in dag.tasks} - {watcher.task_id} == watcher.upstream_task_ids
        assert [t.task_id for t in dag.leaves] == ["fail_the_run"]


def test_the_failure_names_the_steps() -> None:
    from village_reports.pipeline import failed_steps_message

    message = failed_steps_message(
        {"discover_and_archive": "failed", "plan_batches": "upstream_failed", "publish": "success"}
    )
    assert message.startswith("本次运行有步骤失败：discover_and_archive；因此未运行：plan_batches。")


def test_ingest_is_nightly_and_report_follows_the_asset(dagbag) -> None:
    ingest, report = dagbag.dags["village_reports"], dagbag.dags["township_report"]
    assert ingest.timetable.expression == "0 2 * * *"
    assert str(ingest.timetable.timezone) == REPORTING_TIMEZONE
    publish = ingest.get_task("publish")
    assert [a.name for a in publish.outlets] == ["village_warehouse"]
    assert "village_warehouse" in str(report.timetable.asset_condition)


def test_annual_dag_is_yearly_in_local_time_and_backfillable(dagbag) -> None:
    annual = dagbag.dags["village_reports_annual"]
    assert annual.timetable.expression == "0 0 1 1 *"
    assert str(annual.timetable.timezone) == REPORTING_TIMEZONE
    assert "report_years" in annual.task_ids and "publish" not in annual.task_ids


@pytest.mark.parametrize("dag_id", ["village_reports", "village_reports_annual"])
def test_units_are_mapped_with_labels(dagbag, dag_id: str) -> None:
    ingest = dagbag.dags[dag_id]
    for task_id in ("batch.read", "batch.validate", "batch.load"):
        assert ingest.get_task(task_id).map_index_template == "{{ batch_label }}"
    # mapped as one group: a batch is validated as soon as it is read, not after every batch
    assert ingest.get_task("batch.validate").upstream_task_ids == {"batch.read"}


@pytest.mark.parametrize("path", sorted(DAGS_DIR.glob("*.py")), ids=lambda p: p.name)
def test_dag_files_do_no_work_at_import(path: Path) -> None:
    """Only airflow, pendulum and the standard library at module level; the package loads
    inside tasks. Except its settings (paths and operations settings: no warehouse, no
    data, 40 ms to import), which a step fixed at parse time needs: the sign-off form's
    answers and its response timeout."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
            allowed = {"__future__", "airflow", "pendulum", "datetime", "typing"}
            assert module.split(".")[0] in allowed or module == "village_reports.settings", module


def test_reminders_are_daily_at_nine_in_local_time(dagbag) -> None:
    reminders = dagbag.dags["village_reminders"]
    assert reminders.timetable.expression == "0 9 * * *"
    assert str(reminders.timetable.timezone) == REPORTING_TIMEZONE
    assert reminders.task_ids == ["send_reminders"]


def test_the_nightly_run_sends_its_rejections_after_publish(dagbag) -> None:
    nightly = dagbag.dags["village_reports"]
    assert nightly.get_task("notify_rejections").upstream_task_ids == {"publish"}
    assert "notify_rejections" not in dagbag.dags["village_reports_annual"].task_ids


def test_a_late_night_fires_a_deadline_alert_that_survives_serialization(dagbag) -> None:
    from datetime import timedelta

    from airflow.sdk import DeadlineReference, SyncCallback
    from airflow.serialization.serialized_objects import DagSerialization

    from village_reports import settings

    [alert] = dagbag.dags["village_reports"].deadline
    assert alert.reference == DeadlineReference.DAGRUN_QUEUED_AT
    assert alert.interval == settings.nightly_late_after() == timedelta(hours=4)
    assert isinstance(alert.callback, SyncCallback)  # runs on the executor: no triggerer needed
    assert alert.callback.path == "village_reports.notify.deadline_missed"
    assert alert.callback.kwargs == {"kind": "nightly"}
    serialized = DagSerialization.to_dict(dagbag.dags["village_reports"])
    assert DagSerialization.from_dict(serialized).deadline
    for dag_id in ("village_reports_annual", "township_report", "village_reminders", "township_reopen"):
        assert not dagbag.dags[dag_id].deadline, dag_id


def test_a_signoff_waiting_too_long_fires_a_deadline_alert(dagbag) -> None:
    signoff = dagbag.dags["township_signoff"]
    [alert] = signoff.deadline
    assert alert.callback.path == "village_reports.notify.deadline_missed"
    assert alert.callback.kwargs == {"kind": "signoff"}
    human_step = signoff.get_task("sign_off")
    assert alert.interval < human_step.response_timeout  # it warns before the default answer is taken
