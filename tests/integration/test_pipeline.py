"""The pipeline end to end against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import text

from village_reports import pipeline, settings, warehouse
from village_reports.catalogue import load_catalogue
from village_reports.model import Record
from village_reports.report import phrase
from village_reports.samples import write_samples
from village_reports.template import COL_CODE, COL_VALUE, COLUMNS, DATA_SHEET

from ..oracle_totals import compute_totals


def run_pipeline() -> list[dict]:
    """What one nightly run and the report run do, without Airflow."""
    lines = pipeline.run_ingest(batch_size=7)
    pipeline.finish_run([lines])
    for year in pipeline.reporting_years():
        pipeline.report_year(year)
    return lines


def view(name: str, order: str) -> list[tuple]:
    with warehouse.get_engine().connect() as connection:
        return [tuple(row) for row in connection.execute(text(f"SELECT * FROM {name} ORDER BY {order}"))]


def totals(year: int) -> dict[str, float]:
    rows = view("township_totals", "indicator_code")
    return {row[1]: row[6] for row in rows if row[0] == year}


def set_cell(path: Path, code: str, value: object) -> None:
    workbook = openpyxl.load_workbook(path)
    ws = workbook[DATA_SHEET]
    code_col, value_col = COLUMNS.index(COL_CODE) + 1, COLUMNS.index(COL_VALUE) + 1
    row = next(r for r in range(1, ws.max_row + 1) if ws.cell(row=r, column=code_col).value == code)
    ws.cell(row=row, column=value_col).value = value
    workbook.save(path)


@pytest.fixture
def inbox(project: Path) -> Path:
    write_samples(settings.inbox_dir())
    return settings.inbox_dir()


def test_full_run_reproduces_the_2021_report(inbox: Path, project: Path, seed_text: str) -> None:
    lines = run_pipeline()
    assert len(lines) == 57 and {line["status"] for line in lines} == {"accepted"}
    t2021 = totals(2021)
    assert (t2021["REV01"], t2021["REV19"], t2021["REV03"], t2021["REV04"], t2021["LIV01"]) == (
        1137,
        1350,
        159,
        784.5,
        66.98,
    )
    catalogue = load_catalogue()
    for ind in catalogue.indicators:
        if ind.quoted:
            assert (ind.quote or ind.sentence).format(figure=phrase(t2021[ind.code], ind)) in seed_text, ind.code
    report = (project / "output" / "2021" / "annual_report.md").read_text(encoding="utf-8")
    assert "全镇共纳入低保救助对象1137人" in report and "过万亩" in report
    assert "| REV01 | 低保救助对象 | 1137 人 | 18/18 | 18个村（居）填报表 F7 |" in report  # sources, briefly
    for year in (2019, 2020, 2021):
        folder = project / "output" / str(year)
        assert {p.name for p in folder.iterdir()} == {
            "township_totals.csv",
            "township_totals.xlsx",
            "annual_report.md",
            "annual_report.docx",
            "submission_status.csv",
            "township_total_sources.csv",
            "charts",
        }
        assert sorted(p.name for p in (folder / "charts").iterdir()) == ["completeness.png", "shares.png", "trends.png"]
    with (project / "output" / "2021" / "township_total_sources.csv").open(encoding="utf-8-sig") as handle:
        cells = [row for row in csv.DictReader(handle) if row["indicator_code"] == "REV01"]
    assert len(cells) == 18 and math.fsum(float(c["value"]) for c in cells) == 1137  # each total is its cells' sum
    assert "按时报送 18 个，逾期报送 1 个，未报送 0 个，退回待改 0 个" in report
    assert len(list((project / "output" / "feedback" / "2021").glob("MT*.xlsx"))) == 19
    validation_report = (project / "output" / "validation" / "index.html").read_text(encoding="utf-8")
    assert validation_report.count("<section>") == 9 and "http" not in validation_report  # offline, every run
    assert "毛田镇村级报表 审核记录" in validation_report and "MT02_白若村_2021.xlsx" in validation_report  # named
    assert not (project / "data" / "staging").exists() or not any((project / "data" / "staging").iterdir())
    # the last column: units whose only files came after the year was signed off (issue 12)
    assert view("completeness", "year") == [(y, 19, 19, 0, 0, 1.0, 0) for y in (2019, 2020, 2021)]
    assert len(list((project / "data" / "archive").rglob("*.xlsx"))) == 57


def test_totals_in_the_warehouse_equal_the_arithmetic_in_memory(inbox: Path) -> None:
    """The warehouse aggregates in SQL; the oracle (tests/oracle_totals.py) does the same over records in memory."""
    run_pipeline()
    with warehouse.get_engine().connect() as connection:
        facts = connection.execute(
            text("SELECT unit_code, year, indicator_code, value, raw_text, sheet, cell FROM village_indicator_values")
        ).all()
        stored = connection.execute(
            text("SELECT year, indicator_code, value, units_reported, units_expected FROM township_totals")
        ).all()
    for year in (2019, 2020, 2021):
        expected = compute_totals(Record(*row) for row in facts if row.year == year)
        assert {r.indicator_code: (r.value, r.units_reported, r.units_expected) for r in stored if r.year == year} == {
            code: (t.value, t.units_reported, t.units_expected) for code, t in expected.items()
        }


def test_rerun_and_duplicate_file_change_nothing(inbox: Path) -> None:
    run_pipeline()
    names = ("village_indicator_values", "township_totals", "submission_status", "year_over_year")
    before = {n: view(n, "1, 2, 3") for n in names}
    shutil.copy(next(inbox.glob("2021/MT01_*")), inbox / "2021" / "MT01_again.xlsx")  # same bytes, new name
    assert run_pipeline() == []  # nothing new: no file is opened
    assert {n: view(n, "1, 2, 3") for n in names} == before


def test_edited_workbook_changes_totals_and_report_and_keeps_history(inbox: Path, project: Path) -> None:
    run_pipeline()
    original = totals(2021)["REV01"]
    path = next(inbox.glob("2021/MT03_*"))
    old_value = next(
        r[8] for r in view("village_indicator_values", "1") if r[1] == "MT03" and r[4] == "REV01" and r[0] == 2021
    )
    set_cell(path, "REV01", old_value + 10)
    lines = run_pipeline()
    assert [(line["unit_code"], line["status"]) for line in lines] == [("MT03", "accepted")]
    assert totals(2021)["REV01"] == original + 10
    assert f"全镇共纳入低保救助对象{int(original + 10)}人" in (project / "output/2021/annual_report.md").read_text(
        "utf-8"
    )
    with warehouse.get_engine().connect() as connection:
        versions = connection.execute(
            text(
                "SELECT s.is_current, f.value FROM submission s JOIN fact_value f USING (submission_id) "
                "WHERE s.unit_code = 'MT03' AND s.year = 2021 AND f.indicator_code = 'REV01' ORDER BY f.value"
            )
        ).all()
    assert [tuple(v) for v in versions] == [(False, old_value), (True, old_value + 10)]


def test_bad_file_is_rejected_kept_and_does_not_stop_the_others(inbox: Path, project: Path) -> None:
    bad = inbox / "2021" / "MT05_broken.xlsx"
    bad.write_text("not a workbook", encoding="utf-8")
    path = next(inbox.glob("2021/MT06_*"))
    set_cell(path, "REV01", 99999)  # out of range: GX rejects it
    lines = run_pipeline()
    statuses = {line["file_name"]: line["status"] for line in lines}
    assert statuses.pop("MT05_broken.xlsx") == "rejected"
    assert statuses.pop(path.name) == "rejected"
    assert set(statuses.values()) == {"accepted"}
    archived = [p for p in (project / "data/archive").rglob("*") if p.is_file()]
    assert bad.exists() and any(p.read_bytes() == b"not a workbook" for p in archived)
    with warehouse.get_engine().connect() as connection:
        messages = [
            r[0]
            for r in connection.execute(
                text("SELECT message FROM submission_problem WHERE code = 'value.above_maximum'")
            )
        ]
    assert messages and "99999" in messages[0]
    status = {row[1]: row[4] for row in view("submission_status", "1, 2") if row[0] == 2021}
    assert status["MT06"] == "rejected"


def test_rejected_file_is_quarantined_and_a_corrected_one_is_picked_up(inbox: Path) -> None:
    path = next(inbox.glob("2021/MT07_*"))
    set_cell(path, "REV01", "很多")
    run_pipeline()
    quarantined = view("quarantine", "1, 2, 3")
    assert [(row[2], row[8]) for row in quarantined] == [(path.name, "REV01")]
    assert "无法识别为数字" in quarantined[0][9]
    assert {row[1]: row[3] for row in view("timeliness", "1, 2") if row[0] == 2021}["MT07"] == "rejected"
    set_cell(path, "REV01", 41)  # the clerk corrects the cell and sends it again
    assert [(line["unit_code"], line["status"]) for line in run_pipeline()] == [("MT07", "accepted")]
    assert {row[1]: row[4] for row in view("submission_status", "1, 2") if row[0] == 2021}["MT07"] == "accepted"
    accounting = view("file_accounting", "1")
    assert [row for row in accounting if row[0] == 2021] == [(2021, 20, 19, 0, 1, 0, 0, 0)]


def test_missing_units_are_named_and_logged(project: Path, caplog) -> None:
    write_samples(settings.inbox_dir(), [2021])
    next(settings.inbox_dir().glob("2021/MT09_*")).unlink()
    lines = pipeline.run_ingest()
    with caplog.at_level("WARNING"):
        summary = pipeline.finish_run([lines])
    assert summary["missing"] == {2021: ["第09村（待核定）（MT09）"]}
    assert "第09村（待核定）（MT09）" in caplog.text
    timeliness = {row[1]: row[3] for row in view("timeliness", "1, 2")}
    assert timeliness["MT09"] == "missing" and list(timeliness.values()).count("late") == 1


def test_every_validation_run_is_kept(inbox: Path) -> None:
    run_pipeline()
    with warehouse.get_engine().connect() as connection:
        runs = connection.execute(text("SELECT evaluated, success, submission_ids FROM validation_run")).all()
    assert len(runs) == 9  # 57 files in batches of 7
    assert all(evaluated == 6 and success for evaluated, success, _ in runs)
    assert sum(len(json.loads(ids)) for *_, ids in runs) == 57


def _standing(path: Path) -> str:
    return openpyxl.load_workbook(path)["回执"]["C6"].value


def test_a_correction_and_the_file_it_replaces_both_say_so(inbox: Path, project: Path) -> None:
    run_pipeline()
    path = next(inbox.glob("2021/MT03_*"))
    set_cell(path, "REV01", 50)  # the clerk corrects a figure and sends the file again
    run_pipeline()
    folder = project / "output" / "feedback" / "2021"
    assert "本文件替换了" in _standing(folder / "MT03_中兴村_2021年回执.xlsx")
    first, second = sorted((folder / "全部回执").glob("MT03_*.xlsx"), key=lambda p: "本文件替换了" in _standing(p))
    assert "本文件已被" in _standing(first) and "替换，其中的数字不再使用" in _standing(first)
    assert "本文件替换了" in _standing(second) and path.name in _standing(second)


def test_a_late_files_receipt_says_it_was_late(inbox: Path, project: Path) -> None:
    run_pipeline()
    timeliness = {row[1]: row[3] for row in view("timeliness", "1, 2") if row[0] == 2021}
    [late] = [unit for unit, state in timeliness.items() if state == "late"]
    [receipt] = (project / "output" / "feedback" / "2021").glob(f"{late}_*.xlsx")
    assert "逾期报送" in _standing(receipt) and "截止时间 2022-03-31 23:59" in _standing(receipt)
    on_time = next(u for u, state in timeliness.items() if state == "on_time")
    [receipt] = (project / "output" / "feedback" / "2021").glob(f"{on_time}_*.xlsx")
    assert _standing(receipt).startswith("按时报送")


def test_views_show_beijing_time_beside_utc(inbox: Path) -> None:
    """The outputs and 回执 show Beijing time; so do the views, beside the UTC columns."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    run_pipeline()
    with warehouse.get_engine().connect() as connection:
        rows = connection.execute(
            text(
                "SELECT received_at, received_at_beijing FROM submission_status WHERE received_at IS NOT NULL "
                "UNION ALL SELECT first_received, first_received_beijing FROM timeliness "
                "WHERE first_received IS NOT NULL "
                "UNION ALL SELECT deadline, deadline_beijing FROM timeliness "
                "UNION ALL SELECT received_at, received_at_beijing FROM received_files"
            )
        ).all()
    assert len(rows) > 100
    for utc, beijing in rows:
        expected = datetime.fromisoformat(utc).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
        assert beijing == expected


