"""The annual report's words: township figures phrased the way the report phrases them.

'200余个', '约2000亩', '过万亩', '无一例', '第三名': the catalogue says which style each
figure takes; this module turns a computed total into those words.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from village_reports.catalogue import Catalogue, Indicator, load_catalogue
from village_reports.reader import Record
from village_reports.roster import Roster, load_roster
from village_reports.totals import TownshipTotal

_CN_DIGITS = "零一二三四五六七八九"


def format_number(value: float, places: int) -> str:
    """'784.5', '289', '0.725': fixed places, then trailing zeros dropped."""
    text = f"{value:.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def chinese_numeral(n: int, two: str = "二") -> str:
    """Small whole numbers in Chinese: 3 -> 三, 12 -> 十二, 2 -> 两 when asked."""
    if not 0 <= n < 100:
        return str(n)
    if n == 2:
        return two
    tens, ones = divmod(n, 10)
    if tens == 0:
        return _CN_DIGITS[ones]
    return ("" if tens == 1 else _CN_DIGITS[tens]) + "十" + (_CN_DIGITS[ones] if ones else "")


def phrase(value: float, indicator: Indicator) -> str:
    """The figure as the report words it (without the unit)."""
    spec = indicator.phrase
    style = spec.get("style", "exact")
    places = int(spec.get("places", indicator.decimals))
    exact = format_number(value, places)
    if style == "exact":
        if spec.get("rounding") == "down":
            factor = 10**places
            return format_number(math.floor(value * factor + 1e-9) / factor, places)
        return exact
    if style == "yu":
        step = float(spec["step"])
        base = math.floor(value / step + 1e-9) * step
        if base <= 0 or math.isclose(base, value):
            return exact  # '余' says "more than"; an exact round figure is said as it is
        if spec.get("scale") == "万":
            return f"{format_number(base / 10_000, 0)}万余"
        return f"{format_number(base, 0)}余"
    if style == "about":
        step = float(spec["step"])
        return f"约{format_number(round(value / step) * step, 0)}"
    if style == "over":
        if value > float(spec["threshold"]):
            return str(spec["word"])
        return str(spec.get("otherwise", "{n}")).format(n=exact)
    if style == "zero":
        return str(spec["zero"]) if value == 0 else str(spec["other"]).format(n=exact)
    if style == "cn":
        return chinese_numeral(round(value), str(spec.get("two", "二")))
    raise ValueError(f"{indicator.code}: unknown phrase style {style}")


def sentence(value: float, indicator: Indicator) -> str:
    return indicator.sentence.format(figure=phrase(value, indicator))


# ---------------------------------------------------------------------------------------
# Outputs for one year: township_totals.csv, township_totals.xlsx, annual_report.md


def _display(value: float | None, indicator: Indicator) -> str:
    return "" if value is None else format_number(value, indicator.decimals)


def _sources_text(total: TownshipTotal, roster: Roster) -> str:
    parts = []
    for c in total.contributions:
        unit = roster.get(c.unit_code)
        parts.append(f"{unit.name if unit else c.unit_code} {c.sheet}!{c.cell}")
    return "；".join(parts)


def write_totals_csv(path: Path, totals: dict[str, TownshipTotal], catalogue: Catalogue) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:  # BOM: Excel opens it as UTF-8
        writer = csv.writer(handle)
        writer.writerow(["code", "name", "unit", "section", "value", "units_reported", "units_expected"])
        for code, total in totals.items():
            ind = catalogue[code]
            writer.writerow(
                [
                    code,
                    ind.name,
                    ind.unit,
                    catalogue.section(ind.section).name,
                    _display(total.value, ind),
                    total.units_reported,
                    total.units_expected,
                ]
            )
    return path


def write_totals_xlsx(
    path: Path,
    year: int,
    totals: dict[str, TownshipTotal],
    records: Sequence[Record],
    catalogue: Catalogue,
    roster: Roster,
    timeliness: Sequence[Mapping[str, Any]] = (),
) -> Path:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
    wb = Workbook()
    wb.remove(wb.active)
    headings = ("指标代码", "指标名称", "计量单位", f"{year}年数值", "已报单位", "应报单位", "完整率")
    for section in catalogue.sections:
        ws = wb.create_sheet(section.name)
        ws.append([f"毛田镇{year}年度 {section.name}"])
        ws["A1"].font = Font(bold=True, size=13)
        ws.append(headings)
        for cell in ws[2]:
            cell.font, cell.fill = bold, fill
        for ind in catalogue.in_section(section.code):
            total = totals[ind.code]
            ws.append(
                [
                    ind.code,
                    ind.name,
                    ind.unit,
                    total.value,
                    total.units_reported,
                    total.units_expected,
                    total.completeness,
                ]
            )
            ws.cell(row=ws.max_row, column=4).number_format = "0" if ind.decimals == 0 else "0." + "0" * ind.decimals
            ws.cell(row=ws.max_row, column=7).number_format = "0%"
        for column, width in zip("ABCDEFG", (10, 40, 10, 14, 10, 10, 10), strict=True):
            ws.column_dimensions[column].width = width
        ws.freeze_panes = "A3"

    # one row per unit: a county's thousands of villages fit, Excel's 16,384 columns would not
    breakdown = wb.create_sheet("分村明细")
    filled = [i for i in catalogue.indicators if i.is_filled_in]
    breakdown.append(["单位代码", "单位名称", *[f"{i.code} {i.name}（{i.unit}）" for i in filled]])
    for cell in breakdown[1]:
        cell.font, cell.fill = bold, fill
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    values = {(r.unit_code, r.indicator_code): r.value for r in records}
    for unit in roster.units:
        if any((unit.code, i.code) in values for i in filled):
            breakdown.append([unit.code, unit.name, *[values.get((unit.code, i.code)) for i in filled]])
    breakdown.freeze_panes = "C2"
    breakdown.column_dimensions["B"].width = 24

    status = wb.create_sheet("报送情况")
    status.append(["单位代码", "单位名称", "报送情况", "首次收到", "截止时间", "最新文件"])
    for cell in status[1]:
        cell.font, cell.fill = bold, fill
    for row in timeliness:
        status.append(
            [
                row["unit_code"],
                row["unit_name"],
                TIMELINESS_TEXT[row["timeliness"]],
                _local(row["first_received"]),
                _local(row["deadline"]),
                row["latest_file"] or "",
            ]
        )
    for column, width in zip("ABCDEF", (10, 24, 10, 18, 18, 40), strict=True):
        status.column_dimensions[column].width = width
    wb.save(path)
    return path


def render_annual_report(year: int, totals: dict[str, TownshipTotal], catalogue: Catalogue, roster: Roster) -> str:
    """The annual report's quantitative statements, in Chinese, every figure computed."""
    lines = [f"# 毛田镇{year}年度工作总结：主要数据", ""]
    lines += ["> 本文由村级报表汇总自动生成；每个数字均可追溯到报送单位的单元格（见文末“数据来源”）。", ""]
    for section in catalogue.sections:
        statements = []
        for ind in catalogue.in_section(section.code):
            total = totals[ind.code]
            if total.value is None:
                statements.append(f"{ind.name}：暂无数据（应报{total.units_expected}个单位，均未报告）。")
            else:
                statements.append(sentence(total.value, ind) + "。")
        lines += [f"## {section.name}：{section.heading}", "", "".join(statements), ""]
    lines += [
        "## 数据来源",
        "",
        "| 代码 | 指标 | 数值 | 已报/应报 | 来源（单位 工作表!单元格） |",
        "|---|---|---|---|---|",
    ]
    for code, total in totals.items():
        ind = catalogue[code]
        value = f"{_display(total.value, ind)}{'' if ind.unit in ('是/否',) else ind.unit}"
        lines.append(
            f"| {code} | {ind.name} | {value} | {total.units_reported}/{total.units_expected} | "
            f"{_sources_text(total, roster)} |"
        )
    return "\n".join(lines) + "\n"


