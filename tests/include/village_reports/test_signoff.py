"""The sign-off's plain data: the line every output prints, and the review's bounded body."""

from __future__ import annotations

from village_reports.signoff import APPROVE, OPTIONS, SEND_BACK, Review, SignoffState


def test_the_label_says_draft_with_the_time_of_the_data_or_final_with_the_approver() -> None:
    draft = SignoffState(2021, False, None, None, "2022-03-31T09:05:00+00:00", None)
    assert draft.label() == "草稿（数据截至 2022-03-31 17:05，尚未审核定稿）"
    final = SignoffState(2021, True, "张三", "2022-04-02T02:00:00+00:00", "2022-03-31T09:05:00+00:00", "approved")
    assert final.label() == "定稿（张三 于 2022-04-02 10:00 审核通过）"
    reopened = SignoffState(2021, False, None, None, "2022-03-31T09:05:00+00:00", "reopened")
    assert reopened.label() == "草稿（数据截至 2022-03-31 17:05，已重新开放，尚未审核定稿）"
    assert SignoffState(2024, False, None, None, None, None).label() == "草稿（尚无数据，尚未审核定稿）"
    assert OPTIONS == (APPROVE, SEND_BACK) == ("审核通过", "退回")


def _review(changes: int, units: int, warnings: int, first: bool = False) -> Review:
    return Review(
        year=2021,
        digest="d" * 64,
        changes=[
            {"code": f"X{n:03d}", "name": "指标", "unit": "人", "before": n, "after": n + 1} for n in range(changes)
        ],
        first_review=first,
        missing_or_late=[{"code": f"MT{n:03d}", "name": "某村", "timeliness": "late"} for n in range(units)],
        open_warnings=warnings,
        warnings=[
            {"unit_code": "MT01", "unit_name": "鸣山村", "indicator_code": "REV01", "message": "请核实"}
            for _ in range(min(warnings, 40))
        ],
        data_as_of="2022-03-31T09:05:00+00:00",
        label="草稿（数据截至 2022-03-31 17:05，尚未审核定稿）",
        approved_before=None if first else {"actor": "张三", "acted_at": "2022-04-02T02:00:00+00:00"},
    )


def test_the_review_lists_at_most_its_limit_and_counts_the_rest() -> None:
    """The HITL form's body stays small at a county's size: 40 lines listed, the rest counted."""
    text = _review(changes=500, units=3000, warnings=20000).to_markdown(limit=40)
    listed = [line for line in text.splitlines() if line.startswith("- ") and "未列出" not in line]
    assert len(listed) <= 40 and len(text.splitlines()) < 60
    assert "另有 480 项未列出" in text and "另有 2990 项未列出" in text and "另有 19990 项未列出" in text
    assert "与上次定稿（张三 于 2022-04-02 10:00 审核通过）相比有变化的合计：500 项" in text
    assert "- X000 指标：0 → 1 人" in text


def test_a_small_review_lists_everything_and_a_first_one_says_so() -> None:
    text = _review(changes=2, units=0, warnings=0, first=True).to_markdown()
    assert "首次审核，共 2 项" in text and "- X001 指标：2 人" in text
    assert "所有单位均已按时报送" in text and "未列出" not in text
