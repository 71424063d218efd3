"""Years that hold less than a full set of figures, through every command and output:
a partly filled file, only files that were sent back, only 镇本级, and no file at all.
Each must end cleanly, say "no figure" where there is none, and never print None or nan."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import text

from village_reports import pipeline, settings, warehouse
from village_reports.__main__ import main
from village_reports.catalogue import load_catalogue
from village_reports.pages import dashboard
from village_reports.samples import write_samples
from village_reports.template import COL_CODE, COL_VALUE, COLUMNS, DATA_SHEET
from village_reports.totals import TownshipTotal, comparable, previous_year

YEAR = 2021


def _keep_only(prefix: str) -> Path:
    """The year's sample files, all but one unit's removed; that unit's file."""
    write_samples(settings.inbox_dir(), [YEAR])
    kept = None
    for path in sorted(settings.inbox_dir().glob(f"{YEAR}/*.xlsx")):
        if path.name.startswith(prefix):
            kept = path
        else:
            path.unlink()
    assert kept is not None
    return kept


def _edit(path: Path, edit: Callable[[list[openpyxl.cell.Cell]], None]) -> None:
    """``edit`` gets the value cells of the data sheet, in indicator order."""
    workbook = openpyxl.load_workbook(path)
    ws = workbook[DATA_SHEET]
    code_col, value_col = COLUMNS.index(COL_CODE) + 1, COLUMNS.index(COL_VALUE) + 1
    codes = {indicator.code for indicator in load_catalogue().indicators}
    coded = [r for r in range(1, ws.max_row + 1) if ws.cell(row=r, column=code_col).value in codes]
    edit([ws.cell(row=r, column=value_col) for r in coded])
    workbook.save(path)


def partial() -> str:
    """Five figures filled, the rest blank: accepted, the blanks counted as not reported."""

    def blank_after_five(cells: list) -> None:
        for cell in cells[5:]:
            cell.value = None

    _edit(_keep_only("MT02"), blank_after_five)
    return "accepted_with_warnings"


def only_rejected() -> str:
    """The year's one file is sent back: the year has files but no figure in force."""
    _edit(_keep_only("MT03"), lambda cells: setattr(cells[0], "value", "很多"))
    return "rejected"


def only_township() -> str:
    """Only 镇本级 has reported: no village figure at all."""
    _keep_only("MT00")
    return "accepted"


