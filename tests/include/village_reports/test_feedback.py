from pathlib import Path

import openpyxl

from village_reports.feedback import Standing, feedback_paths, neutralise, row_ranges, standings, write_feedback
from village_reports.model import HELD, status_of
from village_reports.reader import read_workbook
from village_reports.rules import load_rules
from village_reports.validation import run_expectations


def test_neutralise_formula_like_text() -> None:
    assert neutralise("=1+1") == "'=1+1"
    assert neutralise("@SUM(A1)") == "'@SUM(A1)"
    assert neutralise("正常文字") == "正常文字"
    assert neutralise(12.5) == 12.5
    assert neutralise("a\x07b") == "ab"  # control characters a workbook cannot hold


def test_feedback_paths_keep_every_submission(roster, tmp_path: Path) -> None:
    latest, copy = feedback_paths(tmp_path, 2021, "MT01", "ab" * 32, roster)
    assert latest.name == "MT01_鸣山村_2021年回执.xlsx"  # a clerk's name: unit and year
    assert copy.name == "MT01_鸣山村_2021年回执_" + "ab" * 6 + ".xlsx" and copy.parent.name == "全部回执"
    assert [p.name for p in feedback_paths(tmp_path, 2021, "../../x", "cd" * 32, roster)] == [
        "未识别_2021年回执_" + "cd" * 6 + ".xlsx"
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
        "submission_id": "e" * 64,
    }
    written = write_feedback(tmp_path, arrival, result, "rejected")
    wb = openpyxl.load_workbook(written)
    summary = wb["回执"]
    assert summary["C4"].value == "退回"
    assert summary["C3"].value == path.name and summary["G3"].value == "2022-02-01 10:00"
    rows = [[c.value for c in row] for row in summary.iter_rows(min_row=9)]
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
        write_feedback(tmp_path, {**arrival, "archive_path": str(path), "submission_id": "f" * 64}, result, "rejected")
    )
    summary, marked = wb["回执"], wb["原表（标注）"]
    assert summary.row_dimensions[9].height >= 30  # the message takes two lines or more
    names = max(marked.column_dimensions[c].width for c in "ABCDEFG")
    assert names >= 20  # indicator names such as “小额信贷发放金额” are not cut to 14 characters


def _arrival(path: Path, received_at: str = "2022-02-01T02:00:00+00:00", sha: str = "a" * 64) -> dict:
    return {
        "year": 2021,
        "file_name": path.name,
        "received_at": received_at,
        "archive_path": str(path),
        "submission_id": sha,
    }


def test_a_partial_file_is_accepted_and_its_blanks_are_one_line_after_the_errors(
    make_workbook, sample_2021, tmp_path: Path
) -> None:
    """Five figures filled, the rest blank, one of them unreadable, one an approximation:
    the unreadable figure comes first, then one line for the blanks, then the hint."""
    filled = dict.fromkeys(sample_2021["MT01"])
    filled.update({"REV01": "五十六", "REV03": 10, "REV04": "约30", "LIV01": 3, "LIV02": 4})
    path = make_workbook(values=filled)
    result = read_workbook(path)
    [found] = run_expectations([result]).problems
    result.problems += found
    blanks = [p for p in result.problems if p.code == "value.required_missing"]
    assert len(blanks) > 40 and {p.severity for p in blanks} == {"warning"}
    assert status_of(result.problems) == "rejected"  # for the unreadable figure only

    wb = openpyxl.load_workbook(write_feedback(tmp_path, _arrival(path), result, "rejected"))
    rows = [[c.value for c in row] for row in wb["回执"].iter_rows(min_row=9) if row[1].value]
    assert [r[1] for r in rows] == ["错误（须修改）", "未填（按未报告）", "提示（请核实）"]
    assert "无法识别为数字" in rows[0][6] and "约数" in rows[2][6]
    assert f"以下 {len(blanks)} 项没有填写" in rows[1][6] and "第 " in rows[1][6]
    assert "、" in wb["回执"]["C5"].value and f"{len(blanks)} 项未填" in wb["回执"]["C5"].value

    # without the unreadable figure and the hint the file is accepted: the rest comes later
    result.problems = [p for p in result.problems if p.code == "value.required_missing"]
    assert status_of(result.problems) == "accepted_with_warnings"
    accepted = write_feedback(tmp_path, _arrival(path, sha="c" * 64), result, "accepted_with_warnings")
    assert "补齐后请将整张表重新报送" in openpyxl.load_workbook(accepted)["回执"]["C5"].value


def test_a_file_without_any_figure_is_sent_back(make_workbook, sample_2021) -> None:
    result = read_workbook(make_workbook(values=dict.fromkeys(sample_2021["MT01"])))
    [found] = run_expectations([result]).problems
    assert status_of(found) == "rejected" and any(p.code == "table.no_figures" for p in found)


def test_row_ranges_read_as_a_clerk_reads_them() -> None:
    assert row_ranges(["F8", "F9", "F10", "F12", "F20", "F21"]) == "8–10、12、20–21"


