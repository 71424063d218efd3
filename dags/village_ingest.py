"""Ingest of the villages' workbooks: nightly, and per reporting year for backfills.

A table of contents only: every step is a function in village_reports.pipeline.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pendulum
from airflow.sdk import Asset, Param, XComArg, dag, get_current_context, task

WAREHOUSE = Asset("village_warehouse")
DEFAULT_ARGS = {"retries": 2, "retry_delay": timedelta(minutes=5)}
TAGS = ["village-reports", "ingest"]

NIGHTLY_DOC = """
### 村级报表入库 · nightly ingest

Every night at 02:00 (Asia/Shanghai) this DAG looks in `data/inbox/<year>/` for files it
has not seen (by SHA-256), archives each one read-only, reads it, validates it with Great
Expectations and loads it into the warehouse. One mapped task per batch, labelled with
the village's file; a bad file is *rejected* and kept, never lost, and never stops the
other villages. Publishes the `village_warehouse` asset, which triggers `township_report`.

Params: `years` limits the run to some reporting years (empty: all); `reprocess` reads
every file again, e.g. after a rule change (loads are idempotent).
"""

ANNUAL_DOC = """
### 年度补跑 · one reporting year, for backfills

The same ingest for one reporting year, then that year's township totals and outputs.
It fires at 00:00 on 1 January (Asia/Shanghai), i.e. 16:00 UTC on 31 December, and
closes the year before. Operators backfill past years with Airflow's own backfill:

    airflow backfill create --dag-id village_reports_annual \\
        --from-date 2019-12-31 --to-date 2021-12-31 --dry-run
    airflow backfill create --dag-id village_reports_annual \\
        --from-date 2019-12-31 --to-date 2021-12-31 --dag-run-conf '{"reprocess": true}'

See docs/runbook_backfill.md.
"""


@task
def prepare_warehouse() -> str:
    from village_reports import pipeline

    return pipeline.prepare_warehouse()


@task
def years_from_params(_dialect: str, params: dict | None = None) -> list[int]:
    return [int(y) for y in (params or {}).get("years") or []]


@task
def year_of_run(_dialect: str, logical_date: datetime | None = None) -> list[int]:
    from village_reports import pipeline

    if logical_date is None:
        raise ValueError("a yearly run needs a logical date")
    return [pipeline.reporting_year(logical_date)]


@task
def discover_and_archive(years: list[int], params: dict | None = None) -> list[dict]:
    from village_reports import pipeline

    return pipeline.discover_and_archive(years or None, reprocess=bool((params or {}).get("reprocess")))


@task
def plan_batches(arrivals: list[dict]) -> list[dict]:
    import os

    from village_reports import pipeline

    size = os.environ.get("VILLAGE_REPORTS_BATCH_SIZE")
    return pipeline.plan_batches(arrivals, int(size) if size else None)


def _label(batch: dict) -> None:
    get_current_context()["batch_label"] = batch["label"]  # type: ignore[typeddict-unknown-key]


@task(map_index_template="{{ batch_label }}", multiple_outputs=False)
def read(batch: dict) -> dict:
    from village_reports import pipeline

    _label(batch)
    return pipeline.read_batch(batch)


@task(multiple_outputs=False)
def peer_sample(arrivals: list[dict]) -> dict:
    from village_reports import pipeline

    return pipeline.peer_sample(arrivals)


@task(map_index_template="{{ batch_label }}", multiple_outputs=False)
def validate(batch: dict, peers: dict) -> dict:
    from village_reports import pipeline

    _label(batch)
    return pipeline.validate_batch(batch, peers)


@task(map_index_template="{{ batch_label }}")
def load(batch: dict) -> list[dict]:
    from village_reports import pipeline

    _label(batch)
    return pipeline.load_batch(batch)


@task(outlets=[WAREHOUSE], trigger_rule="all_done", multiple_outputs=False)
def publish(loaded: list[list[dict]]) -> dict:
    from village_reports import pipeline

    return pipeline.finish_run(loaded)


@task(trigger_rule="all_done", multiple_outputs=False)
def report_years(years: list[int], loaded: list[list[dict]]) -> list[dict]:
    from village_reports import pipeline

    pipeline.finish_run(loaded)
    return [pipeline.report_year(year) for year in years]


def ingest(years: XComArg) -> XComArg:
    """The shared wiring: archive → read → validate → load, mapped over batches."""
    arrivals = discover_and_archive(years)
    peers = peer_sample(arrivals)  # once per run: what the other units reported
    batches = plan_batches(arrivals)
    return load.expand(batch=validate.partial(peers=peers).expand(batch=read.expand(batch=batches)))


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
)
def village_reports() -> None:
    publish(ingest(years_from_params(prepare_warehouse())))


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
    years = year_of_run(prepare_warehouse())
    report_years(years, ingest(years))


village_reports()
village_reports_annual()
