"""Reminders and alerts: their texts, and sending them through the one connection."""

from __future__ import annotations

import json
import logging
import socket
from datetime import date, datetime

import pytest

from village_reports import notify, warehouse
from village_reports.pipeline import summarise_loads

YEAR = 2021  # due 31 March 2022; the reminder window opens 14 days before, on 17 March


def row(code: str, name: str, timeliness: str, latest_status: str) -> dict:
    return {"unit_code": code, "unit_name": name, "timeliness": timeliness, "latest_status": latest_status}


@pytest.fixture
def standing(monkeypatch) -> list[dict]:
    """The warehouse's timeliness rows the texts read; a test fills them."""
    rows: list[dict] = []
    monkeypatch.setattr(warehouse, "timeliness", lambda _engine, _year: rows)
    return rows


@pytest.mark.parametrize(
    ("today", "left"),
    [
        (date(2022, 3, 16), None),  # the day before the window
        (date(2022, 3, 17), 14),
        (date(2022, 3, 31), 0),  # the deadline day itself
        (date(2022, 4, 1), None),  # late is not the reminder's business
        (date(2021, 12, 31), None),
    ],
)
def test_the_window_is_the_days_before_the_deadline(today: date, left: int | None) -> None:
    assert notify.days_left(YEAR, today) == left
    assert notify.due_years(today) == ([] if left is None else [YEAR])


def test_the_reminder_names_who_has_not_reported_and_who_was_sent_back(standing: list[dict]) -> None:
    standing += [
        row("MT01", "鸣山村", "on_time", "accepted"),
        row("MT02", "白若村", "missing", "missing"),
        row("MT03", "中兴村", "rejected", "rejected"),
        # figures from an earlier file stand, but the latest was sent back: it must send again
        row("MT04", "第04村（待核定）", "on_time", "rejected"),
    ]
    text = notify.reminder_text(None, YEAR, date(2022, 3, 25))
    assert text == (
        "毛田镇2021年度村级报表3月31日截止（还剩 6 天）。\n"
        "尚未报送 1 个：白若村。\n"
        "被退回待重报 2 个：中兴村、第04村（待核定）。\n"
        "退回原因见各单位的回执；请在截止日前报送。"
    )
    assert "今天截止" in notify.reminder_text(None, YEAR, date(2022, 3, 31))


def test_the_reminder_names_ten_units_and_counts_the_rest(standing: list[dict]) -> None:
    standing += [row(f"MT{n:02}", f"第{n:02}村", "missing", "missing") for n in range(1, 26)]
    text = notify.reminder_text(None, YEAR, date(2022, 3, 20))
    assert "尚未报送 25 个：第01村、" in text and "第10村 等，另有 15 个。" in text
    assert "第11村" not in text


def test_a_year_without_any_file_misses_every_unit(standing: list[dict], roster) -> None:
    text = notify.reminder_text(None, YEAR, date(2022, 3, 20))
    assert f"尚未报送 {len(roster.units)} 个：鸣山村、白若村、中兴村、" in text
    assert f"另有 {len(roster.units) - notify.LISTED} 个" in text


def test_nothing_to_remind_is_none(standing: list[dict]) -> None:
    standing += [row("MT01", "鸣山村", "on_time", "accepted"), row("MT02", "白若村", "late", "accepted")]
    assert notify.reminder_text(None, YEAR, date(2022, 3, 20)) is None  # everyone reported
    standing.append(row("MT03", "中兴村", "missing", "missing"))
    assert notify.reminder_text(None, YEAR, date(2022, 3, 1)) is None  # not yet in the window
    assert notify.reminder_text(None, YEAR, date(2022, 4, 2)) is None  # past the deadline


def test_the_rejections_of_a_run() -> None:
    lines = [
        {"status": "accepted", "year": 2021, "file_name": "MT01_2021.xlsx"},
        {"status": "rejected", "year": 2021, "file_name": "MT06_2021.xlsx"},
        {"status": "rejected", "year": 2021, "file_name": "MT05_broken.xlsx"},
    ]
    assert notify.rejections_text(summarise_loads([lines])) == (
        "本次入库（2021年度）收到 3 份文件，退回 2 份：MT06_2021.xlsx、MT05_broken.xlsx。\n"
        "退回原因见各文件的回执，请通知填报单位修改后重新报送。"
    )


