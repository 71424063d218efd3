"""Reminders and alerts: what the pipeline tells the township, and the one way it is sent.

Everything goes out through one Airflow connection, ``village_reports_notify``, of type
``apprise``: its ``config`` holds one Apprise URL per channel (钉钉 ``dingtalk://``, 企业
微信 ``wecombot://``, e-mail ``mailtos://``…), and Airflow's Apprise provider reads it.
With no such connection nothing is sent, and the log says so in one line.

Four messages, each short and bounded (the first ``LISTED`` names, the rest counted):
- ``asked_text``: a year's sign-off waits for the statistician, with the link to its form;
  the ``township_signoff`` DAG's human step sends it when it starts waiting
  (``village_reports.notifiers.SignoffAsked``);
- ``reminder_text``: before the deadline in rules.yaml, the units that have not reported
  or whose latest file was sent back (退回); the ``village_reminders`` DAG sends it daily;
- ``rejections_text``: the files a nightly run sent back; ``village_reports`` sends it
  after ``publish``;
- ``deadline_text``: a run that is late (a Deadline Alert's callback, ``deadline_missed``):
  the nightly run (``nightly_deadline_alert``) or a sign-off (``signoff_deadline_alert``).

Airflow and Apprise are imported inside the functions that need them: the DAG files
import this module when they are parsed, and a DAG file's import must stay cheap.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from village_reports import settings

if TYPE_CHECKING:
    from airflow.sdk import DeadlineAlert
    from sqlalchemy import Engine

log = logging.getLogger(__name__)

CONN_ID = "village_reports_notify"
LISTED = 10  # names in one message: a 钉钉 message stays readable on a phone; the rest are counted
# the task ids whose failure is a notification's, not the data's (see only_notifications_failed)
NOTIFICATION_TASKS = frozenset({"notify_rejections"})
NIGHTLY, SIGNOFF = "nightly", "signoff"
SIGNOFF_WAITS = timedelta(days=2)  # the default for signoff_deadline_alert


class NotSent(RuntimeError):
    """A configured channel did not take the message."""


# --- sending ----------------------------------------------------------------------------


def send(title: str, body: str) -> bool:
    """Send ``title`` and ``body`` to every channel of the connection. False, with one log
    line, when no connection is configured; raises ``NotSent`` when a channel refused it
    or an URL of the connection is not one Apprise knows (the others still get it)."""
    connection = _connection()
    if connection is None:
        log.info("未发送“%s”：没有配置通知连接 %s", title, CONN_ID)
        return False
    services, configured = _services(connection)
    outcome = services.notify(title=title, body=body) if len(services) else None
    if not outcome or len(services) < configured:
        raise NotSent(
            f"通知“{title}”未能全部发出：连接 {CONN_ID} 的 {configured} 个地址中"
            f"{len(services)} 个可用，发送结果 {getattr(outcome, 'status', '无')}"
        )
    log.info("已发送通知“%s”（%d 个渠道）", title, len(services))
    return True


def _connection() -> Any | None:
    """The connection, from the environment (``AIRFLOW_CONN_VILLAGE_REPORTS_NOTIFY``), a
    secrets backend or Airflow's metadata; None when it is defined nowhere."""
    from airflow.providers.apprise.hooks.apprise import AppriseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return AppriseHook.get_connection(CONN_ID)
    except AirflowNotFoundException:
        return None


def _services(connection: Any) -> tuple[Any, int]:
    """An Apprise object with the connection's URLs, read the way the provider's hook reads
    them, and how many URLs the connection lists. The hook's own ``notify`` is not used:
    it drops Apprise's result, so a refused message would pass for a sent one."""
    import apprise
    from airflow.providers.apprise.hooks.apprise import AppriseHook

    hook = AppriseHook(apprise_conn_id=CONN_ID)
    config = hook.get_config_from_conn(conn=connection)
    services = apprise.Apprise()
    hook.set_config_from_conn(conn=connection, apprise_obj=services)
    return services, len(config) if isinstance(config, list) else 1


# --- texts ------------------------------------------------------------------------------


def _bounded(names: Sequence[str], total: int | None = None) -> str:
    """The first ``LISTED`` names, and how many more there are of ``total`` (default: all
    of ``names``; a run's summary names only its first rejected files)."""
    shown = list(names[:LISTED])
    rest = (len(names) if total is None else total) - len(shown)
    return "、".join(shown) + (f" 等，另有 {rest} 个" if rest > 0 else "")