def test_sample_drafts_show_the_quality_loop_and_keep_the_totals(project: Path) -> None:
    """`make run`'s samples include a draft that is sent back and a partial file that the
    final one replaces; the year's totals are those of the final files alone."""
    from village_reports.__main__ import main
    from village_reports.samples import sample_values

    assert main(["samples", "--inbox", str(settings.inbox_dir()), "--years", "2021"]) == 0
    lines = {line["file_name"]: line["status"] for line in run_pipeline()}
    assert lines.pop("MT02_白若村_2021(初稿).xlsx") == "rejected"
    [partial] = [name for name in lines if name.endswith("(先报).xlsx")]
    assert lines.pop(partial) == "accepted_with_warnings"
    assert set(lines.values()) == {"accepted"} and len(lines) == 19
    expected = compute_totals(
        Record(unit, 2021, code, value, "", "", "")
        for unit, values in sample_values(2021).items()
        for code, value in values.items()
    )
    assert totals(2021) == {code: total.value for code, total in expected.items()}
    folder = project / "output" / "feedback" / "2021" / "全部回执"
    texts = {
        path.name: "\n".join(str(c.value) for row in openpyxl.load_workbook(path)["回执"].iter_rows() for c in row)
        for path in folder.glob("*.xlsx")
    }
    assert sum("退回" in text and "五十六" in text for text in texts.values()) == 1
    assert sum("本文件已被" in text and "项没有填写" in text for text in texts.values()) == 1


