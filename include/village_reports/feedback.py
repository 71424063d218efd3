"""Feedback to the village clerk (回执): the verdict, every problem, and their own sheet marked up.

One workbook per processed submission, in Chinese. Text that came from a submission is
neutralised before it is written, so nothing a village typed can run as a formula.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import zip_longest
from pathlib import Path
from typing import Any

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils.cell import column_index_from_string, coordinate_from_string

from village_reports import settings
from village_reports.catalogue import Catalogue, load_catalogue
from village_reports.files import link_atomically, write_atomically
from village_reports.model import ACCEPTED, ACCEPTED_WITH_WARNINGS, HELD, REJECTED, Grid, Problem, ReadResult
from village_reports.problems import REQUIRED_MISSING
from village_reports.reader import read_grid
from village_reports.roster import Roster, load_roster
from village_reports.template import COL_CODE
from village_reports.xlsx import STYLE, Sheet, number_style, workbook_bytes

VERDICTS = {
    ACCEPTED: ("已接收", "00A65A", "数据已全部接收，谢谢！"),
    ACCEPTED_WITH_WARNINGS: (
        "已接收（有提示）",
        "F39C12",
        "数据已接收。请核实下表中的提示；如数字属实，可在原表“说明（备注）”栏写明原因，下次报送时一并说明。",
    ),
    REJECTED: (
        "退回",
        "DD4B39",
        "报表未被接收。请按下表逐项修改后重新报送；镇里收到新文件后会自动重新审核。"
        "如某个数字确实属实，请在该行“说明（备注）”栏写明原因后重新报送。",
    ),
    HELD: ("定稿后收到（暂不计入）", "F39C12", ""),  # its advice names who signed the year off: held_advice
}
PARTIAL_ADVICE = "已填的数字已接收；未填的指标按“未报告”统计，补齐后请将整张表重新报送，新文件将替换本次报送。"
SEVERITY_TEXT = {"error": "错误（须修改）", "warning": "提示（请核实）", "info": "说明"}
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


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
    """Where one submission's 回执 goes: ``<out>/feedback/<year>/MT02_白若村_2021年回执.xlsx``
    (the unit's latest), and a copy per submission under 全部回执/ so that none is overwritten.
    The names carry the unit's name and the year, as a clerk would name them."""
    unit = roster.get(unit_code) if unit_code else None
    folder = out_dir / "feedback" / str(year)
    if unit is None:
        return [folder / ALL_FEEDBACK_DIR / f"未识别_{year}年回执_{submission_id[:12]}.xlsx"]
    stem = f"{unit.code}_{_UNSAFE_IN_NAMES.sub('_', unit.name)}_{year}年回执"
    return [folder / f"{stem}.xlsx", folder / ALL_FEEDBACK_DIR / f"{stem}_{submission_id[:12]}.xlsx"]


_UNSAFE_IN_NAMES = re.compile(r'[\\/:*?"<>|\s]+')


def _rank(problem: Problem) -> int:
    """Errors that need a different number first, then blanks, then hints, then notes."""
    if problem.code == REQUIRED_MISSING:
        return 1
    return {"error": 0, "warning": 2, "info": 3}.get(problem.severity, 4)


def _ordered(problems: Sequence[Problem]) -> list[Problem]:
    return sorted(problems, key=_rank)


def row_ranges(cells: Sequence[str]) -> str:
    """Rows of ``cells`` as a clerk reads them: "8–12、15、20–54"."""
    rows = sorted({coordinate_from_string(cell)[1] for cell in cells if cell})
    spans: list[list[int]] = []
    for row in rows:
        if spans and row == spans[-1][1] + 1:
            spans[-1][1] = row
        else:
            spans.append([row, row])
    return "、".join(str(a) if a == b else f"{a}–{b}" for a, b in spans)


BLANK_TEXT = "未填（按未报告）"


def _blank_summary(blanks: Sequence[Problem]) -> str:
    """One line for every compulsory figure left blank, with the rows listed."""
    return (
        f"以下 {len(blanks)} 项没有填写，已按“未报告”统计，不计入合计：第 {row_ranges([p.cell for p in blanks])} 行"
        "（原表中已标出）。没有发生的请填 0；其余数字补齐后请将整张表重新报送，新文件将替换本次报送。"
    )


@dataclass(frozen=True)
class Standing:
    """Where a file stands: against the deadline, and among its unit's files for the year.
    Each file is a mapping with ``file_name`` and ``received_at`` (ISO 8601 UTC)."""

    deadline: str  # ISO 8601 UTC
    replaces: Mapping[str, Any] | None = None  # the earlier file whose figures this one replaces
    replaced_by: Mapping[str, Any] | None = None  # the later file whose figures replace this one's
    in_force: Mapping[str, Any] | None = None  # a rejected file: the file whose figures still stand
    latest: bool = True  # the last file received from its unit for the year: its 回执 is the unit's
    approved_by: str | None = None  # a held file: who signed its year off (审核定稿)
    approved_at: str | None = None  # and when, ISO 8601 UTC


def _file_text(file: Mapping[str, Any]) -> str:
    return f"{settings.local_time(file['received_at'])} 收到的“{neutralise(file['file_name'])}”"


def standings(
    files: Mapping[tuple[str, int], Sequence[Mapping[str, Any]]], deadline: Callable[[int], str]
) -> dict[str, Standing]:
    """The standing of every file listed, by submission id. ``files`` holds each unit's files
    for a year, oldest first, as the warehouse has them after a load; ``deadline`` gives a
    year's deadline. Each accepted file replaces the accepted one before it; a rejected
    file, or one held after its year was signed off, leaves the file in force standing
    (and a held file's mapping names the year's approval: ``approved_by``, ``approved_at``)."""
    found = {}
    for (_, year), listed in files.items():
        current = next((f for f in listed if f["is_current"]), None)
        accepted = [f for f in listed if f["status"] in (ACCEPTED, ACCEPTED_WITH_WARNINGS)]
        for file in listed:
            latest = file is listed[-1]
            if file in accepted:
                n = accepted.index(file)
                before = accepted[n - 1] if n else None
                after = accepted[n + 1] if n + 1 < len(accepted) else None
                found[file["submission_id"]] = Standing(deadline(year), before, after, latest=latest)
            else:
                signed = {"approved_by": file.get("approved_by"), "approved_at": file.get("approved_at")}
                found[file["submission_id"]] = Standing(
                    deadline(year), in_force=current, latest=latest, **(signed if file["status"] == HELD else {})
                )
    return found


def held_advice(year: int, standing: Standing | None, errors: int) -> str:
    """What a file received after its year was signed off is told: it is kept and checked,
    not counted for now, and what happens next."""
    by = standing.approved_by if standing else None
    when = settings.local_time(standing.approved_at) if standing and standing.approved_at else ""
    signed = f"（{neutralise(by)} 于 {when} 审核定稿）" if by else ""
    text = (
        f"本文件在 {year} 年度汇总数据审核定稿之后收到{signed}。本文件已接收、存档并照常审核，问题见下表，"
        "便于村里修改；其中的数字暂不计入汇总。"
        "镇统计员如重新开放该年度，此文件将在下一次运行时自动入库，无需重新报送；如需更正请联系镇统计员。"
    )
    if errors:  # reopened, it is judged again: with its errors it would be sent back then
        text += "表中标为“错误”的项须修改，否则重新开放后本文件仍会被退回。"
    return text


def standing_text(received_at: str, year: int, standing: Standing, counted: bool = True) -> str:
    """On time or late, with both times; and what replaced what. ``counted``: whether its
    figures go into the totals (not for a file held after its year was signed off)."""
    deadline = datetime.fromisoformat(standing.deadline).astimezone(settings.LOCAL_ZONE)
    received = datetime.fromisoformat(received_at).astimezone(settings.LOCAL_ZONE)
    due = f"{year} 年度报表截止时间 {deadline:%Y-%m-%d %H:%M}"
    if received <= deadline:
        text = f"按时报送（{due}）。"
    else:
        days = (received.date() - deadline.date()).days
        text = f"逾期报送：本文件 {received:%Y-%m-%d %H:%M} 收到，{due}，逾期 {days} 天。" + (
            "数字照常审核和汇总，报送情况中计为逾期。" if counted else "数字已审核，暂不计入汇总（见审核说明）。"
        )
    if standing.replaces:
        text += f"本文件替换了 {_file_text(standing.replaces)}，{year} 年度的数字以本文件为准。"
    if standing.replaced_by:
        text += f"本文件已被 {_file_text(standing.replaced_by)} 替换，其中的数字不再使用。"
    if standing.in_force:
        text += f"{year} 年度的数字仍以 {_file_text(standing.in_force)} 为准。"
    return text


def _summary_sheet(
    arrival: dict[str, Any],
    result: ReadResult,
    status: str,
    catalogue: Catalogue,
    roster: Roster,
    standing: Standing | None = None,
) -> Sheet:
    verdict, colour, advice = VERDICTS[status]
    unit = roster.get(result.unit_code or "")
    unit_text = (
        f"{unit.name}（{unit.code}）" if unit else neutralise(result.unit_name or result.unit_code or "未能识别")
    )
    errors = sum(p.severity == "error" for p in result.problems)
    blank = sum(p.code == REQUIRED_MISSING for p in result.problems)
    warnings = sum(p.severity == "warning" for p in result.problems) - blank
    filled = sum(r.value is not None for r in result.records)
    counted = f"共读取 {filled} 项数据" + (f"、{blank} 项未填" if blank else "")
    if status == HELD:
        advice = held_advice(arrival["year"], standing, errors)
    elif status != REJECTED and blank and not warnings:
        advice = PARTIAL_ADVICE
    explained = f"{counted}，发现 {errors} 个错误、{warnings} 个提示。{advice}"
    standing_line = (
        standing_text(arrival["received_at"], arrival["year"], standing, counted=status != HELD) if standing else ""
    )
    label = STYLE["label"]
    # labels span A:B and values C:E, so that neither runs into the other on paper
    rows: list[Sequence[Any]] = [
        [(f"{roster.place}村级报表 回执", STYLE["title"])],
        [("报送单位", label), "", unit_text, "", "", ("报告年度", label), (arrival["year"], STYLE["value"])],
        [
            ("报送文件", label),
            "",
            (neutralise(arrival["file_name"]), STYLE["value"]),
            "",
            "",
            ("收到时间", label),
            (settings.local_time(arrival["received_at"]), STYLE["value"]),
        ],
        [("审核结论", label), "", (verdict, _VERDICT_STYLES[colour])],
        [
            ("审核说明", label),
            "",
            (explained, STYLE["wrap"]),
        ],
        [
            ("报送情况", label),
            "",
            (standing_line, STYLE["wrap"]),
        ],
        [],
        [(heading, STYLE["header"]) for heading in HEADINGS],
    ]
    raw = {r.indicator_code: r.raw_text for r in result.records}
    wrap = STYLE["wrap"]
    # the verdict's explanation and the standing span C:G, the message column and four more
    heights = {5: max(30.0, _height(explained, _SPAN_WIDTH)), 6: _height(standing_line, _SPAN_WIDTH)}
    # the title and the verdict are set large; a long file name wraps within C:E
    heights |= {1: 24.0, 2: 18.0, 3: max(18.0, _height(arrival["file_name"], _FILE_WIDTH)), 4: 26.0}
    blanks = [p for p in result.problems if p.code == REQUIRED_MISSING]
    listed = [p for p in _ordered(result.problems) if p.code != REQUIRED_MISSING]
    first_hint = next((i for i, p in enumerate(listed) if _rank(p) > 1), len(listed))
    for n, problem in enumerate(listed, start=1):
        if blanks and n == first_hint + 1:
            rows.append(_blank_row(blanks, heights, len(rows) + 1))
        indicator = catalogue.get(problem.indicator_code) if problem.indicator_code else None
        # LibreOffice and WPS keep a row's height as written: give a long message its lines
        heights[len(rows) + 1] = _height(problem.message)
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
    if blanks and first_hint == len(listed):
        rows.append(_blank_row(blanks, heights, len(rows) + 1))
    if not result.problems:
        rows.append(["", "", "", "", "", "", "没有发现问题。"])
    return Sheet(
        "回执",
        rows,
        widths=(5, 14, 10, 7, 26, 14, MESSAGE_WIDTH + 2),
        heights=heights,
        merges=("A1:G1", "A2:B2", "C2:E2", "A3:B3", "C3:E3", "A4:B4", "C4:G4", "A5:B5", "C5:G5", "A6:B6", "C6:G6"),
        freeze_row=len(HEADING_ROWS),
        landscape=True,
    )


def _height(message: str, width: int | None = None) -> float:
    """A row's height for ``message`` wrapped at ``width`` Latin characters (the message column's)."""
    return LINE_HEIGHT * max(1, -(-display_width(message) // (width or MESSAGE_WIDTH)))


def _blank_row(blanks: Sequence[Problem], heights: dict[int, float], row: int) -> list[Any]:
    """The blanks as one row of the problem table, numbered "—" as it stands for many cells."""
    message = _blank_summary(blanks)
    heights[row] = _height(message)
    wrap = STYLE["wrap"]
    return [
        ("—", wrap),
        (BLANK_TEXT, STYLE["warning"]),
        (neutralise(blanks[0].sheet), wrap),
        (f"{len(blanks)} 格", wrap),
        (f"{len(blanks)} 项指标", wrap),
        ("（空）", wrap),
        (message, wrap),
    ]


HEADINGS = ("序号", "类别", "工作表", "单元格", "指标", "填写内容", "问题与修改方法")
# Printed landscape on A4 one page wide, the columns add up to 128 characters: more, and
# LibreOffice shrinks the text below what reads well on paper.
_SPAN_WIDTH = 86  # Latin characters across C:G (109 wide), less what wrapping at word ends loses
_FILE_WIDTH = 38  # across C:E (43 wide), where the file's name stands
MESSAGE_WIDTH = 50  # characters of Latin width in the message column; a Chinese one takes two
LINE_HEIGHT = 16.5  # points a wrapped line of 11-point Chinese text takes


def display_width(text: Any) -> int:
    """How wide a value prints, in Latin characters: a Chinese character takes two."""
    text = str(text)
    return len(text) + (len(text.encode("utf-8")) - len(text)) // 2


HEADING_ROWS = range(8)  # title, unit, file, verdict, summary, standing, blank, column headings
_VERDICT_STYLES = {"00A65A": STYLE["verdict_green"], "F39C12": STYLE["verdict_orange"], "DD4B39": STYLE["verdict_red"]}
_SEVERITY_STYLES = {"error": STYLE["error"], "warning": STYLE["warning"]}


def _marked_copy(
    archive_path: str, result: ReadResult, grid: Grid | None = None, catalogue: Catalogue | None = None
) -> Sheet | None:
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
    _number_styles(rows, result, by_cell, catalogue or load_catalogue())
    # printed like the template: one page wide, the table's headings on every page
    headings = next((n for n, row in enumerate(grid[:_HEADING_SEARCH], 1) if COL_CODE in row), 0)
    # each column as wide as its widest value, within reason, so that names are not cut; above
    # the table, a title or a hint runs on into the empty cells beside it and does not count
    above = [_boxed(row) for row in grid[: max(headings - 1, 0)]]
    widths = []
    for column in zip_longest(*above, *grid[len(above) :], fillvalue=""):
        texts = [value for value in column if value.__class__ is str]
        widths.append(max(8, min(display_width(max(texts, key=len)) + 2, 40)) if texts else 8)
    return Sheet("原表（标注）", rows, widths=widths, comments=comments, freeze_row=headings, landscape=True)


def _boxed(row: Sequence[Any]) -> list[Any]:
    """The cells of ``row`` that cannot run on into the next one (it is not empty)."""
    return [v if c + 1 < len(row) and row[c + 1] not in (None, "") else "" for c, v in enumerate(row)]


_HEADING_SEARCH = 30  # rows: where the clerk's table headings are looked for, to repeat them on each page


def _number_styles(rows: list[list[Any]], result: ReadResult, marked: Mapping[str, Any], catalogue: Catalogue) -> None:
    """The clerk's figures in the places the catalogue keeps (80.0 万元, as their template
    shows it), except in the cells marked as problems."""
    for record in result.records:
        if record.value is None or record.cell in marked or record.sheet != result.sheet:
            continue
        letters, number = coordinate_from_string(record.cell)
        column = column_index_from_string(letters) - 1
        row = rows[number - 1] if number <= len(rows) else ()
        indicator = catalogue.get(record.indicator_code)
        if indicator and column < len(row) and row[column].__class__ in (int, float):
            places = 0 if float(row[column]).is_integer() else indicator.decimals  # 289, never 289.0
            row[column] = (row[column], number_style(places))


_MAX_PADDING = 1_000  # rows: a problem cell below the clerk's table is shown, a stray one far away is not


def feedback_bytes(
    arrival: dict[str, Any],
    result: ReadResult,
    status: str,
    catalogue: Catalogue | None = None,
    roster: Roster | None = None,
    grid: Grid | None = None,
    standing: Standing | None = None,
) -> bytes:
    """The 回执 of one processed submission, as the bytes of an .xlsx file."""
    catalogue = catalogue or load_catalogue()
    roster = roster or load_roster()
    sheets = [_summary_sheet(arrival, result, status, catalogue, roster, standing)]
    marked = _marked_copy(arrival["archive_path"], result, grid, catalogue)
    if marked is not None:
        sheets.append(marked)
    return workbook_bytes(sheets, author=roster.township.full_name or roster.place)


def write_feedback(
    out_dir: Path,
    arrival: dict[str, Any],
    result: ReadResult,
    status: str,
    catalogue: Catalogue | None = None,
    roster: Roster | None = None,
    grid: Grid | None = None,
    standing: Standing | None = None,
    latest: bool = True,
) -> Path:
    """Write the 回执 for one processed submission; returns the per-submission copy.
    ``latest`` also names it the unit's latest 回执 (not when an earlier one is rewritten)."""
    roster = roster or load_roster()
    data = feedback_bytes(arrival, result, status, catalogue, roster, grid, standing)
    paths = feedback_paths(out_dir, arrival["year"], result.unit_code, arrival["submission_id"], roster)
    *names, kept = paths
    write_atomically(kept, data)
    for path in names if latest else ():  # the same file: a second name, not a second write
        link_atomically(kept, path)
    return kept


def name_latest(out_dir: Path, file: Mapping[str, Any], roster: Roster) -> bool:
    """Make ``file``'s 回执 (``year``, ``unit_code``, ``submission_id``) its unit's latest
    again, as it was written: a second name, no second write. False, and nothing done,
    when it is not written yet: ``write_feedback`` names it the latest when it writes it."""
    *names, kept = feedback_paths(out_dir, file["year"], file["unit_code"], file["submission_id"], roster)
    if not kept.exists():
        return False
    for path in names:
        link_atomically(kept, path)
    return True
