"""Ingest of the villages' workbooks: nightly, and per reporting year for backfills.

A table of contents only: every step is a function in village_reports.pipeline.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pendulum
from airflow.sdk import Asset, Param, XComArg, dag, get_current_context, task, task_group

WAREHOUSE = Asset("village_warehouse")
# The delay between retries is Airflow's [core] default_task_retry_delay (300 s unless
# set): an operations setting, which tests shorten.
DEFAULT_ARGS = {"retries": 2}
TAGS = ["village-reports", "ingest"]

NIGHTLY_DOC = """
### 村级报表入库 · nightly ingest

Every night at 02:00 (Asia/Shanghai) this DAG looks in `data/inbox/<year>/` for files it
has not seen (by SHA-256), archives each one read-only, reads it, validates it with Great
Expectations and loads it into the warehouse. One mapped task per batch, labelled with
the village's file; a bad file is *rejected* and kept, never lost, and never stops the
other villages. Publishes the `village_warehouse` asset, which triggers `township_report`.

Tasks pass references (run key, batch id, counts) through XCom; the records wait in
`data/staging/<run id>/` (Arrow files), deleted batch by batch as the loads commit, and
the run's folder by `publish`. `publish` rewrites the validation report
(`output/validation/index.html`) from the stored history and tells `township_report`,
in the asset event's `extra`, which years changed.

`notify_rejections` then sends the night's rejected files (退回) through the connection
`village_reports_notify` (钉钉, 企业微信, e-mail; none configured: nothing is sent). A
failed send shows as that task failed, but the night stays green: the data went in.
A run not finished 4 hours after it was queued (the default; the setting is
`VILLAGE_REPORTS_NIGHTLY_LATE_MINUTES`) fires a deadline alert through the same connection.

Params: `years` limits the run to some reporting years (empty: all); `reprocess` reads
every file again, e.g. after a rule change (loads are idempotent).
"""

ANNUAL_DOC = """
### 年度补跑 · one reporting year, for backfills

The same ingest for one reporting year, then that year's township totals and outputs.
It fires at 00:00 on 1 January (Asia/Shanghai), i.e. 16:00 UTC on 31 December, and
closes the year before: the run at 2021-12-31 16:00 UTC is reporting year 2021.

Operators backfill past years with Airflow's own backfill, as docs/runbook_backfill.md
says step by step (`make airflow`, then `source bin/airflow-env` in another terminal).
Years 2019–2021: the dates are midnights in Asia/Shanghai and `--to-date` is inclusive,
so it ends on 2022-01-01, the 2021 run's date (2021-12-31 would leave out 2021):

    airflow backfill create --dag-id village_reports_annual \\
        --from-date 2019-12-31 --to-date 2022-01-01 --dry-run
    airflow backfill create --dag-id village_reports_annual \\
        --from-date 2019-12-31 --to-date 2022-01-01 --max-active-runs 1

