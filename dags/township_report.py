"""Township totals and the annual report's figures. A table of contents: the work is in village_reports.pipeline."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Asset, dag, get_current_context, task

WAREHOUSE = Asset("village_warehouse")


DOC = """
### 镇级汇总 · township totals and report

Runs whenever `village_reports` publishes the `village_warehouse` asset, for the years
whose figures that run changed (the asset event's `extra` names them): a night with no
new files rewrites nothing. Triggered by hand, it does every year. After the changed
years, it rewrites the later years whose outputs show them (their 上年 column and
trend chart), unless signed off. For each year it
computes the township totals by each indicator's aggregation rule (from the figures in
force), with completeness, stores them with their provenance, and writes
`output/<year>/township_totals.csv`, `township_totals.xlsx`, `annual_report.docx` and `annual_report.md`.
"""


@dag(
    dag_id="township_report",
    schedule=[WAREHOUSE],
    start_date=pendulum.datetime(2022, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["village-reports", "report"],
    doc_md=DOC,
)
def township_report() -> None:
    @task
    def changed_years(triggering_asset_events: Any = None) -> list[int]:
        from village_reports import pipeline

        events = (triggering_asset_events or {}).get(WAREHOUSE, [])
        return pipeline.years_to_report([dict(event.extra or {}) for event in events] or None)

    @task(map_index_template="{{ reporting_year }}", multiple_outputs=False)
    def report_year(year: int) -> dict:
        from village_reports import faults, pipeline

        get_current_context()["reporting_year"] = year  # type: ignore[typeddict-unknown-key]
        with faults.in_task():  # a full disk, a read-only warehouse: one line, no retries
            return pipeline.report_year(year)

    @task
    def later_years(years: list[int]) -> list[int]:
        from village_reports import pipeline

        return pipeline.later_years_showing(years)

    # a later year's outputs show the changed ones (上年, trends): rewritten after them,
    # once their totals are stored, whatever order the mapped tasks ran in
    changed = changed_years()
    written = report_year.expand(year=changed)
    later = later_years(changed)
    written >> later
    report_year.override(task_id="report_later_year").expand(year=later)


township_report()
