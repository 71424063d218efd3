"""Sign-off (审核定稿) and locking of a reporting year (issue 12).

The township statistician approves a year (审核通过) or sends it back (退回) with a
reason; an approved year is locked. A file that arrives for a locked year is received,
archived, read, checked and answered like any other, but stored as
``received_after_signoff`` (定稿后收到) and never in force, so the year's totals stay as
approved (``warehouse.load_submissions``). Reopening the year, with a written reason,
unlocks it: the held files are new again to the next run's discovery, which loads them
(keeping their ids), and the year needs signing off again. The township never edits a
village's figures itself: it approves them, or sends them back.

Every decision is one row of ``signoff_event``, never changed: who, when, what, why, the
time of the data reviewed and the digest of what was approved. An approval also keeps a
snapshot of the year's totals (``signoff_total``), so that the next review lists what
moved since. The lock is derived from the events (the view ``signoff_state``).

Plain functions over plain data, no Airflow: the ``township_signoff`` DAG shows
``review(...).to_markdown()`` in its HITL form with ``OPTIONS`` and passes the answer to
``record_decision``; ``township_reopen`` calls ``reopen``. Both record under the warehouse
lock, which a load holds too, so a decision never interleaves with a load.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import Connection, Engine

from village_reports import faults, guard, settings, totals, warehouse
from village_reports.warehouse import run_sql, sql

# The HITL form's options, as the statistician reads them. Their home is settings, which
# the sign-off DAG reads at parse time without importing the warehouse.
APPROVE: Final = settings.SIGNOFF_APPROVE
SEND_BACK: Final = settings.SIGNOFF_SEND_BACK
OPTIONS: Final = settings.SIGNOFF_OPTIONS

APPROVED, SENT_BACK, REOPENED = "approved", "sent_back", "reopened"  # signoff_event.action
ACTIONS: Final = {APPROVE: APPROVED, SEND_BACK: SENT_BACK}
MIN_REOPEN_REASON = 4  # characters: "数据有误" at least; a reopening undoes an approval


class StaleReview(faults.Refusal):
    """An approval of something other than what was reviewed: the year's data changed
    since the review, or the year was approved meanwhile. Review again."""


@dataclass(frozen=True)
class SignoffState:
    """A year's sign-off as every output prints it (``label``)."""

    year: int
    locked: bool
    approved_by: str | None  # while locked: who approved it
    approved_at: str | None  # ISO 8601 UTC
    data_as_of: str | None  # latest received_at of the year's loaded files
    last_action: str | None  # approved | sent_back | reopened: the year's latest decision

    def label(self) -> str:
        """草稿（数据截至 …，尚未审核定稿） or 定稿（张三 于 … 审核通过）, Beijing time."""
        if self.locked:
            return f"定稿（{self.approved_by} 于 {settings.local_time(self.approved_at)} 审核通过）"
        data = f"数据截至 {settings.local_time(self.data_as_of)}" if self.data_as_of else "尚无数据"
        why = {REOPENED: "已重新开放，", SENT_BACK: "已退回，"}.get(self.last_action or "", "")
        return f"草稿（{data}，{why}尚未审核定稿）"


def _state(connection: Connection, year: int) -> SignoffState:
    last, lock, as_of = sql("dml/select_signoff_state")
    params = {"year": year}
    action = connection.execute(last, params).scalar()
    locked = connection.execute(lock, params).mappings().first()
    is_locked = bool(locked and locked["locked"])
    return SignoffState(
        year=year,
        locked=is_locked,
        approved_by=locked["actor"] if is_locked and locked else None,
        approved_at=locked["acted_at"] if is_locked and locked else None,
        data_as_of=connection.execute(as_of, params).scalar(),
        last_action=action,
    )


def state(engine: Engine, year: int) -> SignoffState:
    """The year's sign-off state now."""
    with engine.connect() as connection:
        return _state(connection, year)


