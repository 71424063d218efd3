"""Read one submitted workbook into tidy records and a list of problems.

Tolerant by design: villages re-save the template in WPS or LibreOffice, type numbers as
text ('1,137', '１１３７', '约2000'), insert rows, merge cells and rename sheets. Whatever
cannot be read becomes a Problem with a Chinese message; this module never raises for a
bad file, so one village's file never stops the others.

The steps live in their own modules: ``file_safety`` refuses what must not be parsed,
``table`` finds the sheet, its header block and its columns, ``number_parsing`` reads one
cell's number. This module reads the header block and the rows into a ``ReadResult``.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import python_calamine

from village_reports import problems
from village_reports import template as layout
from village_reports.catalogue import Catalogue, load_catalogue
from village_reports.file_safety import check_file
from village_reports.model import Grid, Problem, ReadResult, Record
from village_reports.number_parsing import EXCEL_ERRORS, figure_text, normalise, parse_number
from village_reports.roster import load_roster
from village_reports.table import Table, cell_ref, cell_text, header_values, locate_table

# A percentage cell holding at most this is read through openpyxl to see whether it is
# %-formatted (85% is stored as 0.85); a larger number is a number of percent either way,
# and checking every file's formats would open each workbook twice.
PERCENT_FRACTION_MAX = 1.5
TOTAL_WORDS = ("合计", "总计", "小计")

_CODE_PATTERN = re.compile(r"^[A-Z]{2,4}\d{2,3}$")


# ---------------------------------------------------------------------------------------
# Header block: unit, year, template version


def _read_header(
    table: Table, result: ReadResult, catalogue: Catalogue, file_name: str, default_year: int | None
) -> None:
    header = header_values(table)
    found = result.problems
    result.unit_name = header.get(layout.LABEL_UNIT_NAME)
    code = normalise(header.get(layout.LABEL_UNIT_CODE, "")).upper() or None
    if code is None:
        guess = re.match(r"^([A-Z]{2}\d{2})[_\-\s]", unicodedata.normalize("NFKC", file_name).upper())
        if guess:
            code = guess.group(1)
            found.append(problems.make("meta.unit_code_missing", "from_file_name", unit_code=code, sheet=table.sheet))
        else:
            found.append(problems.make("meta.unit_code_missing", "unknown", sheet=table.sheet))
    result.unit_code = code

    year_text = normalise(header.get(layout.LABEL_YEAR, "")).removesuffix("年")
    if year_text.isdigit():
        result.year = int(year_text)
    elif default_year is not None:
        result.year = default_year
        found.append(problems.make("meta.year_missing", "assumed", year=default_year, sheet=table.sheet))
    else:
        found.append(problems.make("meta.year_missing", "unknown", sheet=table.sheet))

    version = header.get(layout.LABEL_VERSION)
    result.template_version = version
    # the version follows the report year: a 2022 report is filled in the 2022.1 template
    current = f"（{catalogue.template_version_for(result.year)}版）" if result.year else ""
    status = catalogue.template_status(version, result.year) if version is not None else None
    if version is None:
        found.append(problems.make("template.version_missing", current=current, sheet=table.sheet))
    elif status == "old":
        found.append(problems.make("template.version_old", version=version, current=current, sheet=table.sheet))
    elif status == "unknown":
        found.append(problems.make("template.version_unknown", version=version, current=current, sheet=table.sheet))


# ---------------------------------------------------------------------------------------
# Rows


def _unit_reporter(unit_code: str | None) -> str | None:
    unit = load_roster().get(unit_code or "")
    return unit.reporter if unit else None


def _read_rows(table: Table, result: ReadResult, catalogue: Catalogue) -> list[str]:
    """Records and problems for the table's rows; returns the cells of percentage indicators
    that hold a small number (0.85), which may be a %-formatted cell showing 85%."""
    percent_suspects: list[str] = []
    found = result.problems
    reporter = _unit_reporter(result.unit_code)
    seen: dict[str, str] = {}
    for r in range(table.header_row + 1, len(table.grid)):
        row = table.grid[r]
        code_raw = row[table.code_col] if table.code_col < len(row) else ""
        value_raw = row[table.value_col] if table.value_col < len(row) else ""
        code = normalise(cell_text(code_raw)).upper()
        value_ref = cell_ref(r, table.value_col)
        where = {"sheet": table.sheet, "cell": value_ref}
        if not code:
            row_text = "".join(cell_text(v) for v in row)
            if any(word in row_text for word in TOTAL_WORDS):
                found.append(problems.make("row.total_ignored", row=r + 1, **where))
            elif cell_text(value_raw):
                found.append(
                    problems.make("row.value_without_code", "no_code", row=r + 1, value=cell_text(value_raw), **where)
                )
            continue
        if code not in catalogue:
            if _CODE_PATTERN.match(code):
                found.append(problems.make("row.unknown_code", row=r + 1, code=code, **where))
            elif cell_text(value_raw):
                found.append(
                    problems.make("row.value_without_code", "not_a_code", row=r + 1, text=cell_text(code_raw), **where)
                )
            continue
        indicator = catalogue[code]
        if not indicator.is_filled_in or (reporter is not None and indicator.reporter != reporter):
            found.append(problems.make("row.not_for_this_unit", name=indicator.name, indicator_code=code, **where))
            continue
        if code in seen:
            found.append(
                problems.make(
                    "row.duplicate_code", name=indicator.name, first_cell=seen[code], indicator_code=code, **where
                )
            )
            continue
        seen[code] = value_ref
        parsed = parse_number(value_raw, indicator)
        if (
            indicator.type == "percentage"
            and (type(value_raw) is float or type(value_raw) is int)
            and 0 < abs(value_raw) <= PERCENT_FRACTION_MAX
        ):
            percent_suspects.append(value_ref)
        # placed where the cell stands: parse_number knows the content, not the place
        found.extend(Problem(*finding, indicator_code=code, **where) for finding in parsed.problems)
        note = cell_text(row[table.note_col]) if table.note_col is not None and table.note_col < len(row) else ""
        result.records.append(
            Record(
                unit_code=result.unit_code,
                year=result.year,
                indicator_code=code,
                value=parsed.value,
                raw_text=cell_text(value_raw),
                sheet=table.sheet,
                cell=value_ref,
                note=note,
            )
        )
    expected = catalogue.for_reporter(reporter) if reporter else ()
    for indicator in expected:
        if indicator.code not in seen:
            found.append(
                problems.make(
                    "row.missing_indicator", name=indicator.name, sheet=table.sheet, indicator_code=indicator.code
                )
            )
    return percent_suspects


def _is_percent_format(number_format: str) -> bool:
    """'0%', '0.0%', '[Red]0.00%': a % outside quoted text, escapes and [..] sections."""
    bare = re.sub(r'"[^"]*"|\\.|\[[^\]]*\]', "", number_format)
    return "%" in bare


def _percent_formatted(path: Path, sheet: str, refs: list[str]) -> set[str]:
    """Which of ``refs`` have a percent number format (calamine does not read formats)."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True)
        try:
            worksheet = workbook[sheet]
            return {ref for ref in refs if _is_percent_format(str(worksheet[ref].number_format or ""))}
        finally:
            workbook.close()
    except Exception:  # ruff: ignore[blind-except] - best effort; the value stays as calamine read it
        return set()