@pytest.mark.parametrize("scenario", [partial, only_rejected, only_township])
def test_every_command_and_output_handles_a_sparse_year(project: Path, scenario, capsys) -> None:
    status = scenario()
    lines = pipeline.run_ingest()
    assert [line["status"] for line in lines] == [status]
    summary = pipeline.finish_run([lines])
    assert len(summary["missing"][YEAR]) >= 18  # everyone else is named as missing
    result = pipeline.report_year(YEAR)
    assert result["outputs"]

    out = settings.output_dir() / str(YEAR)
    texts = {path.name: path.read_text(encoding="utf-8") for path in out.iterdir() if path.suffix in (".csv", ".md")}
    assert {"township_totals.csv", "annual_report.md", "submission_status.csv"} <= set(texts)
    for name, body in texts.items():
        assert "None" not in body and "nan" not in body, name
    report = texts["annual_report.md"]
    assert "暂无数据" in report or "未报" in report
    if scenario is partial:  # a figure from 1 unit of 18 is never passed off as the township's
        assert re.search(r"低保救助对象：\d+ 人（已报单位合计；应报18个单位，已报1个）", report), report
        assert "全镇共纳入低保救助对象" not in report and "全年未发生一例" not in report
    with (out / "township_totals.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows  # every indicator has a row, filled or not
    with (out / "submission_status.csv").open(encoding="utf-8-sig") as handle:
        status_rows = list(csv.reader(handle))
    assert all(not heading.isascii() for heading in status_rows[0])  # one language: the office's
    assert len(status_rows) == 20 and {row[0] for row in status_rows[1:]} == {f"MT{n:02d}" for n in range(19)}
    workbook = openpyxl.load_workbook(out / "township_totals.xlsx")
    for ws in workbook.worksheets:
        for row in ws.iter_rows(values_only=True):
            assert not any(isinstance(v, str) and v in ("None", "nan") for v in row), ws.title
    # 审核记录 gives the file's outcome as its 回执 does: a partial file is 已接收, not 发现问题
    page = (settings.output_dir() / "validation" / "index.html").read_text(encoding="utf-8")
    said = {"accepted_with_warnings": "已接收（有提示）", "rejected": "退回", "accepted": "已接收"}[status]
    assert re.search(rf"审核结论 <span class=\"(ok|bad)\">{re.escape(said)}</span>", page), page[:2000]
    assert "发现问题" not in page
    assert list((settings.output_dir() / "feedback" / str(YEAR)).rglob("*.xlsx"))

    capsys.readouterr()
    assert main(["status"]) == 0
    assert main(["summary", "--inbox", str(settings.inbox_dir())]) == 0
    printed = capsys.readouterr().out
    assert "None" not in printed and "nan" not in printed
    assert f"{YEAR}年：应报 19 个单位" in printed
    if scenario is partial:
        assert "（应报 18 个单位，已报 1 个）" in printed
    # the warehouse in use, PostgreSQL or SQLite, never a fixed path
    assert warehouse.get_engine().url.render_as_string(hide_password=True) in printed


def test_a_year_with_no_file_writes_nothing_and_says_so(project: Path, capsys) -> None:
    """The annual DAG for a year nobody has sent anything for (yet)."""
    write_samples(settings.inbox_dir(), [YEAR])
    assert pipeline.run_ingest(years=[YEAR + 1]) == []
    summary = pipeline.finish_run([[]])
    assert summary["files"] == 0 and summary["years"] == []
    assert pipeline.report_year(YEAR + 1)["outputs"] == []
    assert not (settings.output_dir() / str(YEAR + 1)).exists()
    capsys.readouterr()
    assert main(["status"]) == 1  # nothing in the warehouse yet
    assert "还没有" in capsys.readouterr().out


def test_a_partial_year_is_never_compared_with_a_full_one(project: Path) -> None:
    """Last year complete, this year one unit so far: the view year_over_year, the report,
    the workbook and the dashboard give no change, and the view and totals.comparable agree
    on every indicator."""
    write_samples(settings.inbox_dir(), [YEAR - 1])
    _keep_only("MT05")
    pipeline.finish_run([pipeline.run_ingest()])
    for year in (YEAR - 1, YEAR):
        pipeline.report_year(year)

    engine = warehouse.get_engine()
    with engine.connect() as connection:
        stored = {
            (row.year, row.indicator_code): row
            for row in connection.execute(text("SELECT * FROM township_totals")).mappings()
        }
        view = list(connection.execute(text("SELECT * FROM year_over_year WHERE year = :y"), {"y": YEAR}).mappings())
    assert len(view) == len(load_catalogue().indicators)

    def total(year: int, code: str) -> TownshipTotal:
        row = stored[year, code]
        return TownshipTotal(code, row["value"], row["units_reported"], row["units_expected"])

    last_year = previous_year(engine, YEAR)
    for row in view:
        code = row["indicator_code"]
        expected = comparable(total(YEAR, code), last_year.get(code))
        assert bool(row["comparable"]) is expected, code
        assert row["change"] is None and row["change_rate"] is None, code  # nothing is comparable
        assert last_year[code] == total(YEAR - 1, code)
    assert all(total(YEAR - 1, row["indicator_code"]).is_complete for row in view)

    report = (settings.output_dir() / str(YEAR) / "annual_report.md").read_text(encoding="utf-8")
    assert "本年已报1个单位（应报18个），暂不比较" in report
    assert not re.search(r"比上年(增加|减少|增长|下降|提高)", report)
    shown = dashboard.totals(engine, YEAR)
    rev01 = next(row for row in shown if row["indicator_code"] == "REV01")
    assert rev01["change_text"] == "本年已报1个单位（应报18个），暂不比较"
    assert not any(re.search(r"比上年(增加|减少|增长|下降|提高)", row["change_text"]) for row in shown)

    # the year before, complete against nothing earlier, and then a full year: compared
    with engine.connect() as connection:
        full = connection.execute(
            text("SELECT comparable, change FROM year_over_year WHERE year = :y AND indicator_code = 'REV01'"),
            {"y": YEAR - 1},
        ).one()
    assert not full.comparable and full.change is None  # no 2019 in this warehouse
