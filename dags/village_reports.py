"""Nightly ingest of the villages' workbooks. A table of contents: the work is in village_reports.pipeline."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, Param, dag, get_current_context, task

WAREHOUSE = Asset("village_warehouse")

DOC = """
### 村级报表入库 · nightly ingest

Every night at 02:00 (Asia/Shanghai) this DAG looks in `data/inbox/<year>/` for files it
has not seen (by SHA-256), archives each one read-only, reads it, validates it with Great
Expectations and loads it into the warehouse. One mapped task per batch, labelled with
the village's file; a bad file is *rejected* and kept, never lost, and never stops the
other villages. Publishes the `village_warehouse` asset, which triggers `township_report`.

Param `years` (list) limits the run to some reporting years; empty means all.
"""


@dag(
    dag_id="village_reports",
    schedule="0 2 * * *",
    start_date=pendulum.datetime(2022, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    params={"years": Param([], type="array", description="reporting years to scan; empty: all")},
    tags=["village-reports", "ingest"],
    doc_md=DOC,
)
def village_reports() -> None:
    @task
    def prepare_warehouse() -> str:
        from village_reports import pipeline

        return pipeline.prepare_warehouse()

    @task
    def discover_and_archive(_dialect: str, params: dict | None = None) -> list[dict]:
        from village_reports import pipeline

        years = (params or {}).get("years") or None
        return pipeline.discover_and_archive(years)

    @task
    def plan_batches(arrivals: list[dict]) -> list[dict]:
        import os

        from village_reports import pipeline

        return pipeline.plan_batches(arrivals, int(os.environ.get("VILLAGE_REPORTS_BATCH_SIZE", "1")))

    @task(map_index_template="{{ batch_label }}", multiple_outputs=False)
    def read(batch: dict) -> dict:
        from village_reports import pipeline

        get_current_context()["batch_label"] = batch["label"]  # type: ignore[typeddict-unknown-key]
        return pipeline.read_batch(batch)

    @task(map_index_template="{{ batch_label }}", multiple_outputs=False)
    def validate(batch: dict) -> dict:
        from village_reports import pipeline

        get_current_context()["batch_label"] = batch["label"]  # type: ignore[typeddict-unknown-key]
        return pipeline.validate_batch(batch)

    @task(map_index_template="{{ batch_label }}")
    def load(batch: dict) -> list[dict]:
        from village_reports import pipeline

        get_current_context()["batch_label"] = batch["label"]  # type: ignore[typeddict-unknown-key]
        return pipeline.load_batch(batch)

    @task(outlets=[WAREHOUSE], trigger_rule="all_done", multiple_outputs=False)
    def publish(loaded: list[list[dict]]) -> dict:
        lines = [line for batch in loaded or [] if batch for line in batch]
        statuses: dict[str, int] = {}
        for line in lines:
            statuses[line["status"]] = statuses.get(line["status"], 0) + 1
        return {"files": len(lines), "statuses": statuses, "years": sorted({line["year"] for line in lines})}

    batches = plan_batches(discover_and_archive(prepare_warehouse()))
    publish(load.expand(batch=validate.expand(batch=read.expand(batch=batches))))


village_reports()