def _read_percent_formats(path: Path, result: ReadResult, catalogue: Catalogue, suspects: list[str]) -> None:
    """A percentage typed as 85% is stored as 0.85 in a %-formatted cell; the catalogue's
    percentages are numbers of percent (72.5 means 72.5%), so read it as 85. openpyxl opens
    the file only when a percentage cell holds such a small number, a few files a night."""
    if not suspects or result.sheet is None or path.suffix.lower() not in (".xlsx", ".xlsm"):
        return
    formatted = _percent_formatted(path, result.sheet, suspects)
    for index, record in enumerate(result.records):
        if record.cell not in formatted or record.value is None:
            continue
        value = round(record.value * 100, 10)
        shown = f"{figure_text(value)}%"
        result.records[index] = record._replace(value=value, raw_text=shown)
        result.problems.append(
            problems.make(
                "cell.percent_format",
                name=catalogue[record.indicator_code].name,
                stored=figure_text(record.value),
                shown=shown,
                sheet=result.sheet,
                cell=record.cell,
                indicator_code=record.indicator_code,
            )
        )


def _blank_cell_contents(path: Path, sheet: str, refs: set[str]) -> dict[str, tuple[str, str]]:
    """What calamine shows as blank in ``refs``: ref -> (formula, cached value) where either is set.

    calamine reads an error value (#REF!) and a never-calculated formula as an empty cell;
    openpyxl tells them apart. Only opened when an .xlsx has blank value cells.
    """
    from openpyxl import load_workbook

    found: dict[str, tuple[str, str]] = {}
    try:
        formulas = load_workbook(path, read_only=True, data_only=False)
        cached = load_workbook(path, read_only=True, data_only=True)
        try:
            for ref in refs:
                formula = formulas[sheet][ref].value
                value = cached[sheet][ref].value
                if formula is not None or value is not None:
                    found[ref] = (str(formula or ""), str(value or ""))
        finally:
            formulas.close()
            cached.close()
    except Exception:  # ruff: ignore[blind-except] - a best-effort explanation; the blank is already recorded
        return {}
    return found