def _digest(connection: Connection, year: int) -> str:
    """A hash of the year's stored totals and of the files in force behind them."""
    stored, in_force = sql("dml/select_signoff_digest")
    params = {"year": year}
    body = {
        "totals": [
            [r[0], None if r[1] is None else repr(float(r[1])), r[2], r[3]] for r in connection.execute(stored, params)
        ],
        "files": [r[0] for r in connection.execute(in_force, params)],
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def digest(engine: Engine, year: int) -> str:
    """What ``record_decision`` compares with the digest reviewed: the year's stored totals
    (``totals.compute_year``) and the files in force behind them."""
    with engine.connect() as connection:
        return _digest(connection, year)


@dataclass
class Review:
    """What the statistician sees before deciding: what moved since the last approval,
    who is missing or late, the warnings still open, and the time of the data."""

    year: int
    digest: str  # pass it back to record_decision: an approval refuses a changed year
    changes: list[dict[str, Any]]  # code, name, unit, before, after
    first_review: bool  # never approved: changes lists every total (首次审核)
    missing_or_late: list[dict[str, Any]]  # code, name, timeliness (as the timeliness view says)
    open_warnings: int
    warnings: list[dict[str, Any]]  # the first few: unit_code, unit_name, indicator_code, message
    data_as_of: str | None
    label: str = ""  # SignoffState.label() at the review
    approved_before: dict[str, Any] | None = field(default=None)  # the last approval: actor, acted_at

    def summary(self) -> str:
        """The review in one line, for the message that asks for it (notify.asked_text)."""
        if self.first_review:
            changed = f"首次审核，合计 {len(self.changes)} 项"
        else:
            changed = f"与上次定稿相比有变化的合计 {len(self.changes)} 项"
        return (
            f"{changed}；未按时报送、退回或定稿后收到的单位 {len(self.missing_or_late)} 个；"
            f"尚待村里核实的提示 {self.open_warnings} 条。"
        )

    def to_markdown(self, limit: int = 40) -> str:
        """The review in Chinese, for the HITL form's body: at most ``limit`` listed lines
        across its lists, the rest counted."""
        return "\n".join(_markdown(self, limit)) + "\n"


MISSING_TEXT = {
    "late": "逾期报送",
    "missing": "未报送",
    "rejected": "退回待改",
    "received_after_signoff": "定稿后收到（未计入）",
}
WARNINGS_LISTED = 40  # warnings fetched for a review; the count says how many there are


def review(engine: Engine, year: int, warnings_listed: int = WARNINGS_LISTED) -> Review:
    """The year's review, from the totals ``totals.compute_year`` stored (the caller
    recomputes them first) and the views."""
    approval, stored, counted, first = sql("dml/select_signoff_review")
    with engine.connect() as connection:
        last = connection.execute(approval, {"year": year}).mappings().first()
        rows = connection.execute(stored, {"year": year, "event_id": last["event_id"] if last else None}).mappings()
        changes = [
            {
                "code": r["indicator_code"],
                "name": r["indicator_name"],
                "unit": r["unit"],
                "before": r["approved_value"],
                "after": r["value"],
            }
            for r in rows
            if last is None or not r["in_snapshot"] or r["approved_value"] != r["value"]
        ]
        open_warnings = int(connection.execute(counted, {"year": year}).scalar() or 0)
        listed = [dict(r) for r in connection.execute(first, {"year": year, "limit": warnings_listed}).mappings()]
        now = _state(connection, year)
        reviewed = _digest(connection, year)
    missing = [
        {"code": r["unit_code"], "name": r["unit_name"], "timeliness": r["timeliness"]}
        for r in warehouse.timeliness(engine, year)
        if r["timeliness"] != "on_time"
    ]
    return Review(
        year=year,
        digest=reviewed,
        changes=changes,
        first_review=last is None,
        missing_or_late=missing,
        open_warnings=open_warnings,
        warnings=listed,
        data_as_of=now.data_as_of,
        label=now.label(),
        approved_before=dict(last) if last else None,
    )


def _value(value: float | None) -> str:
    return "—" if value is None else f"{value:,.10g}"


def _markdown(r: Review, limit: int) -> list[str]:
    """The review's lines; each list gets the share of ``limit`` that the lists before it left."""
    lines = [
        f"## {r.year} 年度汇总审核",
        "",
        f"当前状态：{r.label}。审核编号 {r.digest[:12]}：审核通过时核对，其后如有文件入库须重新审核。",
        "",
    ]
    room = max(limit, 3)
    if r.first_review:
        lines += [f"### 合计（首次审核，共 {len(r.changes)} 项）", ""]
        changed = [f"- {c['code']} {c['name']}：{_value(c['after'])} {c['unit'] or ''}".rstrip() for c in r.changes]
    else:
        before = r.approved_before or {}
        since = f"{before.get('actor')} 于 {settings.local_time(before.get('acted_at'))} 审核通过"
        lines += [f"### 与上次定稿（{since}）相比有变化的合计：{len(r.changes)} 项", ""]
        changed = [
            f"- {c['code']} {c['name']}：{_value(c['before'])} → {_value(c['after'])} {c['unit'] or ''}".rstrip()
            for c in r.changes
        ]
    room -= _add(lines, changed, room // 2, "无变化。")
    lines += ["", f"### 未按时报送、退回或定稿后收到的单位：{len(r.missing_or_late)} 个", ""]
    units = [
        f"- {u['name']}（{u['code']}）：{MISSING_TEXT.get(u['timeliness'], u['timeliness'])}" for u in r.missing_or_late
    ]
    room -= _add(lines, units, room // 2, "所有单位均已按时报送。")
    lines += ["", f"### 尚待村里核实的提示：{r.open_warnings} 条", ""]
    warned = [f"- {w['unit_name']}（{w['unit_code']}）{w['indicator_code']}：{w['message']}" for w in r.warnings]
    _add(lines, warned, max(room, 1), "没有。", total=r.open_warnings)
    lines += [
        "",
        "审核通过后该年度定稿并锁定：此后收到的文件照常审核并回执，但不计入合计，直至重新开放。退回须写明原因。",
    ]
    return lines


def _add(lines: list[str], items: Sequence[str], room: int, empty: str, total: int | None = None) -> int:
    """Up to ``room`` of ``items`` onto ``lines``, then how many more; how many it listed."""
    total = len(items) if total is None else total
    if not total:
        lines.append(empty)
        return 0
    shown = list(items[:room])
    lines += shown
    if total > len(shown):
        lines.append(f"- ……另有 {total - len(shown)} 项未列出")
    return len(shown)


@contextmanager
def _warehouse_locked(engine: Engine) -> Generator[None]:
    """The warehouse lock that loads hold (``guard``), taken under the same URL as the
    pipeline's steps so that the lock stays re-entrant within a step."""
    url = settings.warehouse_url()
    if warehouse.get_engine(url) is not engine:
        url = engine.url.render_as_string(hide_password=False)
    with guard.warehouse_lock(url):
        yield


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _acted_at(acted_at: str | None) -> str:
    """An ISO 8601 time with its zone, as UTC; now when not given."""
    if acted_at is None:
        return _now()
    when = datetime.fromisoformat(acted_at)
    if when.tzinfo is None:
        raise ValueError(f"操作时间须带时区：{acted_at}")
    return when.astimezone(UTC).isoformat(timespec="seconds")


def _record(connection: Connection, event: Mapping[str, Any]) -> int:
    (insert,) = sql("dml/insert_signoff_event")
    return int(connection.execute(insert, dict(event)).scalar_one())


def record_decision(
    engine: Engine,
    year: int,
    decision: str,
    actor: str,
    reason: str,
    reviewed_digest: str,
    run_id: str | None = None,
    acted_at: str | None = None,
) -> dict[str, Any]:
    """Record the statistician's decision on ``year``: ``APPROVE`` or ``SEND_BACK``.

    A send-back needs a reason. An approval recomputes the year's totals, refuses
    (``StaleReview``) when they, or the files behind them, differ from what was reviewed
    (``reviewed_digest``: a file was loaded since) or when the year is locked already,
    then stores a snapshot of the totals and locks the year. Both refuse a locked year:
    a decision on it comes from a stale form. Returns the event as recorded."""
    if decision not in ACTIONS:
        raise ValueError(f"审核结论须为 {'或'.join(OPTIONS)}，收到：{decision!r}")
    actor, reason = _required(actor, "审核人"), (reason or "").strip()
    if decision == SEND_BACK and not reason:
        raise ValueError("退回须写明原因，村里和镇里都要看到退回的理由。")
    with _warehouse_locked(engine):
        if decision == APPROVE:
            totals.compute_year(engine, year)  # what the approval vouches for: the figures in force now
        with engine.begin() as connection:
            now = _state(connection, year)
            if now.locked:
                raise StaleReview(
                    f"{year} 年度已由 {now.approved_by} 于 {settings.local_time(now.approved_at)} 审核定稿，"
                    "本次审核未记录；如需修改请先重新开放该年度。"
                )
            current = _digest(connection, year)
            if decision == APPROVE and current != reviewed_digest:
                raise StaleReview(
                    f"{year} 年度的数据在审核之后有变化（又有文件入库），本次审核通过未记录；请重新审核最新的数据。"
                )
            event = {
                "year": year,
                "action": ACTIONS[decision],
                "actor": actor,
                "acted_at": _acted_at(acted_at),
                "reason": reason,
                "data_as_of": now.data_as_of,
                "totals_digest": current,
                "run_id": run_id,
            }
            event_id = _record(connection, event)
            if decision == APPROVE:
                run_sql(connection, "dml/insert_signoff_totals", {"event_id": event_id, "year": year})
            after = _state(connection, year)
    return {**event, "event_id": event_id, "decision": decision, "label": after.label()}


def _required(text: str | None, what: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ValueError(f"须填写{what}。")
    return text


def reopen(engine: Engine, year: int, actor: str, reason: str, run_id: str | None = None) -> dict[str, Any]:
    """Reopen a locked year, with a written reason: it is a draft again and needs signing
    off again; the files held while it was locked load on the next run (``waiting``)."""
    actor, reason = _required(actor, "操作人"), (reason or "").strip()
    if len(reason) < MIN_REOPEN_REASON:
        raise ValueError(f"重新开放须写明原因（至少 {MIN_REOPEN_REASON} 个字），收到：{reason!r}")
    with _warehouse_locked(engine), engine.begin() as connection:
        now = _state(connection, year)
        if not now.locked:
            raise ValueError(f"{year} 年度尚未审核定稿，无需重新开放。")
        event = {
            "year": year,
            "action": REOPENED,
            "actor": actor,
            "acted_at": _now(),
            "reason": reason,
            "data_as_of": now.data_as_of,
            "totals_digest": _digest(connection, year),
            "run_id": run_id,
        }
        event_id = _record(connection, event)
        after = _state(connection, year)
    waiting = sum(1 for _ in _waiting_in(engine, year))
    return {**event, "event_id": event_id, "waiting": waiting, "label": after.label()}


def _waiting_in(engine: Engine, year: int) -> Iterator[str]:
    """The receipts of ``year`` that the next run will load (held, the year reopened)."""
    with engine.connect() as connection:
        for row in connection.execute(sql("dml/select_waiting_receipts")[0]):
            if row.year == year:
                yield row.receipt_id