def _place() -> str:
    from village_reports.roster import load_roster

    return load_roster().place


def days_left(year: int, today: date) -> int | None:
    """Days from ``today`` to reporting year ``year``'s deadline (0 on the day itself), when
    ``today`` falls in the reminder window of rules.yaml; None before or after it."""
    from village_reports.rules import load_rules

    rules = load_rules()
    left = (rules.deadline_date(year) - today).days
    return left if 0 <= left <= rules.reminder_days else None


def due_years(today: date) -> list[int]:
    """The reporting years whose reminder window holds ``today``. The deadline of year Y
    falls in Y + 1, so only last year and this year can be due."""
    return [year for year in (today.year - 1, today.year) if days_left(year, today) is not None]


def outstanding(engine: Engine, year: int) -> tuple[list[str], list[str]]:
    """The units of ``year`` that have not reported, and those whose latest file was sent
    back (退回; its figures, if an earlier file had any, still stand). A year with no file
    yet has no rows in the warehouse: then every unit of the roster is missing."""
    from village_reports import warehouse
    from village_reports.model import REJECTED
    from village_reports.roster import load_roster

    rows = warehouse.timeliness(engine, year)
    if not rows:
        return [unit.name for unit in load_roster().units], []
    missing = [r["unit_name"] for r in rows if r["timeliness"] == "missing"]
    sent_back = [r["unit_name"] for r in rows if r["latest_status"] == REJECTED]
    return missing, sent_back


def reminder_title(year: int) -> str:
    return f"{_place()}{year}年度报表催报"


def reminder_text(engine: Engine, year: int, today: date) -> str | None:
    """The reminder for ``year`` on ``today``: the deadline, who has not reported, who was
    sent back. None outside the reminder window, or when every unit stands reported."""
    from village_reports.rules import load_rules

    left = days_left(year, today)
    if left is None:
        return None
    missing, sent_back = outstanding(engine, year)
    if not missing and not sent_back:
        return None
    deadline = load_rules().deadline_date(year)
    when = "今天截止" if left == 0 else f"还剩 {left} 天"
    lines = [f"{_place()}{year}年度村级报表{deadline.month}月{deadline.day}日截止（{when}）。"]
    if missing:
        lines.append(f"尚未报送 {len(missing)} 个：{_bounded(missing)}。")
    if sent_back:
        lines.append(f"被退回待重报 {len(sent_back)} 个：{_bounded(sent_back)}。")
    lines.append("退回原因见各单位的回执；请在截止日前报送。")
    return "\n".join(lines)


def send_reminders(today: date, engine: Engine | None = None) -> list[int]:
    """Send the reminder of every year due on ``today``; the years that had one to send."""
    from village_reports import warehouse

    engine = engine or warehouse.get_engine()
    years = []
    for year in due_years(today):
        text = reminder_text(engine, year, today)
        if text is None:
            log.info("%s年度所有单位均已报送，无需催报", year)
            continue
        send(reminder_title(year), text)
        years.append(year)
    if not years:
        log.info("今天（%s）没有需要催报的年度", today.isoformat())
    return years


def rejections_text(summary: Mapping[str, Any]) -> str | None:
    """The files a run sent back, from ``pipeline.finish_run``'s summary (its ``statuses``
    count them all, ``rejected`` names the first few); None when it sent none back."""
    from village_reports.model import REJECTED

    count = int(summary.get("statuses", {}).get(REJECTED, 0))
    if not count:
        return None
    listed = _bounded(list(summary.get("rejected") or []), count)
    years = "、".join(f"{year}年度" for year in summary.get("years", []))
    return (
        f"本次入库（{years}）收到 {summary.get('files', count)} 份文件，退回 {count} 份：{listed}。\n"
        "退回原因见各文件的回执，请通知填报单位修改后重新报送。"
    )


def send_rejections(summary: Mapping[str, Any]) -> bool:
    """Send the run's rejections, if it had any; whether a message went out."""
    text = rejections_text(summary)
    if text is None:
        log.info("本次入库没有退回的文件，不发送通知")
        return False
    return send(f"{_place()}村级报表退回通知", text)


