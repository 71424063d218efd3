"""Sign-off and locking of a reporting year, end to end on SQLite and PostgreSQL (issue 12):
approve, a file that comes after it waits, reopen, the waiting file loads, approve again."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import text

from village_reports import faults, pipeline, settings, signoff, totals, warehouse
from village_reports.__main__ import main
from village_reports.catalogue import load_catalogue
from village_reports.model import HELD
from village_reports.samples import write_samples

from .test_pipeline import set_cell, view

YEAR = 2021


def run() -> list[dict]:
    """One nightly run and the year's report, as test_pipeline.run_pipeline does."""
    lines = pipeline.run_ingest()
    pipeline.finish_run([lines])
    pipeline.report_year(YEAR)
    return lines


def stored_totals() -> dict[str, float | None]:
    return {row[1]: row[6] for row in view("township_totals", "indicator_code") if row[0] == YEAR}


def approve(actor: str = "张三") -> dict:
    engine = warehouse.get_engine()
    pipeline.compute_year_totals(YEAR)  # what the signoff DAG does before its form
    return signoff.record_decision(engine, YEAR, signoff.APPROVE, actor, "", signoff.review(engine, YEAR).digest)


def labels(project: Path) -> dict[str, str]:
    """The sign-off line of each output of the year."""
    folder = project / "output" / str(YEAR)
    with (folder / "township_totals.csv").open(encoding="utf-8-sig") as handle:
        totals_rows = list(csv.DictReader(handle))
    with (folder / "submission_status.csv").open(encoding="utf-8-sig") as handle:
        status_rows = list(csv.reader(handle))
    report = (folder / "annual_report.md").read_text(encoding="utf-8").splitlines()
    workbook = openpyxl.load_workbook(folder / "township_totals.xlsx")
    sheets = {ws["A2"].value for ws in workbook.worksheets}
    assert len({row["signoff"] for row in totals_rows}) == 1 and len({row[-1] for row in status_rows[1:]}) == 1
    assert len(sheets) == 1 and status_rows[0][-1] == "审核状态"
    return {
        "csv": totals_rows[0]["signoff"],
        "status": status_rows[1][-1],
        "report": report[2].strip("*"),
        "xlsx": sheets.pop(),
    }


@pytest.fixture
def inbox(project: Path) -> Path:
    write_samples(settings.inbox_dir(), [YEAR])
    run()
    return settings.inbox_dir()


def test_an_approved_year_holds_a_late_file_until_it_is_reopened(inbox: Path, project: Path) -> None:
    engine = warehouse.get_engine()
    draft = signoff.state(engine, YEAR)
    assert not draft.locked and draft.data_as_of and set(labels(project).values()) == {draft.label()}
    assert draft.label().startswith("草稿（数据截至 ")

    approve()
    pipeline.report_year(YEAR)
    final = signoff.state(engine, YEAR)
    assert final.locked and final.approved_by == "张三"
    assert set(labels(project).values()) == {final.label()} and final.label().startswith("定稿（张三 于 ")
    before = stored_totals()

    # a corrected file comes after the approval: received, read, checked, answered, held
    path = next(inbox.glob(f"{YEAR}/MT03_*"))
    old = next(r[8] for r in view("village_indicator_values", "1") if r[1] == "MT03" and r[4] == "REV01")
    set_cell(path, "REV01", old + 10)
    [line] = run()
    assert line["status"] == HELD
    assert stored_totals() == before and signoff.state(engine, YEAR).locked
    receipt = openpyxl.load_workbook(project / "output" / "feedback" / str(YEAR) / "MT03_中兴村_2021年回执.xlsx")
    assert receipt["回执"]["C4"].value == "定稿后收到（暂不计入）"
    assert "审核定稿之后收到（张三 于" in receipt["回执"]["C5"].value and "无需重新报送" in receipt["回执"]["C5"].value
    timeliness = {row[1]: (row[3], row[6]) for row in view("timeliness", "1, 2") if row[0] == YEAR}
    assert timeliness["MT03"][1] == HELD and timeliness["MT03"][0] in ("on_time", "late")  # its figures stand
    assert "定稿后又收到文件（未计入" in (project / "output" / str(YEAR) / "annual_report.md").read_text("utf-8")
    assert run() == []  # held, it is not read again while the year stays locked

    with pytest.raises(ValueError, match="至少"):
        signoff.reopen(engine, YEAR, "张三", "改")
    reopened = signoff.reopen(engine, YEAR, "张三", "中兴村更正了低保人数", run_id="manual__1")
    assert reopened["waiting"] == 1 and reopened["action"] == "reopened"
    assert signoff.state(engine, YEAR).label().startswith("草稿（数据截至 ")
    [again] = run()  # the waiting file loads, under its id, and the totals move
    assert (again["submission_id"], again["status"]) == (line["submission_id"], "accepted")
    assert stored_totals()["REV01"] == before["REV01"] + 10
    assert set(labels(project).values()) == {signoff.state(engine, YEAR).label()}

    review = signoff.review(engine, YEAR)
    assert not review.first_review and "REV01" in {c["code"] for c in review.changes}
    rev01 = next(c for c in review.changes if c["code"] == "REV01")
    assert (rev01["before"], rev01["after"]) == (before["REV01"], before["REV01"] + 10)
    assert all(before[c["code"]] != c["after"] for c in review.changes)  # only what moved
    approve("李四")
    assert signoff.state(engine, YEAR).approved_by == "李四"

    audit = [row for row in view("v_signoff_audit", "happened_at") if row[0] == YEAR]
    events = [(row[1], row[2]) for row in sorted((r for r in audit if r[7] is not None), key=lambda r: r[7])]
    assert events == [("approved", "张三"), ("reopened", "张三"), ("approved", "李四")]
    assert ("received_after_signoff", "中兴村", path.name) in {(row[1], row[2], row[4]) for row in audit}
    assert "received_late" in {row[1] for row in audit}  # the sample's late unit
    assert "中兴村更正了低保人数" in {row[4] for row in audit}