def test_a_run_that_sent_back_many_names_ten_and_counts_them_all() -> None:
    """The summary names only the first 20 rejected files; the count covers them all."""
    lines = [{"status": "rejected", "year": 2021, "file_name": f"F{n:03}.xlsx"} for n in range(300)]
    text = notify.rejections_text(summarise_loads([lines]))
    assert "退回 300 份：F000.xlsx、" in text and "F009.xlsx 等，另有 290 个。" in text
    assert "F010.xlsx" not in text


def test_a_run_without_rejections_says_nothing() -> None:
    accepted = [{"status": "accepted", "year": 2021, "file_name": "MT01_2021.xlsx"}]
    assert notify.rejections_text(summarise_loads([accepted])) is None
    assert notify.rejections_text(summarise_loads([])) is None


def test_a_missed_deadline_names_the_run_and_the_times() -> None:
    """``context`` as Airflow's Deadline.handle_miss builds it for the callback (a DAGRunResponse)."""
    context = {
        "dag_run": {
            "dag_id": "village_reports",
            "dag_run_id": "scheduled__2022-03-20",
            "queued_at": "2022-03-19T18:00:05Z",
        },
        "deadline": {"id": "d", "deadline_time": datetime.fromisoformat("2022-03-19T22:00:05+00:00")},
    }
    assert notify.deadline_title(notify.NIGHTLY) == "毛田镇夜间入库超时"
    assert notify.deadline_text(notify.NIGHTLY, context) == (
        "夜间入库（village_reports，scheduled__2022-03-20）自 2022-03-20 02:00 起，到 2022-03-20 06:00 仍未完成。\n"
        "今天的村级报表可能尚未入库，请在 Airflow 中查看这次运行的任务日志。"
    )
    assert notify.deadline_text(notify.SIGNOFF, {}).startswith("镇级签核（?，?）自 （未知） 起")


def test_the_signoff_alert_waits_from_queued_and_calls_back_on_the_executor() -> None:
    from datetime import timedelta

    from airflow.sdk import DeadlineReference, SyncCallback

    alert = notify.signoff_deadline_alert(timedelta(hours=8))
    assert alert.reference == DeadlineReference.DAGRUN_QUEUED_AT and alert.interval == timedelta(hours=8)
    assert isinstance(alert.callback, SyncCallback) and alert.callback.kwargs == {"kind": "signoff"}
    assert alert.callback.path == "village_reports.notify.deadline_missed"
    from_logical_date = notify.signoff_deadline_alert(reference=DeadlineReference.DAGRUN_LOGICAL_DATE)
    assert from_logical_date.interval == notify.SIGNOFF_WAITS


def test_only_a_failed_notification_leaves_the_night_green() -> None:
    assert notify.only_notifications_failed({"publish": "success", "notify_rejections": "failed"})
    assert not notify.only_notifications_failed({"publish": "failed", "notify_rejections": "upstream_failed"})
    assert not notify.only_notifications_failed({"batch.load_3": "failed", "notify_rejections": "failed"})
    assert not notify.only_notifications_failed({"publish": "success", "notify_rejections": "success"})


# --- sending ----------------------------------------------------------------------------


def test_without_a_connection_nothing_is_sent_and_the_log_says_so(monkeypatch, caplog) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_VILLAGE_REPORTS_NOTIFY", raising=False)
    with caplog.at_level(logging.INFO, logger="village_reports.notify"):
        assert notify.send("毛田镇2021年度报表催报", "正文") is False
    assert [r.getMessage() for r in caplog.records if r.name == "village_reports.notify"] == [
        "未发送“毛田镇2021年度报表催报”：没有配置通知连接 village_reports_notify"
    ]


def test_a_message_reaches_the_server_of_the_connection(monkeypatch, receiver) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_VILLAGE_REPORTS_NOTIFY", receiver.connection())
    assert notify.send("毛田镇2021年度报表催报", "尚未报送 1 个：白若村。") is True
    [message] = receiver.messages
    assert (message["title"], message["message"]) == ("毛田镇2021年度报表催报", "尚未报送 1 个：白若村。")


