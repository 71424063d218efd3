"""One test per tolerance: each workbook is built in the test, the way villages send them."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from village_reports.number_parsing import parse_number
from village_reports.reader import read_workbook
from village_reports.table import cell_ref
from village_reports.template import COL_CODE, COL_VALUE, COLUMNS, DATA_SHEET, INSTRUCTIONS_SHEET, LABEL_VERSION

from ...conftest import libreoffice_convert

VALUE_COL = COLUMNS.index(COL_VALUE) + 1
CODE_COL = COLUMNS.index(COL_CODE) + 1


def row_of(ws, code: str) -> int:
    return next(r for r in range(1, ws.max_row + 1) if ws.cell(row=r, column=CODE_COL).value == code)


def set_value(code: str, value: object):
    def mutate(wb: Workbook) -> None:
        ws = wb[DATA_SHEET]
        ws.cell(row=row_of(ws, code), column=VALUE_COL).value = value

    return mutate


def problem_codes(result) -> list[str]:
    return [p.code for p in result.problems]


# ---- numbers typed as text ------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected", "problem"),
    [
        ("1,137", 1137, "cell.text_number"),
        ("１１３７", 1137, "cell.text_number"),
        ("１，１３７", 1137, "cell.text_number"),
        ("1137人", 1137, "cell.text_number"),
        (" 1137 ", 1137, "cell.text_number"),
        ("约2000", 2000, "cell.approximate"),
        ("200余", 200, "cell.approximate"),
        ("200余人", 200, "cell.approximate"),
    ],
)
def test_numbers_typed_as_text(make_workbook, typed: str, expected: float, problem: str) -> None:
    result = read_workbook(make_workbook(mutate=set_value("REV01", typed)))
    assert result.values()["REV01"] == expected
    assert problem_codes(result) == [problem]
    assert result.problems[0].cell == next(r.cell for r in result.records if r.indicator_code == "REV01")
    assert typed.strip() in result.problems[0].message or typed in result.problems[0].message


def test_money_in_yuan_in_a_wan_yuan_cell_is_converted(make_workbook) -> None:
    result = read_workbook(make_workbook(mutate=set_value("REV04", "7845000元")))
    assert result.values()["REV04"] == pytest.approx(784.5)


def test_wan_suffix_multiplies(make_workbook) -> None:
    assert read_workbook(make_workbook(mutate=set_value("LIV08", "2.05万"))).values()["LIV08"] == 20500


@pytest.mark.parametrize("typed", ["很多", "1137/2", "二十", "1.2.3"])
def test_text_that_is_no_number_is_an_error_not_a_zero(make_workbook, typed: str) -> None:
    result = read_workbook(make_workbook(mutate=set_value("REV01", typed)))
    assert result.values()["REV01"] is None
    assert problem_codes(result) == ["cell.not_a_number"]
    assert result.problems[0].severity == "error" and typed in result.problems[0].message


def test_percent_sign_only_for_percentages(catalogue) -> None:
    assert parse_number("80%", catalogue["SAF08"]).value == 80
    assert parse_number("80%", catalogue["REV01"]).problems[0][0] == "cell.not_a_number"


# ---- blank is not zero ------------------------------------------------------------------


def test_blank_is_kept_apart_from_zero(make_workbook) -> None:
    def mutate(wb: Workbook) -> None:
        set_value("REV01", None)(wb)
        set_value("REV02", 0)(wb)

    values = read_workbook(make_workbook(mutate=mutate)).values()
    assert values["REV01"] is None  # not reported
    assert values["REV02"] == 0.0  # reported: none


# ---- formulas ---------------------------------------------------------------------------


def _store_cached_value(path: Path, ref: str, cached: str) -> None:
    """openpyxl writes formulas without results; add the result Excel would have saved."""
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    sheet = entries["xl/worksheets/sheet1.xml"].decode()
    sheet, count = re.subn(rf'(<c r="{ref}"[^>]*>\s*<f>[^<]*</f>)\s*<v\s*/?>(</v>)?', rf"\1<v>{cached}</v>", sheet)
    assert count == 1
    entries["xl/worksheets/sheet1.xml"] = sheet.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


def test_formula_reads_its_cached_value(make_workbook) -> None:
    path = make_workbook(mutate=set_value("REV01", "=100+37"))
    ref = next(r.cell for r in read_workbook(path).records if r.indicator_code == "REV01")
    _store_cached_value(path, ref, "137")
    result = read_workbook(path)
    assert result.values()["REV01"] == 137
    assert result.problems == []


def test_formula_never_calculated_is_an_error(make_workbook) -> None:
    result = read_workbook(make_workbook(mutate=set_value("REV01", "=100+37")))
    assert result.values()["REV01"] is None
    assert problem_codes(result) == ["cell.formula_not_calculated"]


@pytest.mark.parametrize("error", ["#REF!", "#DIV/0!", "#VALUE!"])
def test_formula_error_values(make_workbook, error: str) -> None:
    result = read_workbook(make_workbook(mutate=set_value("REV01", error)))
    assert problem_codes(result) == ["cell.formula_error"]
    assert error in result.problems[0].message


# ---- layout changes ---------------------------------------------------------------------


def test_inserted_and_blank_rows(make_workbook, sample_2021) -> None:
    def mutate(wb: Workbook) -> None:
        ws = wb[DATA_SHEET]
        ws.insert_rows(row_of(ws, "REV03"), amount=2)  # two blank rows mid-table
        ws.insert_rows(row_of(ws, "EFF15"))

    result = read_workbook(make_workbook(mutate=mutate))
    assert result.values() == pytest.approx(sample_2021["MT01"])
    assert result.problems == []
    assert (
        next(r.cell for r in result.records if r.indicator_code == "REV03") == "F11"
    )  # row 9, after two inserted rows


def test_inserted_row_with_a_value_but_no_code_is_reported(make_workbook) -> None:
    def mutate(wb: Workbook) -> None:
        ws = wb[DATA_SHEET]
        row = row_of(ws, "REV03")
        ws.insert_rows(row)
        ws.cell(row=row, column=3, value="其中：新增低保")
        ws.cell(row=row, column=VALUE_COL, value=12)

    result = read_workbook(make_workbook(mutate=mutate))
    assert problem_codes(result) == ["row.value_without_code"]
    assert "12" in result.problems[0].message


def test_total_row_is_ignored_and_said_so(make_workbook, sample_2021) -> None:
    def mutate(wb: Workbook) -> None:
        ws = wb[DATA_SHEET]
        last = row_of(ws, "EFF20")
        ws.cell(row=last + 1, column=3, value="合计")
        ws.cell(row=last + 1, column=VALUE_COL, value=99999)

    result = read_workbook(make_workbook(mutate=mutate))
    assert result.values() == pytest.approx(sample_2021["MT01"])
    assert problem_codes(result) == ["row.total_ignored"]


def test_merged_cells(make_workbook, sample_2021) -> None:
    def mutate(wb: Workbook) -> None:
        ws = wb[DATA_SHEET]
        ws.merge_cells("A2:B2")  # label spread over two cells, value moved right
        ws["C2"] = ws["B2"].value if ws["B2"].value else "鸣山村"
        row = row_of(ws, "REV05")
        ws.merge_cells(start_row=row, start_column=VALUE_COL, end_row=row, end_column=VALUE_COL + 1)
        name_row = row_of(ws, "REV07")
        ws.merge_cells(start_row=name_row, start_column=3, end_row=name_row + 1, end_column=3)

    result = read_workbook(make_workbook(mutate=mutate))
    assert result.values() == pytest.approx(sample_2021["MT01"])
    assert result.unit_code == "MT01"


def test_renamed_and_reordered_sheets(make_workbook, sample_2021) -> None:
    def mutate(wb: Workbook) -> None:
        wb[DATA_SHEET].title = "Sheet1"
        wb.move_sheet(INSTRUCTIONS_SHEET, offset=-1)

    result = read_workbook(make_workbook(mutate=mutate))
    assert result.sheet == "Sheet1"
    assert result.values() == pytest.approx(sample_2021["MT01"])
    assert all(r.sheet == "Sheet1" for r in result.records)


def test_duplicate_indicator_row_is_an_error(make_workbook) -> None:
    def mutate(wb: Workbook) -> None:
        ws = wb[DATA_SHEET]
        last = ws.max_row + 2
        ws.cell(row=last, column=CODE_COL, value="REV01")
        ws.cell(row=last, column=VALUE_COL, value=5)

    result = read_workbook(make_workbook(mutate=mutate))
    assert "row.duplicate_code" in problem_codes(result)


def test_deleted_indicator_row_is_reported_missing(make_workbook) -> None:
    def mutate(wb: Workbook) -> None:
        ws = wb[DATA_SHEET]
        ws.delete_rows(row_of(ws, "REV01"))

    result = read_workbook(make_workbook(mutate=mutate))
    assert "REV01" not in result.values()
    assert problem_codes(result) == ["row.missing_indicator"]


def test_unknown_code_and_another_reporters_indicator(make_workbook) -> None:
    def mutate(wb: Workbook) -> None:
        ws = wb[DATA_SHEET]
        last = ws.max_row + 2
        ws.cell(row=last, column=CODE_COL, value="REV99")
        ws.cell(row=last, column=VALUE_COL, value=1)
        ws.cell(row=last + 1, column=CODE_COL, value="FIN01")  # a township indicator
        ws.cell(row=last + 1, column=VALUE_COL, value=1)

    result = read_workbook(make_workbook(mutate=mutate))
    assert sorted(problem_codes(result)) == ["row.not_for_this_unit", "row.unknown_code"]


def test_moved_table_still_reads(make_workbook, sample_2021) -> None:
    def mutate(wb: Workbook) -> None:
        ws = wb[DATA_SHEET]
        ws.insert_rows(1, amount=3)
        ws.insert_cols(1)

    result = read_workbook(make_workbook(mutate=mutate))
    assert result.values() == pytest.approx(sample_2021["MT01"])
    assert next(r.cell for r in result.records if r.indicator_code == "FIN02") == "G9"


# ---- template version and header ----------------------------------------------------------


def _set_version(version: str | None):
    def mutate(wb: Workbook) -> None:
        ws = wb[DATA_SHEET]
        for row in ws.iter_rows(max_row=4):
            for cell in row:
                if cell.value == f"{LABEL_VERSION}：":
                    ws.cell(row=cell.row, column=cell.column + 1).value = version
                    if version is None:
                        cell.value = None

    return mutate


@pytest.mark.parametrize(
    ("version", "problem"),
    [(None, "template.version_missing"), ("2019.1", "template.version_old"), ("9.9", "template.version_unknown")],
)
def test_missing_old_or_unknown_template_version_is_a_warning(make_workbook, sample_2021, version, problem) -> None:
    result = read_workbook(make_workbook(mutate=_set_version(version)))
    assert problem_codes(result) == [problem]
    assert result.problems[0].severity == "warning"
    assert result.values() == pytest.approx(sample_2021["MT01"])


def test_header_label_and_value_in_one_cell(make_workbook) -> None:
    def mutate(wb: Workbook) -> None:
        ws = wb[DATA_SHEET]
        ws["D2"], ws["E2"] = "单位代码：MT01", None

    assert read_workbook(make_workbook(mutate=mutate)).unit_code == "MT01"


# ---- unreadable files never raise ------------------------------------------------------------


def test_text_file_renamed_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "MT01_2021.xlsx"
    path.write_text("鸣山村 低保 1137", encoding="utf-8")
    result = read_workbook(path)
    assert problem_codes(result) == ["file.not_a_workbook"]
    assert result.records == []


def test_corrupt_zip(make_workbook) -> None:
    path = make_workbook()
    path.write_bytes(path.read_bytes()[:2000])
    assert problem_codes(read_workbook(path)) == ["file.corrupt"]


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.xlsx"
    path.touch()
    assert problem_codes(read_workbook(path)) == ["file.empty"]


def test_workbook_without_the_table(tmp_path: Path) -> None:
    wb = Workbook()
    wb.active["A1"] = "随便写的表"
    path = tmp_path / "other.xlsx"
    wb.save(path)
    assert problem_codes(read_workbook(path)) == ["sheet.table_not_found"]


def test_cell_ref() -> None:
    assert [cell_ref(0, 0), cell_ref(11, 5), cell_ref(0, 26), cell_ref(1, 701)] == ["A1", "F12", "AA1", "ZZ2"]


# ---- other writers: legacy .xls, LibreOffice re-saves ------------------------------------------


def test_legacy_xls(tmp_path: Path, roster, catalogue, sample_2021) -> None:
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("填报表")
    sheet.write(1, 0, "填报单位：")
    sheet.write(1, 1, "鸣山村")
    sheet.write(1, 3, "单位代码：")
    sheet.write(1, 4, "MT01")
    sheet.write(2, 0, "报告年度：")
    sheet.write(2, 1, 2021)
    sheet.write(2, 3, "模板版本：")
    sheet.write(2, 4, catalogue.template_version_for(2021))
    for col, heading in enumerate(COLUMNS):
        sheet.write(4, col, heading)
    for offset, ind in enumerate(catalogue.for_reporter("village")):
        sheet.write(5 + offset, 1, ind.code)
        sheet.write(5 + offset, 2, ind.name)
        sheet.write(5 + offset, VALUE_COL - 1, sample_2021["MT01"][ind.code])
    path = tmp_path / "MT01_2021.xls"
    book.save(str(path))
    result = read_workbook(path)
    assert result.problems == []
    assert result.values() == pytest.approx(sample_2021["MT01"])


@pytest.mark.libreoffice
@pytest.mark.parametrize("target", ["xlsx", "xls", "ods"])
def test_resaved_by_libreoffice(make_workbook, tmp_path: Path, sample_2021, target: str) -> None:
    source = make_workbook(mutate=set_value("REV01", "=100+37"))  # LibreOffice calculates it
    result = read_workbook(libreoffice_convert(source, target, tmp_path / "resaved"))
    expected = dict(sample_2021["MT01"], REV01=137)
    assert result.unit_code == "MT01" and result.year == 2021
    assert [p for p in result.problems if p.severity != "info"] == []
    assert result.values() == pytest.approx(expected)
