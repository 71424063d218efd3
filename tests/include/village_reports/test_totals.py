"""The township totals as the pipeline computes them (``village_reports.totals``, in the
warehouse), each checked against the independent oracle over the same records in memory."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from village_reports.catalogue import Catalogue
from village_reports.model import Record
from village_reports.roster import Roster
from village_reports.totals import TownshipTotal

from ...conftest import totals_in_a_warehouse
from ...oracle_totals import Contribution, compute_totals, contributions

Computed = tuple[dict[str, TownshipTotal], list[Contribution]]


def _record(unit: str, code: str, value: float | None, cell: str = "F6") -> Record:
    return Record(unit, 2021, code, value, "" if value is None else str(value), "填报表", cell)


@pytest.fixture
def township(tmp_path: Path, catalogue: Catalogue, roster: Roster) -> Callable[[list[Record]], Computed]:
    """The warehouse's totals for some records and the cells behind them, once the oracle
    has agreed with both."""

    def compute(records: list[Record]) -> Computed:
        url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
        totals, rows = totals_in_a_warehouse(records, url, 2021, catalogue, roster)
        cells = [
            Contribution(r["indicator_code"], r["unit_code"], r["source_code"], r["value"], r["sheet"], r["cell"])
            for r in rows
        ]
        assert totals == compute_totals(records, catalogue, roster)
        assert Counter(cells) == Counter(contributions(records, catalogue))
        return totals, cells

    return compute


def test_sum_skips_blanks_and_counts_completeness(township) -> None:
    records = [_record("MT01", "REV01", 10), _record("MT02", "REV01", 0), _record("MT03", "REV01", None)]
    totals, cells = township(records)
    total = totals["REV01"]
    assert total.value == 10
    assert (total.units_reported, total.units_expected) == (2, 18)
    assert [c.unit_code for c in cells if c.total_code == "REV01"] == ["MT01", "MT02"]


def test_nobody_reported_gives_no_value(township) -> None:
    total = township([_record("MT01", "REV01", None)])[0]["REV01"]
    assert total.value is None and total.units_reported == 0


def test_decimal_sums_are_exact_to_their_places(township) -> None:
    records = [_record(f"MT{i:02d}", "LIV01", v) for i, v in enumerate((0.1, 0.2, 66.68), start=1)]
    assert township(records)[0]["LIV01"].value == 66.98


def test_sums_are_rounded_to_their_places(township) -> None:
    records = [_record("MT01", "LIV01", 0.1), _record("MT02", "LIV01", 0.2)]  # 0.30000000000000004 in binary
    assert township(records)[0]["LIV01"].value == 0.3


def test_ratio_of_two_sums(township) -> None:
    records = [
        _record("MT01", "SOC03", 100),
        _record("MT01", "SOC04", 90),
        _record("MT02", "SOC03", 300),
        _record("MT02", "SOC04", 210),
    ]
    records.append(_record("MT03", "SOC03", 50))  # no denominator: in the sum, not in the units
    totals, cells = township(records)
    total = totals["SOC05"]
    assert total.value == 66.7 and total.units_reported == 2
    assert len([(c.unit_code, c.indicator_code) for c in cells if c.total_code == "SOC05"]) == 5


def test_ratio_with_a_part_nobody_reported(township) -> None:
    records = [_record("MT01", "SOC04", 90), _record("MT02", "SOC04", 210)]  # no unit reported SOC03
    total = township(records)[0]["SOC05"]
    assert total.value is None and total.units_reported == 0


def test_count_of_units_meeting_a_condition(township) -> None:
    records = [_record("MT01", "LIV03", 2.5), _record("MT02", "LIV03", 0), _record("MT03", "LIV03", 1)]
    totals, cells = township(records)
    total = totals["LIV04"]
    assert total.value == 2
    assert {c.unit_code for c in cells if c.total_code == "LIV04"} == {"MT01", "MT03"}


def test_township_only_figure(township) -> None:
    total = township([_record("MT00", "FIN01", 289)])[0]["FIN01"]
    assert total.value == 289 and total.units_expected == 1


def test_an_approved_years_totals_may_not_move_but_an_empty_new_indicator_is_no_move(catalogue) -> None:
    """totals.compute_year's check on a signed-off year: a figure that moves, appears or
    disappears is refused; an indicator added to the catalogue since, with no figure for
    that year (nobody could report it then), or removed without one, is not a move."""
    from village_reports.totals import ApprovedTotalsChanged, TownshipTotal, _refuse_a_change

    def now(**values: float | None) -> dict[str, TownshipTotal]:
        return {code: TownshipTotal(code, value, 0 if value is None else 18, 18) for code, value in values.items()}

    approved = {"REV01": 1137.0, "REV02": None}
    _refuse_a_change(2021, approved, now(REV01=1137.0, REV02=None, NEW01=None), catalogue)  # added, empty
    _refuse_a_change(2021, {**approved, "OLD01": None}, now(REV01=1137.0, REV02=None), catalogue)  # removed, empty
    with pytest.raises(ApprovedTotalsChanged, match=r"REV01（低保救助对象） 1,137 → 1,140"):
        _refuse_a_change(2021, approved, now(REV01=1140.0, REV02=None), catalogue)
    with pytest.raises(ApprovedTotalsChanged, match=r"1 项合计与定稿时不同：NEW01.* — → 3"):
        _refuse_a_change(2021, approved, now(REV01=1137.0, REV02=None, NEW01=3.0), catalogue)
    with pytest.raises(ApprovedTotalsChanged, match=r"OLD01（已从指标目录删除） 5 → —"):
        _refuse_a_change(2021, {**approved, "OLD01": 5.0}, now(REV01=1137.0, REV02=None), catalogue)