def test_a_renamed_unit_keeps_its_history(inbox: Path, project: Path, monkeypatch) -> None:
    """The township replaces 第04村（待核定） with the real name in roster.yaml, as
    docs/renaming_units.md says: the unit's earlier years show the new name, and a file
    still made from the old template is read by its code and accepted."""
    from village_reports.roster import ROSTER_FILE, load_roster

    run_pipeline()
    renamed = project / "roster.yaml"
    original = ROSTER_FILE.read_text(encoding="utf-8")
    old_line = "{code: MT04, name: 第04村（待核定）, kind: 村, placeholder: true}"
    assert old_line in original
    renamed.write_text(
        original.replace(old_line, "{code: MT04, name: 桃林村, kind: 村, placeholder: false}"), encoding="utf-8"
    )
    monkeypatch.setenv("VILLAGE_REPORTS_ROSTER", str(renamed))
    load_roster.cache_clear()
    try:
        old_template = next(inbox.glob("2021/MT04_第04村（待核定）_2021.xlsx"))
        set_cell(old_template, "REV01", 77)  # a correction, on the old template, under the old file name
        assert [(line["unit_code"], line["status"]) for line in run_pipeline()] == [("MT04", "accepted")]
        names = {(row[0], row[2]) for row in view("village_indicator_values", "1, 2") if row[1] == "MT04"}
        assert names == {(2019, "桃林村"), (2020, "桃林村"), (2021, "桃林村")}
        with (project / "output" / "2021" / "submission_status.csv").open(encoding="utf-8-sig") as handle:
            assert {row[0]: row[1] for row in csv.reader(handle)}["MT04"] == "桃林村"
        assert list((project / "output" / "feedback" / "2021").glob("MT04_桃林村_2021年回执.xlsx"))
    finally:
        load_roster.cache_clear()