After a rule or catalogue change, add `--dag-run-conf '{"reprocess": true}'`.
"""


@task(multiple_outputs=False)
def prepare_warehouse(run_id: str | None = None) -> str:
    from village_reports import faults, pipeline

    faults.forget(run_id or pipeline.LOCAL_RUN)  # this run's lines start afresh
    with faults.in_task():
        return pipeline.prepare_warehouse()


@task(multiple_outputs=False)
def year_of_run(logical_date: datetime | None = None) -> list[int]:
    from village_reports import pipeline

    if logical_date is None:
        raise ValueError("a yearly run needs a logical date")
    return [pipeline.reporting_year(logical_date)]


@task(multiple_outputs=False)
def discover_and_archive(
    _dialect: str, years: list[int] | None = None, params: dict | None = None, run_id: str | None = None
) -> dict:
    """``_dialect``: the warehouse is ready. ``years``: the annual run's; else the params'."""
    from village_reports import faults, pipeline

    params = params or {}
    chosen = years if years is not None else [int(y) for y in params.get("years") or []]
    run_key = run_id or pipeline.LOCAL_RUN
    reprocess = bool(params.get("reprocess"))
    with faults.in_task():
        return pipeline.discover_and_archive(chosen or None, reprocess=reprocess, run_key=run_key)


@task(multiple_outputs=False)
def plan_batches(run: dict) -> list[dict]:
    import os

    from village_reports import faults, pipeline

    size = os.environ.get("VILLAGE_REPORTS_BATCH_SIZE")
    with faults.in_task():
        return pipeline.plan_batches(run, int(size) if size else None)


def _label(batch: dict) -> None:
    get_current_context()["batch_label"] = batch["label"]  # type: ignore[typeddict-unknown-key]


@task(map_index_template="{{ batch_label }}", multiple_outputs=False)
def read(batch: dict) -> dict:
    from village_reports import faults, pipeline

    _label(batch)
    with faults.in_task():
        return pipeline.read_batch(batch)


@task(map_index_template="{{ batch_label }}", multiple_outputs=False)
def validate(batch: dict) -> dict:
    from village_reports import faults, pipeline

    _label(batch)
    with faults.in_task():
        return pipeline.validate_batch(batch)


@task(map_index_template="{{ batch_label }}", multiple_outputs=False)
def load(batch: dict) -> dict:
    from village_reports import faults, pipeline

    _label(batch)
    with faults.in_task():
        return pipeline.load_batch(batch)


@task(outlets=[WAREHOUSE], trigger_rule="all_done", multiple_outputs=False)
def publish(loaded: list[dict], run_id: str | None = None, outlet_events: Any = None) -> dict:
    from airflow.sdk.exceptions import AirflowSkipException

    from village_reports import faults, pipeline

    with faults.in_task():
        summary = pipeline.finish_run(loaded, run_key=run_id or pipeline.LOCAL_RUN)
    if not summary["years"]:  # a skipped task emits no asset event: township_report has nothing to redo
        raise AirflowSkipException("no new file tonight: the warehouse did not change")
    outlet_events[WAREHOUSE].extra = pipeline.asset_extra(summary)  # the years township_report redoes
    return summary


@task(multiple_outputs=False)
def notify_rejections(summary: dict) -> bool:
    """The night's rejected files to the township's channels; skipped with ``publish`` on a
    night with no new file. A send that fails fails this task (and is retried: a webhook's
    outage is often short), but ``fail_the_run`` lets a night whose only failure is this
    task end green: its files are in, and a red night sends the operator to rerun it."""
    from village_reports import notify

    return notify.send_rejections(summary)


@task(trigger_rule="all_done", multiple_outputs=False)
def report_years(years: list[int], loaded: list[dict], run_id: str | None = None) -> list[dict]:
    from village_reports import faults, pipeline

    with faults.in_task():
        pipeline.finish_run(loaded, run_key=run_id or pipeline.LOCAL_RUN)
        # then the later years whose 上年 column and trends show these, in order
        return [pipeline.report_year(year) for year in [*years, *pipeline.later_years_showing(years)]]


@task(trigger_rule="one_failed", retries=0, multiple_outputs=False)
def fail_the_run(ti: Any = None) -> None:
    """Runs only when a step failed, and fails: ``publish`` and ``report_years`` run
    ``all_done`` to account for the files that did load, and as the DAG's leaves they
    would otherwise turn a failed night green. Names the steps that failed.

    When the only failed step is a notification, it succeeds instead, with a warning: the
    data is in, and the red task says the message was not sent."""
    import logging

    from airflow.sdk.exceptions import AirflowFailException

    from village_reports import faults, notify, pipeline

    states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id]).get(ti.run_id, {})
    if notify.only_notifications_failed(states):
        logging.getLogger(__name__).warning(
            "只有通知未能发出（%s）：本次入库照常完成；请检查通知连接 %s",
            ", ".join(sorted(t for t, s in states.items() if s == "failed")),
            notify.CONN_ID,
        )
        return
    # a full disk, a read-only warehouse: the failed step's one line too
    raise AirflowFailException(pipeline.failed_steps_message(states, faults.recorded(ti.run_id)))


def _fail_the_run_when_a_step_fails(dag: Any) -> None:
    """Every task upstream of ``fail_the_run``: whichever step fails, the run fails."""
    watcher = dag.get_task("fail_the_run")
    for other in dag.tasks:
        if other is not watcher:
            other >> watcher


def _late_night_alert() -> Any:
    """The nightly run's deadline alert, built by village_reports.notify. Imported at parse
    time, as Airflow imports a deadline callback's module anyway; notify keeps that cheap.

    None under ``airflow dags test`` (make run, the tests): Airflow 3.3.2's ``dags test``
    exits 1 after a successful run of a DAG with a deadline, in DagRun.update_state
    (apache/airflow#73428, open), and it never checks deadlines anyway."""
    import sys

    from village_reports import notify

    return None if sys.argv[1:3] == ["dags", "test"] else notify.nightly_deadline_alert()


@task_group(group_id="batch")
def ingest_batch(batch: dict) -> XComArg:
    """One batch from its files to the warehouse. Mapped as a group, so each batch goes on
    to validate and load as soon as it is read, not when every batch has been read."""
    return load(validate(read(batch)))


def ingest(years: XComArg | None = None) -> XComArg:
    """The shared wiring: archive → plan (batches, and the peer sample every batch's
    checks need) → (read → validate → load) for each batch."""
    run = discover_and_archive(prepare_warehouse(), years)  # references between tasks; the data waits in staging
    return ingest_batch.expand(batch=plan_batches(run))


@dag(
    dag_id="village_reports",
    schedule="0 2 * * *",
    start_date=pendulum.datetime(2022, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params={
        "years": Param([], type="array", description="reporting years to scan; empty: all"),
        "reprocess": Param(False, type="boolean", description="read every file again"),
    },
    tags=TAGS,
    doc_md=NIGHTLY_DOC,
    deadline=_late_night_alert(),
)
def village_reports() -> None:
    notify_rejections(publish(ingest()))
    fail_the_run()


@dag(
    dag_id="village_reports_annual",
    schedule="0 0 1 1 *",
    start_date=pendulum.datetime(2019, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params={"reprocess": Param(False, type="boolean", description="read every file of the year again")},
    tags=[*TAGS, "backfill"],
    doc_md=ANNUAL_DOC,
)
def village_reports_annual() -> None:
    years = year_of_run()
    report_years(years, ingest(years))
    fail_the_run()


for _dag in (village_reports(), village_reports_annual()):
    _fail_the_run_when_a_step_fails(_dag)
