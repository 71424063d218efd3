from village_reports.catalogue import Catalogue
from village_reports.model import Record
from village_reports.roster import Roster
from village_reports.totals import compute_totals, contributions


def _record(unit: str, code: str, value: float | None, cell: str = "F6") -> Record:
    return Record(unit, 2021, code, value, "" if value is None else str(value), "填报表", cell)


def test_sum_skips_blanks_and_counts_completeness(catalogue: Catalogue, roster: Roster) -> None:
    records = [_record("MT01", "REV01", 10), _record("MT02", "REV01", 0), _record("MT03", "REV01", None)]
    total = compute_totals(records, catalogue, roster)["REV01"]
    assert total.value == 10
    assert (total.units_reported, total.units_expected) == (2, 18)
    assert [c.unit_code for c in contributions(records, catalogue) if c.total_code == "REV01"] == ["MT01", "MT02"]


def test_nobody_reported_gives_no_value(catalogue: Catalogue, roster: Roster) -> None:
    total = compute_totals([_record("MT01", "REV01", None)], catalogue, roster)["REV01"]
    assert total.value is None and total.units_reported == 0


def test_decimal_sums_are_exact_to_their_places(catalogue: Catalogue, roster: Roster) -> None:
    records = [_record(f"MT{i:02d}", "LIV01", v) for i, v in enumerate((0.1, 0.2, 66.68), start=1)]
    assert compute_totals(records, catalogue, roster)["LIV01"].value == 66.98


def test_ratio_of_two_sums(catalogue: Catalogue, roster: Roster) -> None:
    records = [
        _record("MT01", "SOC03", 100),
        _record("MT01", "SOC04", 90),
        _record("MT02", "SOC03", 300),
        _record("MT02", "SOC04", 210),
    ]
    records.append(_record("MT03", "SOC03", 50))  # no denominator: in the sum, not in the units
    total = compute_totals(records, catalogue, roster)["SOC05"]
    assert total.value == 66.7 and total.units_reported == 2
    cells = [(c.unit_code, c.indicator_code) for c in contributions(records, catalogue) if c.total_code == "SOC05"]
    assert len(cells) == 5


def test_count_of_units_meeting_a_condition(catalogue: Catalogue, roster: Roster) -> None:
    records = [_record("MT01", "LIV03", 2.5), _record("MT02", "LIV03", 0), _record("MT03", "LIV03", 1)]
    total = compute_totals(records, catalogue, roster)["LIV04"]
    assert total.value == 2
    assert {c.unit_code for c in contributions(records, catalogue) if c.total_code == "LIV04"} == {"MT01", "MT03"}


def test_township_only_figure(catalogue: Catalogue, roster: Roster) -> None:
    total = compute_totals([_record("MT00", "FIN01", 289)], catalogue, roster)["FIN01"]
    assert total.value == 289 and total.units_expected == 1