def test_a_unit_whose_latest_file_was_sent_back_is_counted(inbox: Path, project: Path) -> None:
    """Its earlier figures stand, but 报送情况 must not hide that what it sent last was
    rejected (it used to say 退回待改 0 个)."""
    run_pipeline()
    path = next(inbox.glob("2021/MT06_*"))
    set_cell(path, "REV01", "很多")  # a resubmission that is sent back
    assert [line["status"] for line in run_pipeline()] == ["rejected"]
    report = (project / "output" / "2021" / "annual_report.md").read_text(encoding="utf-8")
    assert "最新文件退回待改（仍使用此前接收的数字）1 个：第06村（待核定）" in report
    with (project / "output" / "2021" / "submission_status.csv").open(encoding="utf-8-sig") as handle:
        assert {row[0]: row[2] for row in csv.reader(handle)}["MT06"].endswith("（最新文件退回待改）")


def test_a_lost_receipt_is_written_again_by_the_next_run(inbox: Path, project: Path) -> None:
    """A 回执 lost after its load committed (a kill, a full disk) is written again, from
    the warehouse, by the next run, even a run with no new file."""
    run_pipeline()
    folder = project / "output" / "feedback" / "2021"
    latest = next(folder.glob("MT04_*.xlsx"))
    before = openpyxl.load_workbook(latest)["回执"]["C4"].value
    kept = list((folder / "全部回执").glob("MT04_*.xlsx"))
    for path in (latest, *kept):
        path.unlink()
    lines = pipeline.run_ingest()
    assert lines == [] and pipeline.finish_run([lines])["feedback_restored"] == 1
    assert latest.exists() and [p.exists() for p in kept] == [True]
    assert openpyxl.load_workbook(latest)["回执"]["C4"].value == before == "已接收"
    assert pipeline.finish_run([[]])["feedback_restored"] == 0


