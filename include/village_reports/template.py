"""The Excel template (填报模板) each unit fills in, built from the catalogue with openpyxl.

The layout constants here are the contract the reader relies on: labels, not positions,
so a clerk who inserts rows or renames the sheet still sends a readable workbook.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Border, PatternFill, Protection, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from village_reports.catalogue import Catalogue, Indicator, load_catalogue
from village_reports.roster import Roster, Unit, load_roster
from village_reports.xlsx import font, print_setup, use_font

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

# Printed on A4 portrait, one page wide: clerks fill it in by hand as often as on screen.
# Labels stand in the 指标代码 and 报告板块 columns, wide enough to hold them, with their
# values to the right; a name longer than its column wraps.
WIDTHS = (5, 10, 30, 7, 14, 11, 16)
LABEL_COLUMNS = (2, 5)
ROW_HEIGHT = 18.0  # points: room to write a figure by hand

_THIN = Side(style="thin", color="999999")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")
_INPUT_FILL = PatternFill("solid", fgColor="FFF2CC")
_UNLOCKED = Protection(locked=False)


def template_file_name(unit: Unit, year: int) -> str:
    return f"{unit.code}_{unit.name}_{year}.xlsx"


def _display_width(text: str) -> int:
    """Columns of Latin width the text takes: a Chinese character takes two."""
    return len(text) + (len(text.encode("utf-8")) - len(text)) // 2


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
            f"{ind.name}（{ind.measure_unit}）：请填写{_range_text(ind)}之间的{kind_text}。没有发生请填0，留空表示未报告。"
        )[:250],
        errorTitle="数值不符合要求",
        error=f"{ind.name}应为{_range_text(ind)}之间的{kind_text}（单位：{ind.measure_unit}）。",
    )
    return dv


def _instructions(ws: Worksheet, unit: Unit, year: int, catalogue: Catalogue, place: str) -> None:
    lines = [
        f"{place}{year}年度统计报表 填报说明",
        "",
        f"1. 本表由{unit.name}（单位代码 {unit.code}）填写，报告年度为{year}年，"
        f"模板版本 {catalogue.template_version_for(year)}。",
        "2. 只在“填报表”黄色的“数值”列填写数字，不要填写单位、文字或“约”“余”等字样。",
        "3. 没有发生的事项请填 0；留空表示“未报告”，镇里会视为缺报。",
        "4. 请不要删除、调换或改动指标代码、指标名称和计量单位；不要插入合计行。",
        "5. 数值确实异常但属实时，请在“说明（备注）”列写明原因，镇里核实后接收。",
        "6. 金额以“万元”为单位时，请按万元填写（例如 784.5），不要换算成元。",
        "7. 填好后请在表尾签署单位负责人、填表人、联系电话和报出日期，保存为 .xlsx 文件报送。",
        "8. 请使用镇里下发的最新模板；旧版模板可以读取，但会提示您更换。",
    ]
    # one column, no wider than the page: LibreOffice does not shrink a single column to fit
    width = 72
    wrap = Alignment(wrap_text=True, vertical="top")
    height = 18.0 * max(-(-_display_width(text) // (width - 4)) for text in lines) + 4  # as many lines as the longest
    for row, text in enumerate(lines, start=1):
        ws.cell(row=row, column=1, value=text).alignment = wrap
        ws.row_dimensions[row].height = height if text else 10
    ws["A1"].font = font(b=True, sz=16)
    ws.row_dimensions[1].height = 28
    ws.column_dimensions["A"].width = width
    print_setup(ws, title_rows="1:1", area=f"A1:A{len(lines)}")
    ws.protection.sheet = True


def build_workbook(
    unit: Unit,
    year: int,
    catalogue: Catalogue | None = None,
    values: Mapping[str, float | int | str | None] | None = None,
    notes: Mapping[str, str] | None = None,
    roster: Roster | None = None,
) -> Workbook:
    """The blank template for one unit and year; ``values`` pre-fills it (samples, tests).
    Titles name the township as the roster does."""
    catalogue = catalogue or load_catalogue()
    place = (roster or load_roster()).place
    values = values or {}
    notes = notes or {}
    indicators = catalogue.for_reporter(unit.reporter)

    wb = Workbook()
    use_font(wb)
    ws = wb.active
    ws.title = DATA_SHEET
    version = catalogue.template_version_for(year)
    kind_title = "镇本级" if unit.reporter == "township" else "村（居）"
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(COLUMNS))
    ws["A1"] = f"{place}{year}年度{kind_title}统计报表"
    ws["A1"].font = font(b=True, sz=16)
    ws["A1"].alignment = Alignment(horizontal="center", vertical="center")
    ws.row_dimensions[1].height = 28
    for row, pairs in (
        (2, ((LABEL_UNIT_NAME, unit.name), (LABEL_UNIT_CODE, unit.code))),
        (3, ((LABEL_YEAR, year), (LABEL_VERSION, version))),
    ):
        ws.row_dimensions[row].height = ROW_HEIGHT
        for col, (label, value) in zip(LABEL_COLUMNS, pairs, strict=True):
            ws.cell(row=row, column=col, value=f"{label}：").font = font(b=True)
            ws.cell(row=row, column=col + 1, value=value).alignment = Alignment(horizontal="left")
    ws["A4"] = "请在黄色“数值”列填写；没有发生填 0，留空表示未报告。"
    ws["A4"].font = font(i=True, color="666666")

    for col, heading in enumerate(COLUMNS, start=1):
        cell = ws.cell(row=HEADER_ROW, column=col, value=heading)
        cell.font = font(b=True)
        cell.fill = _HEAD_FILL
        cell.border = _BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    ws.row_dimensions[HEADER_ROW].height = 20

    value_col = COLUMNS.index(COL_VALUE) + 1
    note_col = COLUMNS.index(COL_NOTE) + 1
    name_width = WIDTHS[COLUMNS.index("指标名称")] - 2
    centred, wrapped = Alignment(horizontal="center", vertical="center"), Alignment(vertical="center", wrap_text=True)
    for offset, ind in enumerate(indicators):
        row = FIRST_DATA_ROW + offset
        cells = (offset + 1, ind.code, ind.name, ind.measure_unit, catalogue.section(ind.section).name)
        for col, value in enumerate(cells, start=1):
            cell = ws.cell(row=row, column=col, value=value)
            cell.border = _BORDER
            cell.alignment = wrapped if col == 3 else centred if col in (1, 4) else Alignment(vertical="center")
        value_cell = ws.cell(row=row, column=value_col, value=values.get(ind.code))
        value_cell.number_format = ind.input_format
        value_cell.alignment = Alignment(vertical="center")
        note_cell = ws.cell(row=row, column=note_col, value=notes.get(ind.code))
        note_cell.alignment = wrapped
        for cell in (value_cell, note_cell):
            cell.protection = _UNLOCKED
            cell.fill = _INPUT_FILL
            cell.border = _BORDER
        # LibreOffice and WPS print a row at the height written: a long name gets its lines
        lines = -(-_display_width(ind.name) // name_width)
        ws.row_dimensions[row].height = max(ROW_HEIGHT, 14.0 * lines + 2)
        dv = _validation(ind)
        ws.add_data_validation(dv)
        dv.add(value_cell)
    ws.cell(row=FIRST_DATA_ROW, column=value_col).comment = Comment(
        "只填数字。没有发生填 0，留空表示未报告。", f"{place}人民政府"
    )

    # a signature line a row, labelled in the 指标名称 column and written across 计量单位 and
    # 报告板块: nothing below the table stands in the 指标代码 or 数值 columns, where the
    # reader would take it for a code or a figure
    footer_row = FIRST_DATA_ROW + len(indicators) + 1
    line = Border(bottom=_THIN)
    for row, label in enumerate(FOOTER_LABELS, start=footer_row):
        cell = ws.cell(row=row, column=3, value=f"{label}：")
        cell.font, cell.alignment = font(b=True), Alignment(horizontal="right", vertical="bottom")
        ws.merge_cells(start_row=row, start_column=4, end_row=row, end_column=5)
        for col in (4, 5):
            ws.cell(row=row, column=col).border = line
        ws.cell(row=row, column=4).protection = _UNLOCKED
        ws.row_dimensions[row].height = 22
    last_row = footer_row + len(FOOTER_LABELS) - 1

    for col, width in enumerate(WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(col)].width = width
    ws.freeze_panes = ws.cell(row=FIRST_DATA_ROW, column=1)
    last_col = get_column_letter(len(COLUMNS))
    print_setup(ws, title_rows=f"1:{HEADER_ROW}", area=f"A1:{last_col}{last_row}")
    ws.protection.sheet = True
    ws.protection.formatColumns = False  # let clerks widen columns

    _instructions(wb.create_sheet(INSTRUCTIONS_SHEET), unit, year, catalogue, place)
    wb.properties.title = f"{place}{year}年度统计报表"
    wb.properties.subject = f"{unit.code} {unit.name}"
    wb.properties.keywords = f"template_version={version}"
    wb.properties.creator = f"{place}人民政府"
    return wb


def write_template(directory: Path, unit: Unit, year: int, catalogue: Catalogue | None = None) -> Path:
    """Save the blank template for one unit and year; returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / template_file_name(unit, year)
    build_workbook(unit, year, catalogue).save(path)
    return path
