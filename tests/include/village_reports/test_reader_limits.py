"""Issue 15: a stray value far out in a sheet, and a percentage typed as 85% in Excel."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from village_reports.reader import read_workbook
from village_reports.template import COL_CODE, COL_VALUE, COLUMNS, DATA_SHEET

VALUE_COL = COLUMNS.index(COL_VALUE) + 1
CODE_COL = COLUMNS.index(COL_CODE) + 1
MEMORY_LIMIT = 2 * 1024**3

_READ = """
import json, sys
from village_reports.reader import read_workbook
result = read_workbook(sys.argv[1])
print(json.dumps([[p.code, p.message] for p in result.problems], ensure_ascii=False))
"""


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def read_in_subprocess(path: Path) -> list[list[str]]:
    """A regression aborts calamine (SIGABRT) or eats GBs: it must fail this test, not kill pytest."""
    done = subprocess.run(
        [sys.executable, "-c", _READ, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_limit_memory,
        check=False,
    )
    assert done.returncode == 0, f"reader died ({done.returncode}): {done.stderr[-2000:]}"
    return json.loads(done.stdout.splitlines()[-1])


def put(cell: str, value: object):
    def mutate(wb: Workbook) -> None:
        wb[DATA_SHEET][cell] = value

    return mutate


def rewrite_sheet(path: Path, member: str, edit) -> None:
    """Rewrite one XML part of a saved workbook (what openpyxl cannot write: no <dimension>,
    a lying one, cells without r=)."""
    with zipfile.ZipFile(path) as archive:
        parts = {info.filename: archive.read(info) for info in archive.infolist()}
    parts[member] = edit(parts[member].decode()).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            archive.writestr(name, content)


def _drop_dimension(xml: str) -> str:
    start = xml.index("<dimension")
    return xml[:start] + xml[xml.index("/>", start) + 2 :]


def _lying_dimension(xml: str) -> str:
    start = xml.index("<dimension")
    return xml[:start] + '<dimension ref="A1:B2"/>' + xml[xml.index("/>", start) + 2 :]


# ---- a value far out: calamine would build a dense grid up to it ------------------------


@pytest.mark.parametrize("cell", ["XFD1048576", "Z1048576", "G1048576", "XFD200"])
def test_a_value_far_out_is_refused_unread(make_workbook, cell: str) -> None:
    problems = read_in_subprocess(make_workbook(mutate=put(cell, 1)))
    assert [code for code, _ in problems] == ["file.too_large_area"]
    assert cell in problems[0][1]


@pytest.mark.parametrize("edit", [_drop_dimension, _lying_dimension], ids=["no_dimension", "lying_dimension"])
def test_the_cells_count_not_the_dimension(make_workbook, edit) -> None:
    path = make_workbook(mutate=put("XFD1048576", 1))
    rewrite_sheet(path, "xl/worksheets/sheet1.xml", edit)
    assert "<dimension" not in zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml").decode() or (
        edit is _lying_dimension
    )
    assert [code for code, _ in read_in_subprocess(path)] == ["file.too_large_area"]


def test_a_cell_without_r_is_placed_by_its_row(make_workbook) -> None:
    def edit(xml: str) -> str:
        xml = _drop_dimension(xml)
        return xml.replace("</sheetData>", '<row r="1048576"><c><v>1</v></c></row></sheetData>')

    path = make_workbook()
    rewrite_sheet(path, "xl/worksheets/sheet1.xml", edit)
    problems = read_in_subprocess(path)
    assert [code for code, _ in problems] == ["file.too_large_area"]
    assert "1048576 行" in problems[0][1]


def test_other_sheets_count_too(make_workbook) -> None:
    def mutate(wb: Workbook) -> None:
        wb.create_sheet("草稿")["XFD1048576"] = "x"

    assert [code for code, _ in read_in_subprocess(make_workbook(mutate=mutate))] == ["file.too_large_area"]


def test_a_styled_empty_cell_far_out_is_harmless(make_workbook) -> None:
    """calamine skips cells without a value, so a formatted but empty cell does not count."""

    def edit(xml: str) -> str:
        return _lying_dimension(xml).replace(
            "</sheetData>", '<row r="1048576"><c r="XFD1048576" s="1"/></row></sheetData>'
        )

    path = make_workbook()
    rewrite_sheet(path, "xl/worksheets/sheet1.xml", edit)
    assert read_in_subprocess(path) == []


def test_a_stray_value_near_the_table_still_reads(make_workbook) -> None:
    result = read_workbook(make_workbook(mutate=put("AB300", "备用")))
    assert "file.too_large_area" not in [p.code for p in result.problems]
    assert result.values()


# ---- a percentage typed as 85% ----------------------------------------------------------


def _value_cell(wb: Workbook, code: str):
    ws = wb[DATA_SHEET]
    row = next(r for r in range(1, ws.max_row + 1) if ws.cell(row=r, column=CODE_COL).value == code)
    return ws.cell(row=row, column=VALUE_COL)


def set_percent(code: str, value: float, number_format: str):
    def mutate(wb: Workbook) -> None:
        cell = _value_cell(wb, code)
        cell.value = value
        cell.number_format = number_format

    return mutate


@pytest.mark.parametrize(
    ("stored", "number_format", "expected"), [(0.85, "0%", 85), (0.725, "0.0%", 72.5), (1, "0%", 100)]
)
def test_percent_formatted_cell_reads_as_percent(make_workbook, stored: float, number_format: str, expected) -> None:
    result = read_workbook(make_workbook(unit_code="MT00", mutate=set_percent("SAF08", stored, number_format)))
    assert result.values()["SAF08"] == expected
    notes = [p for p in result.problems if p.code == "cell.percent_format"]
    assert len(notes) == 1
    assert notes[0].severity == "info"
    assert notes[0].indicator_code == "SAF08"
    assert f"{expected}%" in notes[0].message


@pytest.mark.parametrize(("stored", "number_format"), [(0.85, "General"), (0.85, '0.00"%"'), (85, "General")])
def test_other_formats_are_read_as_stored(make_workbook, stored: float, number_format: str) -> None:
    result = read_workbook(make_workbook(unit_code="MT00", mutate=set_percent("SAF08", stored, number_format)))
    assert result.values()["SAF08"] == stored
    assert "cell.percent_format" not in [p.code for p in result.problems]


def test_percent_typed_as_text(make_workbook) -> None:
    result = read_workbook(make_workbook(unit_code="MT00", mutate=set_percent("SAF08", "85%", "@")))
    assert result.values()["SAF08"] == 85
    assert [p.code for p in result.problems] == ["cell.text_number"]