TIMELINESS_TEXT = {"on_time": "按时报送", "late": "逾期报送", "missing": "未报送", "rejected": "退回待改"}


def _local(iso_utc: str | None) -> str:
    if not iso_utc:
        return ""
    return datetime.fromisoformat(iso_utc).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")


def write_status_csv(path: Path, timeliness: Sequence[Mapping[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["unit_code", "unit_name", "timeliness", "状态", "first_received", "deadline", "latest_file"])
        for row in timeliness:
            writer.writerow(
                [
                    row["unit_code"],
                    row["unit_name"],
                    row["timeliness"],
                    TIMELINESS_TEXT[row["timeliness"]],
                    _local(row["first_received"]),
                    _local(row["deadline"]),
                    row["latest_file"] or "",
                ]
            )
    return path


def render_timeliness(timeliness: Sequence[Mapping[str, Any]]) -> list[str]:
    """The 报送情况 section: counts, then who is late, missing or sent back."""
    if not timeliness:
        return []
    counts = {key: sum(r["timeliness"] == key for r in timeliness) for key in TIMELINESS_TEXT}
    lines = [
        "## 报送情况",
        "",
        f"应报 {len(timeliness)} 个单位（截止 {_local(timeliness[0]['deadline'])}）："
        + "，".join(f"{TIMELINESS_TEXT[k]} {v} 个" for k, v in counts.items())
        + "。",
        "",
    ]
    for key in ("late", "missing", "rejected"):
        names = [r["unit_name"] for r in timeliness if r["timeliness"] == key]
        if names:
            lines += [f"- {TIMELINESS_TEXT[key]}：" + "、".join(names), ""]
    return lines


def write_outputs(
    out_dir: Path,
    year: int,
    totals: dict[str, TownshipTotal],
    records: Sequence[Record],
    timeliness: Sequence[Mapping[str, Any]] = (),
    catalogue: Catalogue | None = None,
    roster: Roster | None = None,
) -> list[Path]:
    """The township outputs for one year under ``out_dir/<year>/``."""
    catalogue = catalogue or load_catalogue()
    roster = roster or load_roster()
    folder = out_dir / str(year)
    folder.mkdir(parents=True, exist_ok=True)
    report = folder / "annual_report.md"
    text = render_annual_report(year, totals, catalogue, roster)
    report.write_text(text + ("\n" + "\n".join(render_timeliness(timeliness)) if timeliness else ""), encoding="utf-8")
    return [
        write_totals_csv(folder / "township_totals.csv", totals, catalogue),
        write_totals_xlsx(folder / "township_totals.xlsx", year, totals, records, catalogue, roster, timeliness),
        write_status_csv(folder / "submission_status.csv", timeliness),
        report,
    ]