def test_a_late_file_says_when_it_arrived_against_the_deadline(make_workbook, tmp_path: Path) -> None:
    path = make_workbook()
    result = read_workbook(path)
    deadline = load_rules().deadline(2021)  # 2022-03-31 24:00 Beijing time
    late = _arrival(path, received_at="2022-04-05T02:00:00+00:00")
    wb = openpyxl.load_workbook(write_feedback(tmp_path, late, result, "accepted", standing=Standing(deadline)))
    text = wb["回执"]["C6"].value
    assert "逾期报送" in text and "2022-04-05 10:00" in text and "2022-03-31 23:59" in text and "逾期 5 天" in text
    on_time = write_feedback(tmp_path, _arrival(path, sha="b" * 64), result, "accepted", standing=Standing(deadline))
    assert openpyxl.load_workbook(on_time)["回执"]["C6"].value.startswith("按时报送")


def test_standings_say_which_file_replaces_which() -> None:
    def file(n: int, status: str, current: bool = False) -> dict:
        return {
            "submission_id": str(n),
            "file_name": f"f{n}.xlsx",
            "received_at": f"2022-03-0{n}T02:00:00+00:00",
            "status": status,
            "is_current": current,
        }

    first, bad, second = file(1, "accepted"), file(2, "rejected"), file(3, "accepted_with_warnings", current=True)
    found = standings({("MT01", 2021): [first, bad, second]}, load_rules().deadline)
    assert found["1"].replaced_by == second and found["1"].replaces is None
    assert found["3"].replaces == first and found["3"].replaced_by is None
    assert found["2"].in_force == second and found["2"].replaces is None


def test_the_township_is_named_from_the_roster(make_workbook, roster, tmp_path: Path) -> None:
    """Another township's roster gives its own name in the 回执; nothing says 毛田镇."""
    from dataclasses import replace

    other = replace(roster, township=replace(roster.township, name="相思镇本级", full_name="相思镇人民政府"))
    assert roster.place == "毛田镇" and other.place == "相思镇"
    path = make_workbook()
    written = write_feedback(tmp_path, _arrival(path), read_workbook(path), "accepted", roster=other)
    workbook = openpyxl.load_workbook(written)
    assert workbook["回执"]["A1"].value == "相思镇村级报表 回执"


def test_the_receipt_writer_is_linear_in_problem_rows(make_workbook, tmp_path: Path) -> None:
    """20,000 stray rows once took 275 s (openpyxl's max_row per row). Counted in function
    calls, not seconds: four times the problems may cost about four times the calls."""
    import cProfile
    import pstats

    from village_reports.feedback import feedback_bytes
    from village_reports.model import Problem

    path = make_workbook()
    result = read_workbook(path)
    grid = [["x"] * 7 for _ in range(60)]

    def calls(n: int) -> int:
        result.problems = [Problem("outlier.peer", "warning", f"第 {i} 行", "填报表", f"F{i + 8}") for i in range(n)]
        profile = cProfile.Profile()
        profile.runcall(feedback_bytes, _arrival(path), result, "accepted_with_warnings", grid=grid)
        return pstats.Stats(profile).total_calls  # type: ignore[attr-defined]

    small, large = calls(2_000), calls(8_000)
    assert large < 4.6 * small


def test_a_file_after_sign_off_is_checked_kept_and_not_counted(make_workbook, tmp_path: Path) -> None:
    """Its 回执 says the year was signed off, by whom and when, lists its problems as usual,
    says its figures are not counted for now and what happens next (issue 12)."""
    path = make_workbook(mutate=lambda wb: wb["填报表"].__setitem__("F7", "很多"))
    result = read_workbook(path)
    standing = Standing(load_rules().deadline(2021), approved_by="张三", approved_at="2022-04-02T02:00:00+00:00")
    late = _arrival(path, received_at="2022-04-05T02:00:00+00:00")
    summary = openpyxl.load_workbook(write_feedback(tmp_path, late, result, HELD, standing=standing))["回执"]
    assert summary["C4"].value == "定稿后收到（暂不计入）"
    advice = summary["C5"].value
    assert "审核定稿之后收到（张三 于 2022-04-02 10:00 审核定稿）" in advice and "暂不计入汇总" in advice
    assert "重新开放该年度，此文件将在下一次运行时自动入库，无需重新报送" in advice
    assert "须修改，否则重新开放后本文件仍会被退回" in advice  # it has an error: say what it means then
    assert "照常审核和汇总" not in summary["C6"].value and "暂不计入汇总" in summary["C6"].value
    rows = [[c.value for c in row] for row in summary.iter_rows(min_row=9)]
    assert rows[0][3] == "F7" and "无法识别为数字" in rows[0][6]  # its problems, so the village can fix them


def test_standings_name_the_approval_a_held_file_came_after() -> None:
    """A held file never replaces the file in force; its standing names the year's approval."""
    kept = {"submission_id": "1", "file_name": "a.xlsx", "received_at": "2022-03-01T02:00:00+00:00"}
    held = {"submission_id": "2", "file_name": "b.xlsx", "received_at": "2022-04-05T02:00:00+00:00"}
    approval = {"approved_by": "张三", "approved_at": "2022-04-02T02:00:00+00:00"}
    files = [
        {**kept, **approval, "status": "accepted", "is_current": True},
        {**held, **approval, "status": HELD, "is_current": False},
    ]
    found = standings({("MT01", 2021): files}, load_rules().deadline)
    assert found["1"].replaced_by is None and found["1"].approved_by is None
    assert found["2"].replaces is None and found["2"].in_force == files[0]
    assert (found["2"].approved_by, found["2"].approved_at) == ("张三", "2022-04-02T02:00:00+00:00")
