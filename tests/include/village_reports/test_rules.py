from __future__ import annotations

import dataclasses

import pytest

from village_reports.model import Problem, ReadResult, Record
from village_reports.rules import (
    PeerStats,
    Relation,
    check_rules,
    confirm_with_notes,
    evaluate,
    load_rules,
    outlier_problems,
    relation_problems,
    wrong_file_problems,
)


def result_with(values: dict[str, float | None], unit: str = "MT01", notes: dict[str, str] | None = None) -> ReadResult:
    notes = notes or {}
    records = [
        Record(unit, 2021, code, value, "" if value is None else str(value), "填报表", f"F{n + 6}", notes.get(code, ""))
        for n, (code, value) in enumerate(values.items())
    ]
    return ReadResult(source="x.xlsx", unit_code=unit, year=2021, sheet="填报表", records=records)


def test_rules_file_is_consistent(catalogue) -> None:
    assert check_rules(load_rules(), catalogue) == []


def test_evaluate_is_arithmetic_only() -> None:
    assert evaluate("ECO15 + ECO16 * 2", {"ECO15": 1, "ECO16": 3}) == 7
    with pytest.raises(ValueError):
        evaluate("__import__('os')", {})


def test_relation_broken_names_the_cell_and_both_sides() -> None:
    problems = relation_problems(result_with({"SOC01": 2, "SOC02": 3}))
    assert [(p.code, p.severity, p.cell) for p in problems] == [("rule.R01", "error", "F7")]
    assert "3" in problems[0].message and "2" in problems[0].message


def test_relation_that_holds_or_sums_exactly() -> None:
    assert relation_problems(result_with({"ECO14": 10, "ECO15": 4, "ECO16": 6})) == []
    assert [p.code for p in relation_problems(result_with({"ECO14": 10, "ECO15": 5, "ECO16": 6}))] == ["rule.R03"]


@pytest.mark.parametrize(
    ("missing", "values", "fires"),
    [
        ("skip_if_any_missing", {"SOC01": None, "SOC02": 3}, False),
        ("skip_if_all_missing", {"SOC01": None, "SOC02": 3}, True),
        ("skip_if_all_missing", {"SOC01": None, "SOC02": None}, False),
        ("never_skip", {"SOC01": None, "SOC02": 3}, True),
    ],
)
def test_missing_value_strategies(missing: str, values: dict, fires: bool) -> None:
    rules = load_rules()
    relation = Relation("T1", "SOC02", "<=", "SOC01", "error", "{left} > {right}", missing)
    assert bool(relation_problems(result_with(values), dataclasses.replace(rules, relations=(relation,)))) is fires


def test_loan_amount_is_checked_against_the_number_of_loans() -> None:
    assert [p.code for p in relation_problems(result_with({"REV03": 2, "REV04": 30}))] == ["rule.R04"]
    assert [p.code for p in relation_problems(result_with({"REV03": 10, "REV04": 1}))] == ["rule.R05"]
    assert relation_problems(result_with({"REV03": 10, "REV04": 45})) == []


def stats(values: dict[str, float]) -> PeerStats:
    return PeerStats.of(list(values.values()))


PEERS = {"MT02": 100, "MT03": 120, "MT04": 90, "MT05": 110, "MT06": 105, "MT07": 95, "MT08": 130}


def test_outlier_against_peers_is_robust() -> None:
    far = outlier_problems(result_with({"LIV10": 990}), {"LIV10": stats(PEERS)}, {})
    assert [p.code for p in far] == ["outlier.peers"] and "远高于" in far[0].message
    assert outlier_problems(result_with({"LIV10": 180}), {"LIV10": stats(PEERS)}, {}) == []  # big, not odd


def test_zero_heavy_and_small_counts_do_not_false_alarm() -> None:
    zero_heavy = {f"MT{i:02d}": 0 for i in range(2, 16)} | {"MT16": 2, "MT17": 3}
    assert outlier_problems(result_with({"SAF15": 4}), {"SAF15": stats(zero_heavy)}, {}) == []
    assert outlier_problems(result_with({"SAF15": 0}), {"SAF15": stats(PEERS)}, {}) == []  # 0 is an answer
    small = dict.fromkeys(PEERS, 4) | {"MT09": 3}
    assert outlier_problems(result_with({"ECO18": 1}), {"ECO18": stats(small)}, {}) == []


def test_outlier_against_own_history() -> None:
    jumped = outlier_problems(result_with({"REV19": 400}), {}, {"REV19": {2019: 60, 2020: 70}})
    assert [p.code for p in jumped] == ["outlier.history"]
    assert outlier_problems(result_with({"REV19": 80}), {}, {"REV19": {2019: 60, 2020: 70}}) == []


def test_each_figure_is_judged_by_its_own_thresholds() -> None:
    """The history check on one figure must not change the peer thresholds of the next."""
    rules = load_rules()
    lenient_history = dataclasses.replace(rules, history={**rules.history, "ratio": 50.0, "min_change": 5000})
    found = outlier_problems(
        result_with({"REV19": 400, "LIV10": 990}),
        {"LIV10": stats(PEERS)},
        {"REV19": {2019: 60, 2020: 70}},
        lenient_history,
    )
    assert [(p.code, p.indicator_code) for p in found] == [("outlier.peers", "LIV10")]


def test_wrong_year_and_another_units_workbook() -> None:
    result = result_with({"REV01": 5})
    assert [p.code for p in wrong_file_problems(result, "MT01_鸣山村_2021.xlsx", 2020)] == ["file.wrong_year"]
    assert [p.code for p in wrong_file_problems(result, "白若村2021年报表.xlsx", 2021)] == ["file.other_unit"]
    assert wrong_file_problems(result, "鸣山村-最终版.xlsx", 2021) == []
    assert wrong_file_problems(result, "报表.xlsx", 2021) == []


def test_a_note_confirms_a_flagged_figure_and_is_kept() -> None:
    result = result_with({"REV01": 1500}, notes={"REV01": "两个组并入本村"})
    flagged = [
        Problem("value.above_maximum", "error", "超出合理范围", cell="F6", indicator_code="REV01"),
        Problem("cell.not_a_number", "error", "无法识别", cell="F6", indicator_code="REV01"),
    ]
    confirmed = confirm_with_notes(result, flagged)
    assert [p.severity for p in confirmed] == ["warning", "error"]  # a note cannot fix a non-number
    assert "两个组并入本村" in confirmed[0].message


def test_deadline_is_end_of_day_in_shanghai() -> None:
    assert load_rules().deadline(2021) == "2022-03-31T15:59:59+00:00"


def test_the_reminder_window_is_bounded(catalogue) -> None:
    rules = load_rules()
    assert rules.reminder_days == 14 and str(rules.deadline_date(2021)) == "2022-03-31"
    assert check_rules(dataclasses.replace(rules, reminder_days=120), catalogue) == [
        "reminder_days must be 0 to 90, not 120"
    ]
