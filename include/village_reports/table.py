"""Finding the table in a workbook: which sheet, which row holds the headings, which columns.

Villages rename sheets, insert rows and move columns, so nothing here goes by position:
the table is the first sheet (visible ones first) with both a code heading and a value
heading in its first rows, and the header block above it is read by its labels.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import python_calamine

from village_reports import template as layout
from village_reports.model import Grid
from village_reports.number_parsing import normalise

HEADER_SEARCH_ROWS = 30
CODE_HEADINGS = {"指标代码", "代码", "指标编码"}
VALUE_HEADINGS = {"数值", "数量", "本年数值", "填报数值", "本年数"}
NOTE_HEADINGS = {"说明（备注）", "说明(备注)", "说明", "备注", "上报说明"}
_NOTE_LABELS = {normalise(h) for h in NOTE_HEADINGS}


def cell_ref(row: int, col: int) -> str:
    """0-based grid position -> 'F12'."""
    letters = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return f"{letters}{row + 1}"


def cell_text(value: Any) -> str:
    """A cell's content as the clerk sees it: stripped text, whole numbers without '.0'."""
    if value is None:
        return ""
    if type(value) is str:  # the common case, checked first: this runs for every cell
        return value.strip()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _label(value: Any) -> str:
    return normalise(cell_text(value)).rstrip(":")


@dataclass
class Table:
    """Where the figures stand in a workbook: the sheet, its cells, and the table's heading
    row and columns (0-based)."""

    sheet: str
    grid: Grid
    header_row: int
    code_col: int
    value_col: int
    note_col: int | None


def find_header(grid: Grid) -> tuple[int, int, int, int | None] | None:
    """(heading row, code column, value column, note column or None), or None when the
    sheet's first rows hold no code and value headings."""
    for r, row in enumerate(grid[:HEADER_SEARCH_ROWS]):
        labels = [_label(v) for v in row]
        code_col = next((c for c, t in enumerate(labels) if t in CODE_HEADINGS), None)
        value_col = next((c for c, t in enumerate(labels) if t in VALUE_HEADINGS), None)
        if code_col is not None and value_col is not None:
            note_col = next((c for c, t in enumerate(labels) if t in _NOTE_LABELS), None)
            return r, code_col, value_col, note_col
    return None


def _sheets(workbook: python_calamine.CalamineWorkbook) -> Iterator[tuple[str, Grid]]:
    """Worksheets, visible ones first (a clerk's renamed copy beats a hidden leftover)."""
    metas = sorted(workbook.sheets_metadata, key=lambda m: str(m.visible) != "SheetVisibleEnum.Visible")
    for meta in metas:
        if str(meta.typ) != "SheetTypeEnum.WorkSheet":
            continue
        sheet = workbook.get_sheet_by_name(meta.name)
        grid = [list(row) for row in sheet.to_python(skip_empty_area=False)]
        yield meta.name, grid


def locate_table(workbook: python_calamine.CalamineWorkbook) -> Table | None:
    """The first sheet that holds the table, or None."""
    # Merged cells are not filled in: a code merged over an inserted row would read twice.
    for name, grid in _sheets(workbook):
        found = find_header(grid)
        if found:
            header_row, code_col, value_col, note_col = found
            return Table(name, grid, header_row, code_col, value_col, note_col)
    return None


def header_values(table: Table) -> dict[str, str]:
    """Label -> value from the rows above the table ('单位代码：' | 'MT01', or in one cell)."""
    wanted = {layout.LABEL_UNIT_NAME, layout.LABEL_UNIT_CODE, layout.LABEL_YEAR, layout.LABEL_VERSION}
    found: dict[str, str] = {}
    for row in table.grid[: table.header_row]:
        for c, value in enumerate(row):
            text = normalise(cell_text(value))
            label, _, inline = text.partition(":")
            if label not in wanted or label in found:
                continue
            if inline:
                found[label] = inline
                continue
            following = next((cell_text(v) for v in row[c + 1 :] if cell_text(v)), "")
            if following:
                found[label] = following
    return found
