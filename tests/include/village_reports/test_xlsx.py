"""The small .xlsx writer behind the 回执: what Excel, WPS and LibreOffice need to open it."""

from __future__ import annotations

import zipfile
from datetime import date, datetime
from io import BytesIO
from pathlib import Path

import openpyxl
import pytest

from village_reports.xlsx import STYLE, Sheet, workbook_bytes

from ...conftest import libreoffice_convert


def _sheet() -> Sheet:
    rows = [
        [("标题 & <说明>", STYLE["title"])],
        ["=1+1", "a\x07b", 12.5, 3, True, date(2021, 3, 31), datetime(2022, 1, 2, 8, 30)],
        [],
        ["", None, ("错误", STYLE["error"])],
    ]
    wide = [None] * 300 + ["第 301 列"]
    return Sheet("原表（标注）", [*rows, wide], widths=(6, 14), comments={"C4": "请填数字\n第二行"}, freeze_row=1)


def test_values_styles_and_comments_read_back() -> None:
    data = workbook_bytes([Sheet("回执", [["ok"]]), _sheet()], author="毛田镇人民政府")
    workbook = openpyxl.load_workbook(BytesIO(data))
    assert workbook.sheetnames == ["回执", "原表（标注）"]
    ws = workbook["原表（标注）"]
    assert ws["A1"].value == "标题 & <说明>" and ws["A1"].font.b and ws["A1"].font.name == "宋体"
    # text stays text, control characters go, numbers and flags keep their kinds
    assert [c.value for c in ws[2]][:7] == ["=1+1", "ab", 12.5, 3, True, "2021-03-31", "2022-01-02 08:30:00"]
    assert ws["A2"].data_type != "f"
    assert ws["C4"].value == "错误" and ws["C4"].fill.fgColor.rgb == "FFF4CCCC"
    assert ws["C4"].comment.text == "请填数字\n第二行" and ws["C4"].comment.author == "毛田镇人民政府"
    assert ws.cell(row=5, column=301).value == "第 301 列"
    assert ws.freeze_panes == "A2" and ws.print_title_rows == "$1:$1"
    assert ws.page_setup.paperSize == 9 and ws.page_setup.fitToWidth == 1


def test_the_zip_is_whole_and_the_same_for_the_same_content() -> None:
    first, second = workbook_bytes([_sheet()]), workbook_bytes([_sheet()])
    assert first == second  # a 回执's bytes depend on its content only
    with zipfile.ZipFile(BytesIO(first)) as archive:
        assert archive.testzip() is None
        assert "xl/comments1.xml" in archive.namelist()


@pytest.mark.libreoffice
def test_libreoffice_opens_it(tmp_path: Path) -> None:
    source = tmp_path / "回执.xlsx"
    source.write_bytes(workbook_bytes([Sheet("回执", [["审核结论", "退回"]]), _sheet()]))
    resaved = libreoffice_convert(source, "ods", tmp_path)
    assert resaved.exists() and resaved.stat().st_size > 1000
