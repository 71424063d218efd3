"""Reminders before the submission deadline. A table of contents: the work is in village_reports.notify."""

from __future__ import annotations

from datetime import datetime

import pendulum
from airflow.sdk import dag, task

DOC = """
### 催报 · reminders before the deadline

Every morning at 09:00 (Asia/Shanghai) this DAG looks at each reporting year whose
deadline (`submission_deadline` in `rules.yaml`, 31 March of the next year) is at most
`reminder_days` (14) days away, and sends one reminder per year naming the units that
have not reported and those whose latest file was sent back (退回), with the deadline.
Outside that window, or when every unit stands reported, it sends nothing.

Messages go through the Airflow connection `village_reports_notify` (钉钉, 企业微信,
e-mail: see the README); with no such connection the task logs that nothing was sent.
"""


@dag(
    dag_id="village_reminders",
    schedule="0 9 * * *",
    start_date=pendulum.datetime(2022, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2},
    tags=["village-reports", "notify"],
    doc_md=DOC,
)
def village_reminders() -> None:
    @task(multiple_outputs=False)
    def send_reminders(logical_date: datetime | None = None) -> list[int]:
        """The years reminded. The day is the run's (a rerun of a past day says what that
        day said); a run started by hand without a logical date takes today."""
        from village_reports import notify

        return notify.send_reminders(notify.local_day(logical_date))

    send_reminders()


village_reminders()
