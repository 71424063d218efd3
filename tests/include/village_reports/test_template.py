from pathlib import Path

import pytest
from openpyxl import load_workbook

from village_reports.catalogue import Catalogue
from village_reports.reader import read_workbook
from village_reports.roster import Roster
from village_reports.samples import sample_values
from village_reports.template import (
    COL_VALUE,
    COLUMNS,
    DATA_SHEET,
    HEADER_ROW,
    INSTRUCTIONS_SHEET,
    write_template,
)


def _value_column() -> int:
    return COLUMNS.index(COL_VALUE) + 1


@pytest.fixture
def blank(tmp_path: Path, roster: Roster) -> Path:
    return write_template(tmp_path, roster["MT02"], 2021)


def test_template_is_prefilled_with_unit_year_and_version(blank: Path, catalogue: Catalogue) -> None:
    ws = load_workbook(blank)[DATA_SHEET]
    header = {ws.cell(row=r, column=c).value for r in (2, 3) for c in range(1, 8)}
    assert {"白若村", "MT02", 2021, catalogue.template_version_for(2021)} <= header
    assert [ws.cell(row=HEADER_ROW, column=c).value for c in range(1, 8)] == list(COLUMNS)


def test_template_lists_exactly_the_units_indicators(blank: Path, catalogue: Catalogue) -> None:
    ws = load_workbook(blank)[DATA_SHEET]
    codes = [ws.cell(row=r, column=2).value for r in range(HEADER_ROW + 1, ws.max_row + 1)]
    village_codes = [i.code for i in catalogue.for_reporter("village")]
    assert [c for c in codes if c] == village_codes


def test_every_number_cell_has_type_and_range_validation_with_a_prompt(blank: Path, catalogue: Catalogue) -> None:
    ws = load_workbook(blank)[DATA_SHEET]
    validations = {}
    for dv in ws.data_validations.dataValidation:
        for cell_range in dv.sqref.ranges:
            validations[cell_range.coord] = dv
    for row in range(HEADER_ROW + 1, HEADER_ROW + 1 + len(catalogue.for_reporter("village"))):
        indicator = catalogue[ws.cell(row=row, column=2).value]
        dv = validations[ws.cell(row=row, column=_value_column()).coordinate]
        assert dv.type == ("whole" if indicator.type == "integer" else "decimal")
        assert (float(dv.formula1), float(dv.formula2)) == indicator.range
        assert dv.showInputMessage and indicator.name in dv.prompt
        assert dv.showErrorMessage and dv.error


def test_labels_are_locked_and_number_cells_are_not(blank: Path) -> None:
    ws = load_workbook(blank)[DATA_SHEET]
    assert ws.protection.sheet
    row = HEADER_ROW + 1
    assert ws.cell(row=row, column=2).protection.locked  # code
    assert ws.cell(row=row, column=3).protection.locked  # name
    assert not ws.cell(row=row, column=_value_column()).protection.locked


def test_template_has_instructions_in_chinese(blank: Path) -> None:
    wb = load_workbook(blank)
    assert INSTRUCTIONS_SHEET in wb.sheetnames
    text = "".join(str(c.value or "") for row in wb[INSTRUCTIONS_SHEET].iter_rows() for c in row)
    assert "没有发生的事项请填 0" in text and "MT02" in text


def test_township_template_lists_the_townships_own_indicators(
    tmp_path: Path, roster: Roster, catalogue: Catalogue
) -> None:
    path = write_template(tmp_path, roster.township, 2021)
    result = read_workbook(path)
    assert [r.indicator_code for r in result.records] == [i.code for i in catalogue.for_reporter("township")]
    assert all(r.value is None for r in result.records)


@pytest.mark.parametrize("year", [2019, 2021])
def test_round_trip_generate_fill_read_gives_the_same_values(make_workbook, roster: Roster, year: int) -> None:
    values = sample_values(year)
    for unit in roster.units:
        path = make_workbook(unit.code, year, values=values[unit.code], name=f"{unit.code}_{year}.xlsx")
        result = read_workbook(path)
        assert result.problems == []
        assert (result.unit_code, result.year) == (unit.code, year)
        assert result.values() == pytest.approx(values[unit.code])


def test_the_template_version_follows_the_year(tmp_path: Path, roster: Roster, catalogue: Catalogue) -> None:
    """A 2022 template says 2022.1; the reader takes it as current for 2022, and last
    year's template on a 2022 report as an old one."""
    path = write_template(tmp_path, roster["MT02"], 2022)
    ws = load_workbook(path)[DATA_SHEET]
    header = {ws.cell(row=r, column=c).value for r in (2, 3) for c in range(1, 8)}
    assert catalogue.template_version_for(2022) == "2022.1" and "2022.1" in header
    assert not [p for p in read_workbook(path).problems if p.code.startswith("template.")]
    assert catalogue.template_status("2021.1", 2022) == "old"
    assert catalogue.template_status("2022.1", 2022) == "current"
    assert catalogue.template_status("2019.1", 2021) == "old"
    assert catalogue.template_status("2023.1", 2022) == "unknown"
    assert catalogue.template_status("9.9", 2022) == "unknown"


def test_a_2022_report_on_last_years_template_is_told_to_change(make_workbook) -> None:
    def last_years_template(wb) -> None:
        ws = wb[DATA_SHEET]
        for row in ws.iter_rows(max_row=4):
            for cell in row:
                if cell.value == "报告年度：":
                    ws.cell(row=cell.row, column=cell.column + 1).value = 2022

    path = make_workbook(year=2021, mutate=last_years_template)
    problems = [p for p in read_workbook(path).problems if p.code.startswith("template.")]
    assert [p.code for p in problems] == ["template.version_old"]
    assert "2021.1" in problems[0].message and "2022.1" in problems[0].message
