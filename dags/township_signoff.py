"""Sign-off of a reporting year (审核定稿) and its reopening (重新开放). A table of contents:
the work is in village_reports.signoff; the human step is Airflow's HITLOperator."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import Param, dag, task

from village_reports.settings import SIGNOFF_OPTIONS, signoff_on_timeout, signoff_response_timeout

TAGS = ["village-reports", "signoff"]
DEFAULT_ARGS = {"retries": 1}

SIGNOFF_DOC = """
### 年度审核定稿 · sign off a reporting year

Triggered by hand with the year (Trigger → `year`). It recomputes the year's township
totals and rewrites its outputs, marked 草稿, then waits for the statistician on the
**Required Actions** page (必需操作), which shows what changed since the last sign-off,
who is missing or late, and the open warnings:

* **审核通过** locks the year: its outputs are rewritten marked 定稿, with the approver
  and the time. A file that arrives later for the year is received, checked and answered,
  and changes no total until the year is reopened (DAG `township_reopen`).
* **退回** (write the reason in 理由) records who sent the year back and why; it stays 草稿.

Both are recorded in the warehouse (`v_signoff_audit`). When the form is put, the
statistician is told through the `village_reports_notify` connection (钉钉, 企业微信,
e-mail), with the link to it. A sign-off still waiting two days after it was started
sends a reminder the same way. With no answer within the
response timeout (`VILLAGE_REPORTS_SIGNOFF_TIMEOUT_HOURS`, default 168), the configured
default (`VILLAGE_REPORTS_SIGNOFF_ON_TIMEOUT`, default 退回) is recorded as the answer
of nobody. An approval is refused when a file loaded after the review changed the totals:
trigger the sign-off again to review them. docs/runbook_signoff.md says it step by step.
"""

REOPEN_DOC = """
### 重新开放年度 · reopen a signed-off year

Triggered by hand with the year and the reason (理由, required). The year is unlocked and
its outputs say 草稿 again. Files received after the sign-off load on the next run of
`village_reports` (trigger it to load them now); the year then needs signing off again
(`township_signoff`). The township never edits a village's figures: a correction comes
as a new file from the village.
"""


@task(multiple_outputs=False)
def review_year(params: dict | None = None) -> dict:
    """The year's totals recomputed and its 草稿 outputs written; what the approver reads."""
    from village_reports import faults, pipeline

    with faults.in_task():
        return pipeline.review_for_signoff(int((params or {})["year"]))


@task(multiple_outputs=False)
def record_decision(reviewed: dict, answer: dict, run_id: str | None = None) -> dict:
    """The approver's answer (or the timeout's default) recorded; the outputs rewritten."""
    from village_reports import faults, pipeline

    with faults.in_task():
        return pipeline.record_signoff(reviewed, answer, run_id=run_id)


@task(multiple_outputs=False)
def reopen_year(params: dict | None = None, dag_run: Any = None, run_id: str | None = None) -> dict:
    from village_reports import faults, pipeline

    params = params or {}
    actor = getattr(dag_run, "triggering_user_name", None) or ""
    with faults.in_task():
        return pipeline.reopen_year(int(params["year"]), actor, str(params.get("reason") or ""), run_id=run_id)


def _tell_the_approver() -> Any:
    """The message that a year waits for sign-off, sent when the form is put (through
    the notify connection; nothing is sent without one)."""
    from village_reports.notifiers import SignoffAsked

    return SignoffAsked(review_task_id="review_year")


def _waiting_too_long_alert() -> Any:
    """A deadline alert when a sign-off has waited too long for its approver (two days:
    well before the response timeout takes the default), through the notify connection."""
    from village_reports import notify

    return notify.signoff_deadline_alert()


@dag(
    dag_id="township_signoff",
    schedule=None,
    start_date=pendulum.datetime(2022, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params={"year": Param(type="integer", minimum=2000, maximum=2100, title="报告年度")},
    tags=TAGS,
    doc_md=SIGNOFF_DOC,
    deadline=_waiting_too_long_alert(),
)
def township_signoff() -> None:
    reviewed = review_year()
    # the human step: its form shows the review, offers the two answers and a reason
    sign_off = HITLOperator(
        task_id="sign_off",
        subject="审核 {{ params.year }} 年度统计数据",
        body="{{ ti.xcom_pull(task_ids='review_year')['body'] }}",
        options=list(SIGNOFF_OPTIONS),
        defaults=[signoff_on_timeout()],
        params={
            "reason": Param(
                "", type="string", title="理由 / 审核意见", description="退回时必填：写明要哪些村（居）核实或更正什么"
            )
        },
        response_timeout=signoff_response_timeout(),
        notifiers=[_tell_the_approver()],
        # Airflow 3.3 may lose an answer given within moments of the question (the parked
        # try's exit is then taken for a vanished task): the retry asks again, soon
        retry_delay=timedelta(seconds=30),
    )
    reviewed >> sign_off
    record_decision(reviewed, sign_off.output)


@dag(
    dag_id="township_reopen",
    schedule=None,
    start_date=pendulum.datetime(2022, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params={
        "year": Param(type="integer", minimum=2000, maximum=2100, title="报告年度"),
        "reason": Param(type="string", minLength=4, title="重新开放的理由"),
    },
    tags=TAGS,
    doc_md=REOPEN_DOC,
)
def township_reopen() -> None:
    reopen_year()


township_signoff()
township_reopen()