def _explain_blank_cells(path: Path, result: ReadResult, catalogue: Catalogue) -> None:
    blanks = {r.cell: r for r in result.records if r.value is None}
    if not blanks or result.sheet is None or path.suffix.lower() not in (".xlsx", ".xlsm"):
        return
    contents = _blank_cell_contents(path, result.sheet, set(blanks))
    for ref, (formula, cached) in sorted(contents.items()):
        record = blanks[ref]
        where = {"sheet": result.sheet, "cell": ref, "indicator_code": record.indicator_code}
        name = catalogue[record.indicator_code].name
        if cached.upper() in EXCEL_ERRORS:
            result.problems.append(problems.make("cell.formula_error", name=name, error=cached, **where))
        elif formula.startswith("="):
            result.problems.append(problems.make("cell.formula_not_calculated", name=name, formula=formula, **where))
        index = result.records.index(record)
        result.records[index] = record._replace(raw_text=cached or formula)


# ---------------------------------------------------------------------------------------


def read_workbook(path: Path | str, catalogue: Catalogue | None = None, default_year: int | None = None) -> ReadResult:
    """Read one submitted workbook. Never raises for a bad file: problems say what went wrong."""
    return read_workbook_and_grid(path, catalogue, default_year)[0]


def read_workbook_and_grid(
    path: Path | str, catalogue: Catalogue | None = None, default_year: int | None = None
) -> tuple[ReadResult, Grid | None]:
    """``read_workbook``, and the cells of the sheet it read (None when it found no
    table): the 回执 shows them to the clerk, and reading the file again costs more than
    keeping them."""
    path = Path(path)
    catalogue = catalogue or load_catalogue()
    result = ReadResult(source=str(path))
    refused = check_file(path)
    if refused is not None:
        result.problems.append(refused)
        return result, None
    try:
        # by path: calamine picks its parser from the extension, which is how it tells an
        # encrypted .xlsx (PasswordError) from a legacy .xls
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
    except python_calamine.PasswordError:
        result.problems.append(problems.make("file.password_protected"))
        return result, None
    except Exception as exc:  # ruff: ignore[blind-except] - any parser failure is this file's problem only
        result.problems.append(problems.make("file.unreadable", "parser", error=type(exc).__name__))
        return result, None
    try:
        table = locate_table(workbook)
    except Exception as exc:  # ruff: ignore[blind-except]
        result.problems.append(problems.make("file.unreadable", "content", error=type(exc).__name__))
        return result, None
    finally:
        workbook.close()
    if table is None:
        result.problems.append(problems.make("sheet.table_not_found"))
        return result, None
    result.sheet = table.sheet
    _read_header(table, result, catalogue, path.name, default_year)
    percent_suspects = _read_rows(table, result, catalogue)
    _read_percent_formats(path, result, catalogue, percent_suspects)
    _explain_blank_cells(path, result, catalogue)
    return result, table.grid


def read_grid(path: Path, sheet: str) -> Grid:
    """One sheet's cells from A1, as calamine reads them (for the marked-up copy in feedback)."""
    workbook = python_calamine.CalamineWorkbook.from_path(str(path))
    try:
        return [list(row) for row in workbook.get_sheet_by_name(sheet).to_python(skip_empty_area=False)]
    finally:
        workbook.close()
