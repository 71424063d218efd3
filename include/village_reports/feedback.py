"""Feedback to the village clerk (回执): the verdict, every problem, and their own sheet marked up.

One workbook per processed submission, in Chinese. Text that came from a submission is
neutralised before it is written, so nothing a village typed can run as a formula.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import zip_longest
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils.cell import column_index_from_string, coordinate_from_string

from village_reports.catalogue import Catalogue, load_catalogue
from village_reports.files import link_atomically, write_atomically
from village_reports.reader import Grid, Problem, ReadResult, read_grid
from village_reports.roster import Roster, load_roster
from village_reports.xlsx import STYLE, Sheet, workbook_bytes

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
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
AUTHOR = "毛田镇人民政府"


def neutralise(value: Any) -> Any:
    """Text that a spreadsheet would take for a formula gets a leading apostrophe;
    control characters a workbook cannot hold are dropped."""
    if value.__class__ is not str:
        return value
    if not value.isprintable():  # the regex only where it can matter: it runs on every cell
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
    arrival: dict[str, Any],
    result: ReadResult,
    status: str,
    catalogue: Catalogue,
    roster: Roster,
) -> Sheet:
    verdict, colour, advice = VERDICTS[status]
    unit = roster.get(result.unit_code or "")
    unit_text = (
        f"{unit.name}（{unit.code}）" if unit else neutralise(result.unit_name or result.unit_code or "未能识别")
    )
    errors = sum(p.severity == "error" for p in result.problems)
    warnings = sum(p.severity == "warning" for p in result.problems)
    filled = sum(r.value is not None for r in result.records)
    label = STYLE["label"]
    # labels span A:B and values C:E, so that neither runs into the other on paper
    rows: list[Sequence[Any]] = [
        [("毛田镇村级报表 回执", STYLE["title"])],
        [("报送单位", label), "", unit_text, "", "", ("报告年度", label), arrival["year"]],
        [
            ("报送文件", label),
            "",
            neutralise(arrival["file_name"]),
            "",
            "",
            ("收到时间", label),
            _local_time(arrival["received_at"]),
        ],
        [("审核结论", label), "", (verdict, _VERDICT_STYLES[colour])],
        [
            ("审核说明", label),
            "",
            (f"共读取 {filled} 项数据，发现 {errors} 个错误、{warnings} 个提示。{advice}", STYLE["wrap"]),
        ],
        [],
        [(heading, STYLE["header"]) for heading in HEADINGS],
    ]
    raw = {r.indicator_code: r.raw_text for r in result.records}
    wrap = STYLE["wrap"]
    heights = {5: 48.0}
    for n, problem in enumerate(_ordered(result.problems), start=1):
        indicator = catalogue.get(problem.indicator_code) if problem.indicator_code else None
        # LibreOffice and WPS keep a row's height as written: give a long message its lines
        heights[len(rows) + 1] = 15.0 * max(1, -(-display_width(problem.message) // MESSAGE_WIDTH))
        rows.append(
            [
                (n, wrap),
                (SEVERITY_TEXT.get(problem.severity, problem.severity), _SEVERITY_STYLES.get(problem.severity, wrap)),
                (neutralise(problem.sheet), wrap),
                (problem.cell, wrap),
                (f"{indicator.code} {indicator.name}" if indicator else neutralise(problem.indicator_code), wrap),
                (neutralise(raw.get(problem.indicator_code, "")), wrap),
                (neutralise(problem.message), wrap),
            ]
        )
    if not result.problems:
        rows.append(["", "", "", "", "", "", "没有发现问题。"])
    return Sheet(
        "回执",
        rows,
        widths=(6, 14, 12, 8, 30, 16, MESSAGE_WIDTH + 2),
        heights=heights,
        merges=("A1:G1", "A2:B2", "C2:E2", "A3:B3", "C3:E3", "A4:B4", "C4:G4", "A5:B5", "C5:G5"),
        freeze_row=len(HEADING_ROWS),
        landscape=True,
    )


HEADINGS = ("序号", "类别", "工作表", "单元格", "指标", "填写内容", "问题与修改方法")
MESSAGE_WIDTH = 68  # characters of Latin width in the message column; a Chinese one takes two


def display_width(text: Any) -> int:
    """How wide a value prints, in Latin characters: a Chinese character takes two."""
    text = str(text)
    return len(text) + (len(text.encode("utf-8")) - len(text)) // 2


HEADING_ROWS = range(7)  # title, unit, file, verdict, summary, blank, column headings
_VERDICT_STYLES = {"00A65A": STYLE["verdict_green"], "F39C12": STYLE["verdict_orange"], "DD4B39": STYLE["verdict_red"]}
_SEVERITY_STYLES = {"error": STYLE["error"], "warning": STYLE["warning"]}


def _marked_copy(archive_path: str, result: ReadResult, grid: Grid | None = None) -> Sheet | None:
    """The clerk's own table, values only, with each problem cell shaded and commented;
    ``grid`` is the sheet as the reader saw it (without it, the file is read again)."""
    if result.sheet is None:
        return None  # nothing readable to show
    if grid is None:
        grid = read_grid(Path(archive_path), result.sheet)
    by_cell: dict[str, list[Problem]] = {}
    for problem in result.problems:
        if problem.cell and problem.sheet == result.sheet:
            by_cell.setdefault(problem.cell, []).append(problem)
    rows: list[list[Any]] = [[neutralise(v) for v in row] for row in grid]
    comments = {}
    for ref, problems in by_cell.items():
        letters, number = coordinate_from_string(ref)
        column = column_index_from_string(letters)
        if number > len(rows) + _MAX_PADDING:
            continue  # a cell far outside the table the clerk sent: listed on the first sheet only
        while len(rows) < number:
            rows.append([])
        row = rows[number - 1]
        row.extend([None] * (column - len(row)))
        style = _SEVERITY_STYLES.get(_ordered(problems)[0].severity)
        if style is not None:
            row[column - 1] = (row[column - 1], style)
        comments[ref] = "\n".join(neutralise(p.message) for p in problems)
    # each column as wide as its widest value, within reason, so that names are not cut
    widths = []
    for column in zip_longest(*grid, fillvalue=""):
        texts = [value for value in column if value.__class__ is str]
        widths.append(max(8, min(display_width(max(texts, key=len)) + 2, 40)) if texts else 8)
    return Sheet("原表（标注）", rows, widths=widths, comments=comments, landscape=True)


_MAX_PADDING = 1_000  # rows: a problem cell below the clerk's table is shown, a stray one far away is not


def feedback_bytes(
    arrival: dict[str, Any],
    result: ReadResult,
    status: str,
    catalogue: Catalogue | None = None,
    roster: Roster | None = None,
    grid: Grid | None = None,
) -> bytes:
    """The 回执 of one processed submission, as the bytes of an .xlsx file."""
    catalogue = catalogue or load_catalogue()
    roster = roster or load_roster()
    sheets = [_summary_sheet(arrival, result, status, catalogue, roster)]
    marked = _marked_copy(arrival["archive_path"], result, grid)
    if marked is not None:
        sheets.append(marked)
    return workbook_bytes(sheets, author=AUTHOR)


def write_feedback(
    out_dir: Path,
    arrival: dict[str, Any],
    result: ReadResult,
    status: str,
    catalogue: Catalogue | None = None,
    roster: Roster | None = None,
    grid: Grid | None = None,
) -> Path:
    """Write the 回执 for one processed submission; returns the per-submission copy."""
    roster = roster or load_roster()
    data = feedback_bytes(arrival, result, status, catalogue, roster, grid)
    paths = feedback_paths(out_dir, arrival["year"], result.unit_code, arrival["sha256"], roster)
    *latest, kept = paths
    write_atomically(kept, data)
    for path in latest:  # the unit's latest 回执 is the same file: a second name, not a second write
        link_atomically(kept, path)
    return kept