def test_an_approved_years_totals_never_change_under_it(inbox: Path, project: Path, monkeypatch) -> None:
    """A catalogue edited after the approval (小额信贷金额 shown without decimals) would
    recompute the locked year's totals: the nightly report refuses, in one line naming
    what would move, and the stored totals and the 定稿 outputs stay as approved; after a
    reopening the new rule applies."""
    engine = warehouse.get_engine()
    approve()
    pipeline.report_year(YEAR)
    before, written = stored_totals(), labels(project)
    report = (project / "output" / str(YEAR) / "annual_report.md").read_text("utf-8")
    assert before["REV04"] != round(before["REV04"])  # 784.5 in the samples' 2021
    catalogue = load_catalogue()
    whole = dataclasses.replace(
        catalogue,
        indicators=tuple(dataclasses.replace(i, decimals=0) if i.code == "REV04" else i for i in catalogue.indicators),
    )
    monkeypatch.setattr(totals, "load_catalogue", lambda: whole)

    with pytest.raises(totals.ApprovedTotalsChanged) as refused:
        pipeline.report_year(YEAR)
    said = str(refused.value)
    assert f"{YEAR} 年度已审核定稿" in said and f"REV04（小额信贷发放金额） {before['REV04']:g} → " in said
    assert "1 项合计与定稿时不同" in said and "重新开放" in said
    assert isinstance(refused.value, faults.Refusal)  # the task fails at once, without retries
    assert stored_totals() == before and labels(project) == written
    assert (project / "output" / str(YEAR) / "annual_report.md").read_text("utf-8") == report

    signoff.reopen(engine, YEAR, "张三", "小额信贷金额改按整数万元统计")
    pipeline.report_year(YEAR)
    assert stored_totals()["REV04"] == whole["REV04"].round(before["REV04"]) == 785  # 四舍五入


def test_a_reprocess_leaves_a_signed_off_year_as_approved(inbox: Path) -> None:
    """After a rule or catalogue change the runbook reads every file again (reprocess). A
    signed-off year's files used to be read too and stored as 定稿后收到, which took its
    files out of force: its figures vanished from the views. They are left alone now,
    until the year is reopened."""
    approve()

    def stored() -> list[tuple]:
        return sorted(view("submission_status", "1, 2"))

    before, statuses = stored_totals(), stored()
    assert pipeline.run_ingest(reprocess=True) == []
    assert stored_totals() == before and stored() == statuses
    assert len([row for row in view("village_indicator_values", "1") if row[0] == YEAR]) > 0
    signoff.reopen(warehouse.get_engine(), YEAR, "张三", "按新的指标口径重读")
    lines = pipeline.run_ingest(reprocess=True)
    assert len(lines) == 19 and {line["status"] for line in lines} <= {"accepted", "accepted_with_warnings"}


def test_later_years_are_rewritten_after_an_earlier_one_unless_signed_off(project: Path) -> None:
    """township_report's second wave: the years whose 上年 column or trend chart shows a
    changed year, except those signed off, whose outputs stay as approved."""
    write_samples(settings.inbox_dir(), [YEAR - 2, YEAR - 1, YEAR])
    pipeline.finish_run([pipeline.run_ingest()])
    assert pipeline.later_years_showing([YEAR - 2]) == [YEAR - 1, YEAR]
    assert pipeline.later_years_showing([YEAR - 1, YEAR]) == []  # done in the first wave
    assert pipeline.later_years_showing([YEAR]) == pipeline.later_years_showing([]) == []
    approve()
    assert pipeline.later_years_showing([YEAR - 2]) == [YEAR - 1]


