"""Airflow notifiers of the pipeline's own messages (village_reports.notify holds the words).

Imported by a DAG file while it is parsed (inside a function, as its deadline alerts
are) and by the task process that runs the notifier: never by the pipeline's modules,
which stay free of Airflow.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from airflow.sdk.bases.notifier import BaseNotifier

from village_reports import notify

log = logging.getLogger(__name__)


class SignoffAsked(BaseNotifier):
    """Tells the statistician that a year's sign-off waits: its ``HITLOperator``'s
    ``notifiers``, called when the question is put. The review comes from the task
    ``review_task_id``'s result, the link from the operator. A message that cannot be
    sent is logged and does not stop the sign-off: the form waits in the UI all the same,
    and the run's deadline alert follows up."""

    def __init__(self, review_task_id: str = "review_year") -> None:
        super().__init__()
        self.review_task_id = review_task_id

    def notify(self, context: Any) -> None:
        from airflow.providers.standard.operators.hitl import HITLOperator

        task, ti = context["task"], context["task_instance"]
        reviewed = ti.xcom_pull(task_ids=self.review_task_id) or {}
        year = int(reviewed.get("year") or context["params"]["year"])
        try:
            link: str | None = HITLOperator.generate_link_to_ui_from_context(context=context)
        except ValueError:  # no [api] base_url: the message says where to look instead
            link = None
        timeout = getattr(task, "response_timeout", None)
        answer_by = datetime.now(UTC) + timeout if timeout else None
        on_timeout = "、".join(getattr(task, "defaults", None) or []) or "无"
        text = notify.asked_text(year, str(reviewed.get("summary") or ""), link, answer_by, on_timeout)
        try:
            notify.send(notify.asked_title(year), text)
        except notify.NotSent as refused:
            log.error("审核通知未发出（审核照常等待，可在界面上办理）：%s", refused)