def only_notifications_failed(states: Mapping[str, str | None]) -> bool:
    """Whether the only steps of a run that failed are notifications (``states``: task id
    -> state, as ``fail_the_run`` reads them). Such a run did its work: it stays green."""
    failed = {task for task, state in states.items() if state == "failed" and task != "fail_the_run"}
    blocked = any(state == "upstream_failed" for state in states.values())
    return bool(failed) and failed <= NOTIFICATION_TASKS and not blocked


# --- deadline alerts --------------------------------------------------------------------


def _beijing(value: Any) -> str:
    """A time from a deadline's context (an ISO string or a datetime) in Beijing time."""
    if isinstance(value, datetime):
        value = value.isoformat()
    try:
        return settings.local_time(value) if value else "（未知）"
    except (TypeError, ValueError):
        return str(value)


_LATE = {
    NIGHTLY: ("夜间入库", "今天的村级报表可能尚未入库，请在 Airflow 中查看这次运行的任务日志。"),
    SIGNOFF: ("镇级签核", "报表仍在等待签核，请负责人尽快处理。"),
}


def deadline_title(kind: str) -> str:
    return f"{_place()}{_LATE[kind][0]}超时"


def deadline_text(kind: str, context: Mapping[str, Any] | None = None) -> str:
    """What a missed deadline says: which run, since when, and what to do. ``context`` is
    the one Airflow hands a Deadline Alert's callback (``dag_run``, ``deadline``)."""
    what, advice = _LATE[kind]
    run = dict((context or {}).get("dag_run") or {})
    deadline = dict((context or {}).get("deadline") or {})
    since = run.get("queued_at") or run.get("logical_date")
    return (
        f"{what}（{run.get('dag_id', '?')}，{run.get('dag_run_id', '?')}）自 {_beijing(since)} 起，"
        f"到 {_beijing(deadline.get('deadline_time'))} 仍未完成。\n{advice}"
    )


def deadline_missed(kind: str, context: Mapping[str, Any] | None = None) -> bool:
    """A Deadline Alert's callback (a ``SyncCallback``: it runs on the executor, LocalExecutor
    or Celery, with the connection read through the worker). Raises when sending fails, so
    that Airflow records the callback as failed."""
    return send(deadline_title(kind), deadline_text(kind, context))


def _deadline_alert(kind: str, interval: timedelta, reference: Any = None) -> DeadlineAlert:
    from airflow.sdk import DeadlineAlert, DeadlineReference, SyncCallback

    return DeadlineAlert(
        reference=reference or DeadlineReference.DAGRUN_QUEUED_AT,
        interval=interval,
        callback=SyncCallback(deadline_missed, kwargs={"kind": kind}),
        name=f"{kind}_late",
    )


def nightly_deadline_alert(interval: timedelta | None = None) -> DeadlineAlert:
    """The nightly run's alert: not finished ``interval`` (settings.nightly_late_after())
    after it was queued. Counted from queued, not the logical date, so that a run started
    by hand, which may have no logical date, is watched too."""
    return _deadline_alert(NIGHTLY, interval or settings.nightly_late_after())


def signoff_deadline_alert(interval: timedelta = SIGNOFF_WAITS, reference: Any = None) -> DeadlineAlert:
    """The alert for a sign-off DAG (``deadline=notify.signoff_deadline_alert()``): its run
    has waited ``interval`` since ``reference`` (default: since it was queued) unfinished."""
    return _deadline_alert(SIGNOFF, interval, reference)


def asked_title(year: int) -> str:
    return f"{_place()}{year}年度统计数据待审核"


def asked_text(year: int, summary: str, link: str | None, answer_by: datetime | None, on_timeout: str) -> str:
    """What the statistician is told when a year's sign-off starts waiting: what it holds,
    where to answer, and what happens without an answer."""
    where = f"请登录 Airflow 审核：{link}" if link else "请登录 Airflow，在“Required Actions”（待办）页审核。"
    lines = [f"{year}年度统计数据已汇总，等待审核定稿。", summary, where]
    if answer_by is not None:
        lines.append(f"请于 {_beijing(answer_by)} 前答复；逾期未答复按“{on_timeout}”处理。")
    return "\n".join(lines)


def local_day(moment: datetime | None = None) -> date:
    """The township's date at ``moment`` (default: now)."""
    return (moment or datetime.now(settings.LOCAL_ZONE)).astimezone(settings.LOCAL_ZONE).date()