def test_a_correction_with_an_older_file_time_is_put_in_force(inbox: Path) -> None:
    """The file's time is the clerk's PC's: a correction saved on a PC whose clock is behind
    (or copied keeping an old time) is still the latest file we received."""
    import os

    run_pipeline()
    path = next(inbox.glob("2021/MT03_*"))
    set_cell(path, "REV01", 40)
    os.utime(path, (1_577_836_800, 1_577_836_800))  # 2020-01-01: older than the first file
    assert [line["status"] for line in run_pipeline()] == ["accepted"]
    current = {r[1]: r[8] for r in view("village_indicator_values", "1, 2") if r[0] == 2021 and r[4] == "REV01"}
    assert current["MT03"] == 40


def test_a_file_moved_to_the_right_year_folder_is_read_for_it(inbox: Path, project: Path) -> None:
    """A 2021 workbook put into 2022/ by mistake is rejected for 2022; moved to 2021/, the
    same bytes are a new submission for 2021, read, accepted and answered (they used to be
    recorded as a duplicate and never read)."""
    path = next(inbox.glob("2021/MT05_*"))
    (inbox / "2022").mkdir()
    wrong = path.rename(inbox / "2022" / path.name)
    assert [(line["unit_code"], line["status"]) for line in run_pipeline() if line["year"] == 2022] == [
        ("MT05", "rejected")
    ]
    assert {row[1]: row[3] for row in view("timeliness", "1, 2") if row[0] == 2021}["MT05"] == "missing"

    wrong.rename(path)
    assert [(line["year"], line["unit_code"], line["status"]) for line in run_pipeline()] == [
        (2021, "MT05", "accepted")
    ]
    assert {row[1]: row[4] for row in view("submission_status", "1, 2") if row[0] == 2021}["MT05"] == "accepted"
    received = [row for row in view("received_files", "1, 2") if row[2] == path.name]
    assert [(row[0], row[6]) for row in received] == [(2021, "accepted"), (2022, "rejected")]
    assert received[0][4] != received[1][4]  # a submission of its own for each year
    assert list((project / "output" / "feedback" / "2021").glob("MT05_*.xlsx"))
    accounting = {row[0]: row[1:] for row in view("file_accounting", "1")}
    # received, accepted, with warnings, rejected, duplicate, unaccounted, received after sign-off
    assert accounting[2022] == (1, 0, 0, 1, 0, 0, 0)
    assert accounting[2021][4:] == (0, 0, 0)