def test_a_channel_that_refuses_raises(monkeypatch, receiver) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        closed = f"json://127.0.0.1:{sock.getsockname()[1]}"
    monkeypatch.setenv("AIRFLOW_CONN_VILLAGE_REPORTS_NOTIFY", receiver.connection(closed))
    with pytest.raises(notify.NotSent, match="2 个地址中2 个可用"):
        notify.send("标题", "正文")
    assert len(receiver.messages) == 1  # the channel that works still got it


def test_an_url_apprise_does_not_know_raises(monkeypatch, receiver) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_VILLAGE_REPORTS_NOTIFY", receiver.connection("nosuchservice://x"))
    with pytest.raises(notify.NotSent, match="2 个地址中1 个可用"):
        notify.send("标题", "正文")


def test_the_connection_may_hold_one_url_as_an_object(monkeypatch, receiver) -> None:
    """The provider reads ``config`` as one {"path": …} or a list of them: both work."""
    one = {"conn_type": "apprise", "extra": {"config": {"path": receiver.url}}}
    monkeypatch.setenv("AIRFLOW_CONN_VILLAGE_REPORTS_NOTIFY", json.dumps(one))
    assert notify.send("标题", "正文") is True and len(receiver.messages) == 1


# ---- the message that a sign-off waits ------------------------------------------------------


def _asked_context(monkeypatch, base_url: str | None) -> tuple[dict, list[tuple[str, str]]]:
    from datetime import timedelta
    from types import SimpleNamespace

    from airflow.providers.standard.operators.hitl import HITLOperator

    if base_url:
        monkeypatch.setenv("AIRFLOW__API__BASE_URL", base_url)
    else:
        from airflow.configuration import conf

        monkeypatch.setattr(conf, "get", lambda *args, **kwargs: None)
    sign_off = HITLOperator(
        task_id="sign_off",
        subject="审核",
        options=["审核通过", "退回"],
        defaults=["退回"],
        response_timeout=timedelta(days=7),
    )
    reviewed = {
        "year": 2021,
        "summary": "首次审核，合计 107 项；未按时报送、退回或定稿后收到的单位 1 个；尚待村里核实的提示 3 条。",
    }
    ti = SimpleNamespace(
        dag_id="township_signoff",
        run_id="manual__2022-04-01",
        task_id="sign_off",
        map_index=-1,
        xcom_pull=lambda task_ids: reviewed if task_ids == "review_year" else None,
    )
    sent: list[tuple[str, str]] = []
    monkeypatch.setattr(notify, "send", lambda title, body: sent.append((title, body)) or True)
    return {"task": sign_off, "task_instance": ti, "params": {"year": 2021}}, sent


def test_the_approver_is_told_what_waits_where_and_until_when(monkeypatch) -> None:
    from village_reports.notifiers import SignoffAsked

    context, sent = _asked_context(monkeypatch, "http://airflow.maotian.local:8080")
    SignoffAsked().notify(context)
    [(title, body)] = sent
    assert title == "毛田镇2021年度统计数据待审核"
    lines = body.splitlines()
    assert lines[:2] == [
        "2021年度统计数据已汇总，等待审核定稿。",
        context["task_instance"].xcom_pull("review_year")["summary"],
    ]
    assert lines[2] == (
        "请登录 Airflow 审核：http://airflow.maotian.local:8080/dags/township_signoff/runs/manual__2022-04-01"
        "/tasks/sign_off/required_actions?map_index=-1"
    )
    assert lines[3].startswith("请于 ") and lines[3].endswith("前答复；逾期未答复按“退回”处理。")


def test_without_a_base_url_the_message_says_where_to_look(monkeypatch) -> None:
    from village_reports.notifiers import SignoffAsked

    context, sent = _asked_context(monkeypatch, None)
    SignoffAsked().notify(context)
    assert "在“Required Actions”（待办）页审核" in sent[0][1]


def test_a_message_not_sent_does_not_stop_the_sign_off(monkeypatch, caplog) -> None:
    from village_reports.notifiers import SignoffAsked

    context, _ = _asked_context(monkeypatch, "http://127.0.0.1:8080")

    def refuse(title: str, body: str) -> bool:
        raise notify.NotSent("dingtalk:// 未接受")

    monkeypatch.setattr(notify, "send", refuse)
    with caplog.at_level(logging.ERROR):
        SignoffAsked().notify(context)  # no exception: the form waits in the UI all the same
    assert "审核通知未发出" in caplog.text and "dingtalk:// 未接受" in caplog.text
