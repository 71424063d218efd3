"""审核记录: the validation history as one self-contained HTML page.

Built from what the warehouse already stores (``validation_run``, one row per Great
Expectations run, and the submissions it checked), never by validating again, so the
page costs the same whatever the night's N. It names the unit, file and year of each
run, and needs no network: its style is inline, it loads nothing.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, bindparam

from village_reports import settings
from village_reports.files import write_atomically
from village_reports.model import ACCEPTED, ACCEPTED_WITH_WARNINGS, HELD, REJECTED
from village_reports.roster import load_roster
from village_reports.warehouse import sql

RUNS_SHOWN = 500  # the newest runs; older ones stay in validation_run for the analysts
NAMED_UP_TO = 100  # files: a run over more (a county's batches of 500–3,000) is counted, not listed

EXPECTATION_TEXT = {
    ("expect_column_values_to_be_in_set", "indicator_code"): "指标代码在指标目录中",
    ("expect_column_values_to_not_be_null", "roster_unit"): "单位代码在名册中",
    ("expect_column_pair_values_a_to_be_greater_than_b", "value"): "数值不小于下限",
    ("expect_column_pair_values_a_to_be_greater_than_b", "max_value"): "数值不超过上限",
    ("expect_column_values_to_be_in_set", "whole_remainder"): "计数类指标为整数",
    ("expect_column_values_to_not_be_null", "answer"): "指标已填写（空格按未报告统计）",
}
# A blank is "not reported", never an error (a village may send what it has, then the
# rest): the count is shown, not marked as a failure.
COUNTED_NOT_FAILED = {("expect_column_values_to_not_be_null", "answer")}
STATUS_TEXT = {
    ACCEPTED: "已接收",
    ACCEPTED_WITH_WARNINGS: "已接收（有提示）",
    REJECTED: "退回",
    HELD: "定稿后收到（暂不计入）",
}

_STYLE = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei","SimSun",sans-serif;margin:2em;color:#222}
h1{font-size:1.5em}table{border-collapse:collapse;margin:.4em 0 1.4em}
td,th{border:1px solid #bbb;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#ddebf7}.ok{color:#00a65a;font-weight:bold}.bad{color:#dd4b39;font-weight:bold}
.num{text-align:right}section{border-top:2px solid #ddd;padding-top:.6em}
"""


def _runs(engine: Engine) -> Iterator[dict[str, Any]]:
    with engine.connect() as connection:
        for row in connection.execute(sql("dml/select_validation_history")[0], {"limit": RUNS_SHOWN}).mappings():
            yield dict(row)


def _names(engine: Engine, ids: list[str]) -> dict[str, Mapping[str, Any]]:
    if not ids:
        return {}
    statement = sql("dml/select_submission_names")[0].bindparams(bindparam("submission_ids", expanding=True))
    found = {}
    with engine.connect() as connection:
        for start in range(0, len(ids), _IDS_PER_QUERY):
            rows = connection.execute(statement, {"submission_ids": ids[start : start + _IDS_PER_QUERY]}).mappings()
            found.update({row["submission_id"]: dict(row) for row in rows})
    return found


_IDS_PER_QUERY = 10_000  # SQLite binds at most 32,766 parameters a statement


def _section(run: dict[str, Any], names: Mapping[str, Mapping[str, Any]]) -> str:
    e = html.escape
    ids = json.loads(run["submission_ids"])
    files = [names[i] for i in ids if i in names]
    years = sorted({f["year"] for f in files})
    verdict = _verdict(run, [f["status"] for f in files] if len(files) == len(ids) else [])
    title = (
        f"{e(files[0]['unit_name'])} · {e(files[0]['file_name'])}" if len(ids) == 1 and files else f"{len(ids)} 个文件"
    )
    lines = [
        f"<section><h2>{title}</h2>",
        f"<p>校验时间 {settings.local_time(run['validated_at'])}　年度 {e('、'.join(map(str, years)) or '—')}　"
        f"审核结论 {verdict}　数据校验：期望 {run['successful']}/{run['evaluated']} 项满足</p>",
    ]
    if 1 < len(ids) <= NAMED_UP_TO:
        lines.append("<table><tr><th>单位</th><th>文件</th><th>年度</th><th>审核结论</th></tr>")
        lines += [
            f"<tr><td>{e(f['unit_name'])}</td><td>{e(f['file_name'])}</td><td>{f['year']}</td>"
            f"<td>{e(STATUS_TEXT.get(f['status'], f['status']))}</td></tr>"
            for f in files
        ]
        lines.append("</table>")
    result = json.loads(run["result_json"] or "{}")
    lines.append('<table><tr><th>检查项</th><th class="num">检查数</th><th class="num">不符合</th></tr>')
    for item in result.get("results", []):
        name = EXPECTATION_TEXT.get((item["expectation"], item["column"]), f"{item['expectation']}（{item['column']}）")
        unexpected = item.get("unexpected_count") or 0
        failed = unexpected and (item["expectation"], item["column"]) not in COUNTED_NOT_FAILED
        css = ' class="num bad"' if failed else ' class="num"'
        lines.append(
            f"<tr><td>{e(name)}</td><td class='num'>{item.get('element_count') or 0}</td>"
            f"<td{css}>{unexpected}</td></tr>"
        )
    lines.append("</table></section>")
    return "\n".join(lines)


def _verdict(run: Mapping[str, Any], statuses: list[str]) -> str:
    """What became of the run's files, in their 回执's words (已接收, 退回 …), so that the
    page and the 回执 never disagree; the bare GX result only where a file is unknown."""
    if not statuses:
        return '<span class="ok">通过</span>' if run["success"] else '<span class="bad">发现问题</span>'
    counts = {status: statuses.count(status) for status in dict.fromkeys(statuses)}
    parts = []
    for status, count in counts.items():
        css = "bad" if status == REJECTED else "ok"
        said = html.escape(STATUS_TEXT.get(status, status))
        parts.append(f'<span class="{css}">{said}</span>' + (f" {count} 个" if len(statuses) > 1 else ""))
    return "，".join(parts)


def write_validation_report(engine: Engine, out_dir: Path) -> Path:
    """Write ``out_dir/index.html`` from the newest validation runs; returns its path."""
    runs = list(_runs(engine))  # at most RUNS_SHOWN small rows
    small = [i for run in runs for i in json.loads(run["submission_ids"])[:NAMED_UP_TO]]
    names = _names(engine, small)
    township = html.escape(load_roster().place)
    body = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>{township}村级报表 审核记录</title><style>{_STYLE}</style></head><body>",
        f"<h1>{township}村级报表 审核记录</h1>",
        f"<p>最近 {len(runs)} 次校验（Great Expectations），新的在前。每个文件的问题与修改方法见各自的回执。</p>",
        *(_section(run, names) for run in runs),
        "</body></html>",
    ]
    return write_atomically(out_dir / "index.html", "\n".join(body))