def test_decisions_that_are_refused(inbox: Path) -> None:
    engine = warehouse.get_engine()
    review = signoff.review(engine, YEAR)
    with pytest.raises(ValueError, match="退回须写明原因"):
        signoff.record_decision(engine, YEAR, signoff.SEND_BACK, "张三", "  ", review.digest)
    with pytest.raises(ValueError, match="尚未审核定稿"):
        signoff.reopen(engine, YEAR, "张三", "想再看一看数据")
    sent = signoff.record_decision(engine, YEAR, signoff.SEND_BACK, "张三", "白若村人数待核", review.digest)
    assert sent["action"] == "sent_back" and not signoff.state(engine, YEAR).locked
    assert "已退回" in signoff.state(engine, YEAR).label()

    set_cell(next(inbox.glob(f"{YEAR}/MT05_*")), "REV01", 1)  # a file loaded after the review
    assert [line["status"] for line in run()] in (["accepted"], ["accepted_with_warnings"])
    with pytest.raises(signoff.StaleReview, match="审核之后有变化"):
        signoff.record_decision(engine, YEAR, signoff.APPROVE, "张三", "", review.digest)
    assert not signoff.state(engine, YEAR).locked
    approve()
    with pytest.raises(signoff.StaleReview, match="已由 张三 于"):
        approve("李四")
    with engine.connect() as connection:
        actions = connection.execute(text("SELECT action FROM signoff_event ORDER BY event_id")).scalars().all()
    assert actions == ["sent_back", "approved"]


def test_signoff_status_prints_each_years_label(inbox: Path, capsys) -> None:
    assert main(["signoff-status"]) == 0
    assert f"{YEAR}年：草稿（数据截至" in capsys.readouterr().out
    approve()
    assert main(["signoff-status", "--year", str(YEAR)]) == 0
    assert f"{YEAR}年：定稿（张三 于" in capsys.readouterr().out


@pytest.mark.postgres
@pytest.mark.parametrize("project", ["postgresql"], indirect=True)
def test_the_audit_trail_is_readable_by_the_analyst_role(inbox: Path) -> None:
    """What test_analyst_role.py sets up, then the analyst reads the sign-off's rows."""
    from .test_analyst_role import ROLE_SCRIPT

    approve()
    engine = warehouse.get_engine()
    raw = engine.raw_connection()
    try:
        raw.cursor().execute(ROLE_SCRIPT.read_text(encoding="utf-8"))
        raw.commit()
    finally:
        raw.close()
    with engine.connect() as connection:
        connection.execute(text("SET ROLE village_analyst"))
        rows = connection.execute(text("SELECT what, who FROM v_signoff_audit WHERE year = 2021")).all()
        locked = connection.execute(text("SELECT locked FROM signoff_state WHERE year = 2021")).scalar()
        # the queries docs/analyst_queries.md gives
        docs = (Path(__file__).parents[2] / "docs" / "analyst_queries.md").read_text(encoding="utf-8")
        block = docs.split("FROM signoff_state ORDER BY year;")[1].split("```")[0]
        connection.execute(text("SELECT year, locked, actor, acted_at_beijing FROM signoff_state ORDER BY year"))
        assert connection.execute(text(block.strip().rstrip(";"))).all()
    assert ("approved", "张三") in {tuple(row) for row in rows} and "received_late" in {row[0] for row in rows}
    assert locked is True


def test_a_unit_whose_only_file_came_after_sign_off_is_not_missing(project: Path) -> None:
    """Sent, but after the approval: not missing, and its figures are not in (issue 12)."""
    write_samples(settings.inbox_dir(), [YEAR])
    path = next(settings.inbox_dir().glob(f"{YEAR}/MT09_*"))
    kept = path.read_bytes()
    path.unlink()
    run()
    assert {row[1]: row[3] for row in view("timeliness", "1, 2")}["MT09"] == "missing"
    approve()
    path.write_bytes(kept)
    lines = pipeline.run_ingest()
    assert [line["status"] for line in lines] == [HELD]
    summary = pipeline.finish_run([lines])
    assert summary["missing"][YEAR] == []  # not named as missing
    assert {row[1]: row[3] for row in view("timeliness", "1, 2")}["MT09"] == HELD
    [completeness] = view("completeness", "year")
    assert (completeness[2], completeness[3], completeness[-1]) == (18, 0, 1)  # with figures, missing, held
    [accounting] = view("file_accounting", "year")
    assert accounting[-1] == 1 and accounting[1] == sum(accounting[2:7]) + accounting[-1]
    pipeline.report_year(YEAR)
    with (project / "output" / str(YEAR) / "submission_status.csv").open(encoding="utf-8-sig") as handle:
        assert {row[0]: row[2] for row in csv.reader(handle)}["MT09"] == "定稿后收到（未计入）"
