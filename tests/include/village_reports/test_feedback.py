from pathlib import Path

import openpyxl

from village_reports.feedback import feedback_paths, neutralise, write_feedback
from village_reports.reader import read_workbook


def test_neutralise_formula_like_text() -> None:
    assert neutralise("=1+1") == "'=1+1"
    assert neutralise("@SUM(A1)") == "'@SUM(A1)"
    assert neutralise("正常文字") == "正常文字"
    assert neutralise(12.5) == 12.5
    assert neutralise("a\x07b") == "ab"  # control characters a workbook cannot hold


def test_feedback_paths_keep_every_submission(roster, tmp_path: Path) -> None:
    latest, copy = feedback_paths(tmp_path, 2021, "MT01", "ab" * 32, roster)
    assert latest.name == "MT01.xlsx" and copy.name == "MT01_" + "ab" * 6 + ".xlsx"
    assert [p.name for p in feedback_paths(tmp_path, 2021, "../../x", "cd" * 32, roster)] == [
        "未识别_" + "cd" * 6 + ".xlsx"
    ]


def test_feedback_has_verdict_problems_and_marked_copy(make_workbook, tmp_path: Path) -> None:
    def mutate(wb) -> None:
        ws = wb["填报表"]
        ws["F7"] = "很多"

    path = make_workbook(mutate=mutate)
    result = read_workbook(path)
    arrival = {
        "year": 2021,
        "file_name": path.name,
        "received_at": "2022-02-01T02:00:00+00:00",
        "archive_path": str(path),
        "sha256": "e" * 64,
    }
    written = write_feedback(tmp_path, arrival, result, "rejected")
    wb = openpyxl.load_workbook(written)
    summary = wb["回执"]
    assert summary["C4"].value == "退回"
    assert summary["C3"].value == path.name and summary["G3"].value == "2022-02-01 10:00"
    rows = [[c.value for c in row] for row in summary.iter_rows(min_row=8)]
    assert rows[0][2:5] == ["填报表", "F7", "REV01 低保救助对象"] and "无法识别为数字" in rows[0][6]
    marked = wb["原表（标注）"]
    assert marked["F7"].value == "很多" and marked["F7"].comment and "无法识别" in marked["F7"].comment.text
    assert marked["F7"].fill.fgColor.rgb.endswith("F4CCCC")


def test_long_messages_and_names_print_whole(make_workbook, tmp_path: Path) -> None:
    """LibreOffice and WPS print a row at the height it is written: a long message gets
    its lines, and the clerk's columns are as wide as their widest text."""
    path = make_workbook(
        mutate=lambda wb: wb["填报表"].__setitem__("F7", "很多很多很多很多很多很多很多很多很多很多很多很多很多")
    )
    result = read_workbook(path)
    arrival = {"year": 2021, "file_name": path.name, "received_at": "2022-02-01T02:00:00+00:00"}
    wb = openpyxl.load_workbook(
        write_feedback(tmp_path, {**arrival, "archive_path": str(path), "sha256": "f" * 64}, result, "rejected")
    )
    summary, marked = wb["回执"], wb["原表（标注）"]
    assert summary.row_dimensions[8].height >= 30  # the message takes two lines or more
    names = max(marked.column_dimensions[c].width for c in "ABCDEFG")
    assert names >= 20  # indicator names such as “小额信贷发放金额” are not cut to 14 characters