def test_the_latest_receipt_is_the_file_in_force_whatever_order_the_batches_load(inbox: Path, project: Path) -> None:
    """Mapped batches run in any order: when a unit's correction loads before the file it
    replaces, the unit's latest 回执 must still be the correction's (it was the earlier
    file's, depending on the night: seen as a difference between two `make run`s)."""
    first = next(inbox.glob("2021/MT03_*"))
    second = first.with_name(first.stem + "（更正）.xlsx")
    shutil.copy(first, second)
    set_cell(second, "REV01", 50)
    register = inbox / "2021" / "收件登记.csv"
    with register.open("a", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerow([second.name, "2022-03-20 09:00"])  # after the first file's
    pipeline.prepare_warehouse()
    run = pipeline.discover_and_archive([2021])
    batches = pipeline.plan_batches(run, 1)
    for batch in reversed(batches):  # the correction, received last, loads first
        pipeline.load_files(pipeline.validate_batch(pipeline.read_batch(batch)))
    latest = project / "output" / "feedback" / "2021" / "MT03_中兴村_2021年回执.xlsx"
    assert openpyxl.load_workbook(latest)["回执"]["C3"].value == second.name
    assert _standing(latest).startswith("按时报送") and "本文件替换了 2022-03-" in _standing(latest)
    assert f"“{first.name}”" in _standing(latest)
    kept = {openpyxl.load_workbook(p)["回执"]["C3"].value: _standing(p) for p in latest.parent.glob("全部回执/MT03_*")}
    assert "本文件已被" in kept[first.name] and f"“{second.name}”" in kept[first.name]


def test_a_rejected_draft_loaded_after_its_correction_names_the_figures_in_force(inbox: Path, project: Path) -> None:
    """The samples' 初稿 case in the other batch order: the rejected draft, received first,
    loads after the accepted final file. The unit's latest 回执 stays the final file's,
    and the draft's says which file's figures stand."""
    final = next(inbox.glob("2021/MT03_*"))
    draft = final.with_name(final.stem + "(初稿).xlsx")
    shutil.copy(final, draft)
    set_cell(draft, "REV01", "很多")
    with (inbox / "2021" / "收件登记.csv").open("a", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerow([draft.name, "2022-01-05 09:00"])  # before the final file
    pipeline.prepare_warehouse()
    batches = pipeline.plan_batches(pipeline.discover_and_archive([2021]), 1)
    for batch in reversed(batches):
        pipeline.load_files(pipeline.validate_batch(pipeline.read_batch(batch)))
    folder = project / "output" / "feedback" / "2021"
    assert openpyxl.load_workbook(folder / "MT03_中兴村_2021年回执.xlsx")["回执"]["C3"].value == final.name
    kept = {openpyxl.load_workbook(p)["回执"]["C3"].value: _standing(p) for p in folder.glob("全部回执/MT03_*")}
    assert "数字仍以 " in kept[draft.name] and f"“{final.name}” 为准" in kept[draft.name]
