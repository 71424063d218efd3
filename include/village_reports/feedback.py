"""Feedback to the village clerk (回执): the verdict, every problem, and their own sheet marked up.

One workbook per processed submission, in Chinese. Text that came from a submission is
neutralised before it is written, so nothing a village typed can run as a formula.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from village_reports.catalogue import Catalogue, load_catalogue
from village_reports.reader import Problem, ReadResult, read_grid
from village_reports.roster import Roster, load_roster

VERDICTS = {
    "accepted": ("已接收", "00A65A", "数据已全部接收，谢谢！"),
    "accepted_with_warnings": (
        "已接收（有提示）",
        "F39C12",
        "数据已接收。请核实下表中的提示；如数字属实，可在原表“说明（备注）”栏写明原因，下次报送时一并说明。",
    ),
    "rejected": (
        "退回",
        "DD4B39",
        "报表未被接收。请按下表逐项修改后重新报送；镇里收到新文件后会自动重新审核。"
        "如某个数字确实属实，请在该行“说明（备注）”栏写明原因后重新报送。",
    ),
}
SEVERITY_TEXT = {"error": "错误（须修改）", "warning": "提示（请核实）", "info": "说明"}
_FILLS = {"error": PatternFill("solid", fgColor="F4CCCC"), "warning": PatternFill("solid", fgColor="FFF2CC")}
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
AUTHOR = "毛田镇人民政府"


def neutralise(value: Any) -> Any:
    """Text that a spreadsheet would take for a formula gets a leading apostrophe;
    control characters a workbook cannot hold are dropped."""
    if not isinstance(value, str):
        return value
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


ALL_FEEDBACK_DIR = "全部回执"


def feedback_paths(out_dir: Path, year: int, unit_code: str | None, submission_id: str, roster: Roster) -> list[Path]:
    """Where one submission's 回执 goes: ``<out>/feedback/<year>/<unit code>.xlsx`` (the unit's
    latest), and a copy per submission under 全部回执/ so that none is overwritten."""
    name = unit_code if unit_code and roster.get(unit_code) else "未识别"
    folder = out_dir / "feedback" / str(year)
    per_submission = folder / ALL_FEEDBACK_DIR / f"{name}_{submission_id[:12]}.xlsx"
    return [per_submission] if name == "未识别" else [folder / f"{name}.xlsx", per_submission]


def _local_time(iso_utc: str) -> str:
    return datetime.fromisoformat(iso_utc).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")


def _ordered(problems: Sequence[Problem]) -> list[Problem]:
    rank = {"error": 0, "warning": 1, "info": 2}
    return sorted(problems, key=lambda p: rank.get(p.severity, 3))


def _summary_sheet(
    wb: Workbook,
    arrival: dict[str, Any],
    result: ReadResult,
    status: str,
    catalogue: Catalogue,
    roster: Roster,
) -> None:
    ws = wb.active
    ws.title = "回执"
    verdict, colour, advice = VERDICTS[status]
    unit = roster.get(result.unit_code or "")
    unit_text = (
        f"{unit.name}（{unit.code}）" if unit else neutralise(result.unit_name or result.unit_code or "未能识别")
    )
    errors = sum(p.severity == "error" for p in result.problems)
    warnings = sum(p.severity == "warning" for p in result.problems)
    filled = sum(r.value is not None for r in result.records)
    rows: list[list[Any]] = [
        ["毛田镇村级报表 回执"],
        ["报送单位", unit_text, "报告年度", arrival["year"]],
        ["报送文件", neutralise(arrival["file_name"]), "收到时间", _local_time(arrival["received_at"])],
        ["审核结论", verdict],
        ["", f"共读取 {filled} 项数据，发现 {errors} 个错误、{warnings} 个提示。{advice}"],
        [],
        ["序号", "类别", "工作表", "单元格", "指标", "填写内容", "问题与修改方法"],
    ]
    for row in rows:
        ws.append(row)
    ws["A1"].font = Font(bold=True, size=14)
    ws["B4"].font = Font(bold=True, size=16, color=colour)
    ws["B5"].alignment = Alignment(wrap_text=True, vertical="top")
    ws.merge_cells("B5:G5")
    ws.row_dimensions[5].height = 48
    for cell in ws[7]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
    raw = {r.indicator_code: r.raw_text for r in result.records}
    for n, problem in enumerate(_ordered(result.problems), start=1):
        indicator = catalogue.get(problem.indicator_code) if problem.indicator_code else None
        ws.append(
            [
                n,
                SEVERITY_TEXT.get(problem.severity, problem.severity),
                neutralise(problem.sheet),
                problem.cell,
                f"{indicator.code} {indicator.name}" if indicator else neutralise(problem.indicator_code),
                neutralise(raw.get(problem.indicator_code, "")),
                neutralise(problem.message),
            ]
        )
        ws.cell(row=ws.max_row, column=7).alignment = Alignment(wrap_text=True, vertical="top")
        if problem.severity in _FILLS:
            ws.cell(row=ws.max_row, column=2).fill = _FILLS[problem.severity]
    if not result.problems:
        ws.append(["", "", "", "", "", "", "没有发现问题。"])
    for column, width in zip("ABCDEFG", (6, 14, 12, 8, 30, 16, 70), strict=True):
        ws.column_dimensions[column].width = width
    ws.freeze_panes = "A8"


def _marked_copy(wb: Workbook, archive_path: str, result: ReadResult) -> None:
    """The clerk's own table, values only, with each problem cell shaded and commented."""
    if result.sheet is None:
        return  # nothing readable to show
    grid = read_grid(Path(archive_path), result.sheet)
    ws = wb.create_sheet("原表（标注）")
    for row in grid:
        ws.append([neutralise(v) if v != "" else None for v in row])
    by_cell: dict[str, list[Problem]] = {}
    for problem in result.problems:
        if problem.cell and problem.sheet == result.sheet:
            by_cell.setdefault(problem.cell, []).append(problem)
    for ref, problems in by_cell.items():
        cell = ws[ref]
        worst = _ordered(problems)[0].severity
        if worst in _FILLS:
            cell.fill = _FILLS[worst]
        cell.comment = Comment("\n".join(neutralise(p.message) for p in problems), AUTHOR, width=300, height=120)
    for column in range(1, (max((len(r) for r in grid), default=0)) + 1):
        ws.column_dimensions[get_column_letter(column)].width = 14


def write_feedback(
    out_dir: Path,
    arrival: dict[str, Any],
    result: ReadResult,
    status: str,
    catalogue: Catalogue | None = None,
    roster: Roster | None = None,
) -> Path:
    """Write the 回执 for one processed submission; returns the per-submission copy."""
    catalogue = catalogue or load_catalogue()
    roster = roster or load_roster()
    wb = Workbook()
    _summary_sheet(wb, arrival, result, status, catalogue, roster)
    _marked_copy(wb, arrival["archive_path"], result)
    paths = feedback_paths(out_dir, arrival["year"], result.unit_code, arrival["sha256"], roster)
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.part")
        wb.save(partial)
        partial.replace(path)
    return paths[-1]
