"""The Excel template (填报模板) each unit fills in, built from the catalogue with openpyxl.

The layout constants here are the contract the reader relies on: labels, not positions,
so a clerk who inserts rows or renames the sheet still sends a readable workbook.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from village_reports.catalogue import Catalogue, Indicator, load_catalogue
from village_reports.roster import Unit

DATA_SHEET = "填报表"
INSTRUCTIONS_SHEET = "填报说明"

# Header labels: the reader finds each value to the right of its label.
LABEL_UNIT_NAME = "填报单位"
LABEL_UNIT_CODE = "单位代码"
LABEL_YEAR = "报告年度"
LABEL_VERSION = "模板版本"

# Table columns: the reader finds them by these headings.
COLUMNS = ("序号", "指标代码", "指标名称", "计量单位", "报告板块", "数值", "说明（备注）")
COL_CODE, COL_VALUE, COL_NOTE = "指标代码", "数值", "说明（备注）"
HEADER_ROW = 5
FIRST_DATA_ROW = HEADER_ROW + 1
FOOTER_LABELS = ("单位负责人", "填表人", "联系电话", "报出日期")

_THIN = Side(style="thin", color="999999")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")
_INPUT_FILL = PatternFill("solid", fgColor="FFF2CC")
_UNLOCKED = Protection(locked=False)


def template_file_name(unit: Unit, year: int) -> str:
    return f"{unit.code}_{unit.name}_{year}.xlsx"


def _number_format(ind: Indicator) -> str:
    return "0" if ind.decimals == 0 else "0." + "0" * ind.decimals


def _range_text(ind: Indicator) -> str:
    low, high = (f"{x:g}" for x in ind.range)
    return f"{low}–{high}"


def _validation(ind: Indicator) -> DataValidation:
    kind = "whole" if ind.type == "integer" else "decimal"
    low, high = (f"{x:g}" for x in ind.range)
    kind_text = "整数" if ind.type == "integer" else "数字"
    dv = DataValidation(
        type=kind,
        operator="between",
        formula1=low,
        formula2=high,
        allow_blank=True,
        showInputMessage=True,
        showErrorMessage=True,
        promptTitle=ind.code,
        prompt=(
            f"{ind.name}（{ind.unit}）：请填写{_range_text(ind)}之间的{kind_text}。没有发生请填0，留空表示未报告。"
        )[:250],
        errorTitle="数值不符合要求",
        error=f"{ind.name}应为{_range_text(ind)}之间的{kind_text}（单位：{ind.unit}）。",
    )
    return dv


def _instructions(ws: Worksheet, unit: Unit, year: int, catalogue: Catalogue) -> None:
    lines = [
        f"毛田镇{year}年度统计报表 填报说明",
        "",
        f"1. 本表由{unit.name}（单位代码 {unit.code}）填写，报告年度为{year}年，"
        f"模板版本 {catalogue.template_version}。",
        "2. 只在“填报表”黄色的“数值”列填写数字，不要填写单位、文字或“约”“余”等字样。",
        "3. 没有发生的事项请填 0；留空表示“未报告”，镇里会视为缺报。",
        "4. 请不要删除、调换或改动指标代码、指标名称和计量单位；不要插入合计行。",
        "5. 数值确实异常但属实时，请在“说明（备注）”列写明原因，镇里核实后接收。",
        "6. 金额以“万元”为单位时，请按万元填写（例如 784.5），不要换算成元。",
        "7. 填好后请在表尾签署单位负责人、填表人、联系电话和报出日期，保存为 .xlsx 文件报送。",
        "8. 请使用镇里下发的最新模板；旧版模板可以读取，但会提示您更换。",
    ]
    for row, text in enumerate(lines, start=1):
        ws.cell(row=row, column=1, value=text)
    ws["A1"].font = Font(bold=True, size=14)
    ws.column_dimensions["A"].width = 100
    ws.protection.sheet = True


def build_workbook(
    unit: Unit,
    year: int,
    catalogue: Catalogue | None = None,
    values: Mapping[str, float | int | str | None] | None = None,
    notes: Mapping[str, str] | None = None,
) -> Workbook:
    """The blank template for one unit and year; ``values`` pre-fills it (samples, tests)."""
    catalogue = catalogue or load_catalogue()
    values = values or {}
    notes = notes or {}
    indicators = catalogue.for_reporter(unit.reporter)

    wb = Workbook()
    ws = wb.active
    ws.title = DATA_SHEET
    kind_title = "镇本级" if unit.reporter == "township" else "村（居）"
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(COLUMNS))
    ws["A1"] = f"毛田镇{year}年度{kind_title}统计报表"
    ws["A1"].font = Font(bold=True, size=14)
    ws["A1"].alignment = Alignment(horizontal="center")
    for row, pairs in (
        (2, ((LABEL_UNIT_NAME, unit.name), (LABEL_UNIT_CODE, unit.code))),
        (3, ((LABEL_YEAR, year), (LABEL_VERSION, catalogue.template_version))),
    ):
        for col, (label, value) in zip((1, 4), pairs, strict=True):
            ws.cell(row=row, column=col, value=f"{label}：").font = Font(bold=True)
            ws.cell(row=row, column=col + 1, value=value)
    ws["A4"] = "请在黄色“数值”列填写；没有发生填 0，留空表示未报告。"
    ws["A4"].font = Font(italic=True, color="666666")

    for col, heading in enumerate(COLUMNS, start=1):
        cell = ws.cell(row=HEADER_ROW, column=col, value=heading)
        cell.font = Font(bold=True)
        cell.fill = _HEAD_FILL
        cell.border = _BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center")

    value_col = COLUMNS.index(COL_VALUE) + 1
    note_col = COLUMNS.index(COL_NOTE) + 1
    for offset, ind in enumerate(indicators):
        row = FIRST_DATA_ROW + offset
        cells = (offset + 1, ind.code, ind.name, ind.unit, catalogue.section(ind.section).name)
        for col, value in enumerate(cells, start=1):
            ws.cell(row=row, column=col, value=value).border = _BORDER
        value_cell = ws.cell(row=row, column=value_col, value=values.get(ind.code))
        value_cell.number_format = _number_format(ind)
        note_cell = ws.cell(row=row, column=note_col, value=notes.get(ind.code))
        for cell in (value_cell, note_cell):
            cell.protection = _UNLOCKED
            cell.fill = _INPUT_FILL
            cell.border = _BORDER
        dv = _validation(ind)
        ws.add_data_validation(dv)
        dv.add(value_cell)
    ws.cell(row=FIRST_DATA_ROW, column=value_col).comment = Comment(
        "只填数字。没有发生填 0，留空表示未报告。", "毛田镇人民政府"
    )

    footer_row = FIRST_DATA_ROW + len(indicators) + 1
    for index, label in enumerate(FOOTER_LABELS):
        col = 1 + index * 2
        ws.cell(row=footer_row, column=col, value=f"{label}：").font = Font(bold=True)
        ws.cell(row=footer_row, column=col + 1).protection = _UNLOCKED

    for col, width in enumerate((6, 10, 44, 10, 16, 14, 36), start=1):
        ws.column_dimensions[get_column_letter(col)].width = width
    ws.freeze_panes = ws.cell(row=FIRST_DATA_ROW, column=1)
    ws.protection.sheet = True
    ws.protection.formatColumns = False  # let clerks widen columns

    _instructions(wb.create_sheet(INSTRUCTIONS_SHEET), unit, year, catalogue)
    wb.properties.title = f"毛田镇{year}年度统计报表"
    wb.properties.subject = f"{unit.code} {unit.name}"
    wb.properties.keywords = f"template_version={catalogue.template_version}"
    wb.properties.creator = "毛田镇人民政府"
    return wb


def write_template(directory: Path, unit: Unit, year: int, catalogue: Catalogue | None = None) -> Path:
    """Save the blank template for one unit and year; returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / template_file_name(unit, year)
    build_workbook(unit, year, catalogue).save(path)
    return path
