"""The sample submissions reproduce the 2021 annual report, figure for figure."""

from pathlib import Path
from statistics import pstdev

import pytest

from village_reports.catalogue import Catalogue
from village_reports.reader import read_workbook
from village_reports.report import phrase
from village_reports.roster import Roster
from village_reports.samples import allocate, load_plan, sample_values, write_samples

from ...conftest import totals_in_a_warehouse


@pytest.fixture(scope="module")
def totals_2021(tmp_path_factory) -> dict:
    inbox = tmp_path_factory.mktemp("inbox")
    records = []
    for path in write_samples(inbox, [2021]):
        result = read_workbook(path)
        assert result.problems == [], path
        records += result.records
    return totals_in_a_warehouse(records, f"sqlite:///{inbox / 'warehouse.sqlite'}", 2021)[0]


def test_headline_figures_equal_the_2021_report(totals_2021: dict) -> None:
    assert totals_2021["REV01"].value == 1137  # 低保救助对象
    assert totals_2021["REV19"].value == 1350  # 改厕
    assert totals_2021["REV03"].value == 159  # 小额信贷笔数
    assert totals_2021["REV04"].value == 784.5  # 小额信贷万元
    assert totals_2021["LIV01"].value == 66.98  # 提质公里
    assert totals_2021["LIV02"].value == 18
    assert totals_2021["LIV03"].value == 27.16
    assert totals_2021["LIV04"].value == 15
    assert totals_2021["SOC05"].value == 80


def test_every_quoted_figure_reads_as_in_the_2021_report(
    totals_2021: dict, catalogue: Catalogue, seed_text: str
) -> None:
    """Each total, phrased the report's way ('200余', '约2000', '过万'), stands in the report."""
    missing = []
    for ind in catalogue.indicators:
        if not ind.quoted:
            continue
        total = totals_2021[ind.code]
        quote = (ind.quote or ind.sentence).format(figure=phrase(total.value, ind))
        if quote not in seed_text:
            missing.append(f"{ind.code}: {quote}")
    assert missing == []


def test_every_unit_reported_every_indicator(totals_2021: dict) -> None:
    for total in totals_2021.values():
        assert total.units_reported == total.units_expected


def test_samples_are_deterministic() -> None:
    assert sample_values(2020) == sample_values(2020)


def test_samples_stay_within_ranges_and_relations(catalogue: Catalogue, roster: Roster) -> None:
    for year in load_plan().years:
        values = sample_values(year)
        for unit_code, unit_values in values.items():
            for code, value in unit_values.items():
                ind = catalogue[code]
                assert ind.minimum <= value <= ind.maximum, (year, unit_code, code, value)
            if unit_code == roster.township.code:
                continue
            v = unit_values
            assert v["SOC02"] <= v["SOC01"]  # 劝返 <= 滞留
            assert v["ECO15"] + v["ECO16"] <= v["ECO14"]  # 整改 + 停养 <= 养殖户
            assert v["EFF20"] <= v["EFF19"]  # 已解决 <= 收集
            assert v["SOC04"] <= v["SOC03"]  # 下载 <= 在家居住
            assert (v["REV04"] > 0) == (v["REV03"] > 0)  # no loan money without loans


def test_figures_are_spread_unevenly(sample_2021: dict, roster: Roster) -> None:
    for code in ("REV01", "REV19", "EFF18"):
        per_village = [sample_2021[u.code][code] for u in roster.villages]
        assert pstdev(per_village) > 0.2 * (sum(per_village) / len(per_village)), code
    assert sum(sample_2021[u.code]["LIV03"] == 0 for u in roster.villages) == 3


def test_earlier_years_are_plausible_and_different(catalogue: Catalogue) -> None:
    y2021, y2019 = sample_values(2021), sample_values(2019)
    sum21 = sum(v["REV01"] for v in y2021.values() if "REV01" in v)
    sum19 = sum(v["REV01"] for v in y2019.values() if "REV01" in v)
    assert sum19 != sum21 and 0.5 * sum21 < sum19 < 1.1 * sum21


def test_allocate_respects_caps_and_total() -> None:
    ticks = allocate(100, [1.0, 5.0, 1.0], [50, 30, 50])
    assert sum(ticks) == 100 and ticks[1] == 30
    assert allocate(3, [1.0, 0.0, 1.0, 1.0], [9, 9, 9, 9], at_least_one=True) == [1, 0, 1, 1]
    with pytest.raises(ValueError):
        allocate(10, [1.0], [5])


def test_write_samples_covers_every_unit_and_year(tmp_path: Path, roster: Roster) -> None:
    paths = write_samples(tmp_path, [2020])
    assert len(paths) == len(roster.units)
    assert {p.parent.name for p in paths} == {"2020"}
