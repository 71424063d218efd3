"""The charts of issue 13: their data (pure), their PNG files, and the workbook's native charts."""

from __future__ import annotations

import dataclasses
import re
import warnings
import zipfile
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import text

from village_reports import charts, warehouse
from village_reports.catalogue import Catalogue
from village_reports.model import Record
from village_reports.report import CHART_SHEET, COMPARE_SHEET, write_totals_xlsx
from village_reports.roster import Roster
from village_reports.samples import sample_values
from village_reports.template import DATA_SHEET
from village_reports.totals import TownshipTotal
from village_reports.xlsx import FONT

from ...conftest import totals_in_a_warehouse
from ...oracle_totals import compute_totals

YEARS = (2019, 2020, 2021)


def records(year: int, change: tuple[str, str, float] | None = None) -> list[Record]:
    """The sample workbooks' figures for ``year``; ``change`` adds to one unit's figure."""
    found = []
    for unit, values in sample_values(year).items():
        for code, value in values.items():
            if change and (unit, code) == change[:2]:
                value += change[2]
            found.append(Record(unit, year, code, value, str(value), DATA_SHEET, "F6"))
    return found


@pytest.fixture(scope="module")
def yearly() -> dict[int, dict[str, TownshipTotal]]:
    return {year: compute_totals(records(year)) for year in YEARS}


def history(yearly: dict[int, dict[str, TownshipTotal]], years: tuple[int, ...]) -> list[dict]:
    """Stored totals as warehouse.totals_history returns them."""
    return [
        {
            "year": y,
            "indicator_code": c,
            "value": t.value,
            "units_reported": t.units_reported,
            "units_expected": t.units_expected,
        }
        for y in years
        for c, t in yearly[y].items()
    ]


def village_rows(found: list[Record], codes: list[str]) -> list[dict]:
    return [
        {"unit_code": r.unit_code, "indicator_code": r.indicator_code, "value": r.value}
        for r in found
        if r.indicator_code in codes
    ]


# ---- the charts' data ------------------------------------------------------------------------


def test_moving_one_village_figure_moves_its_share_and_the_years_trend(
    catalogue: Catalogue, roster: Roster, yearly: dict[int, dict[str, TownshipTotal]]
) -> None:
    moved = records(2021, ("MT03", "REV01", 12))
    totals = compute_totals(moved)
    codes = [ind.code for ind in charts.share_figures(catalogue, totals)]
    assert "REV01" in codes
    before = charts.village_shares(village_rows(records(2021), codes), codes, roster, leaders=18)["REV01"]
    after = charts.village_shares(village_rows(moved, codes), codes, roster, leaders=18)["REV01"]
    name = roster["MT03"].name
    assert dict(after.leaders)[name] == dict(before.leaders)[name] + 12
    assert after.total == before.total + 12
    assert after.percent(dict(after.leaders)[name]) > before.percent(dict(before.leaders)[name])

    def rev01(totals_2021: dict[str, TownshipTotal]) -> list[float | None]:
        rows = charts.with_current_year(history(yearly, (2019, 2020, 2021)), 2021, totals_2021)
        return charts.trend_series(rows, ["REV01"], YEARS)["REV01"]

    assert rev01(totals)[:2] == rev01(yearly[2021])[:2]
    assert rev01(totals)[2] == rev01(yearly[2021])[2] + 12  # this year's figure from this year's totals


def test_a_missing_year_is_a_gap_never_zero(yearly: dict[int, dict[str, TownshipTotal]]) -> None:
    years = charts.chart_years(2021, [2019, 2021])
    assert years == (2019, 2020, 2021)  # the year between stays on the axis
    nobody = dataclasses.replace(yearly[2021]["REV01"], value=None, units_reported=0)
    rows = charts.with_current_year(history(yearly, (2019,)), 2021, {**yearly[2021], "REV01": nobody})
    series = charts.trend_series(rows, ["REV01", "LIV01"], years)
    assert series["REV01"] == [yearly[2019]["REV01"].value, None, None]  # no file for 2020; nobody reported 2021
    assert series["LIV01"][1] is None and series["LIV01"][2] == yearly[2021]["LIV01"].value
    assert charts.chart_years(2030, range(2000, 2031))[0] == 2030 - charts.MAX_YEARS + 1


def test_a_partial_year_is_a_point_apart_and_not_compared(yearly: dict[int, dict[str, TownshipTotal]]) -> None:
    """A total from the units that have reported so far is marked (已报 r/e), and the
    panel's corner compares it with nothing (totals.comparable)."""
    so_far = dataclasses.replace(yearly[2021]["REV01"], value=60, units_reported=1)
    rows = charts.with_current_year(history(yearly, (2019, 2020)), 2021, {**yearly[2021], "REV01": so_far})
    marks = charts.partial_points(rows, ["REV01", "LIV01"], YEARS)
    assert marks == {"REV01": [None, None, "已报1/18"], "LIV01": [None, None, None]}
    series = charts.trend_series(rows, ["REV01"], YEARS)["REV01"]
    assert charts._change(series, marks["REV01"]) == "本年未报齐"
    assert charts._change(series, [None, "已报17/18", None]) == "上年未报齐"
    assert charts._change(series, [None, None, None]).startswith("较上年-")


def test_completeness_grid_has_every_roster_unit_and_year(roster: Roster) -> None:
    rows = [
        {"year": 2020, "unit_code": "MT02", "timeliness": "rejected"},
        {"year": 2021, "unit_code": "MT02", "timeliness": "late"},
        {"year": 2021, "unit_code": "MT00", "timeliness": "on_time"},
    ]
    grid = charts.completeness_grid(rows, roster, (2020, 2021))
    assert [code for code, _ in grid.units] == [u.code for u in roster.units]  # villages, then 镇本级
    assert grid.status[[c for c, _ in grid.units].index("MT02")] == ("rejected", "late")
    assert grid.status[-1] == ("missing", "on_time")
    assert set(charts.STATUS_ORDER) == set(charts.TIMELINESS_TEXT)  # every standing has a colour and a legend


def test_shares_are_of_summed_village_figures_only(
    catalogue: Catalogue, roster: Roster, yearly: dict[int, dict[str, TownshipTotal]]
) -> None:
    picked = charts.share_figures(catalogue, yearly[2021])
    assert picked and all(ind.aggregation == "sum" and ind.key for ind in picked)
    assert len({ind.section for ind in picked}) == len(picked)  # one per section before any section twice
    codes = [ind.code for ind in picked]
    shares = charts.village_shares(village_rows(records(2021), codes), codes, roster)
    for ind in picked:
        split = shares[ind.code]
        assert split.total == pytest.approx(yearly[2021][ind.code].value)
        assert sum(v for _, v in split.leaders) + split.others == pytest.approx(split.total)
        assert roster.township.name not in dict(split.leaders)


# ---- the PNG files -------------------------------------------------------------------------


def test_each_chart_is_a_drawn_png_of_fixed_size_with_its_chinese_text(
    tmp_path: Path, catalogue: Catalogue, roster: Roster, yearly: dict[int, dict[str, TownshipTotal]]
) -> None:
    from matplotlib import font_manager
    from PIL import Image

    codes = [ind.code for ind in charts.share_figures(catalogue, yearly[2021])]
    statuses = [
        {"year": y, "unit_code": u.code, "timeliness": "late" if u.code == "MT05" else "on_time"}
        for y in (2019, 2021)
        for u in roster.units
    ]

    def draw(folder: Path) -> dict[str, Path]:
        return charts.write_charts(
            folder,
            2021,
            yearly[2021],
            history=history(yearly, (2019,)),  # 2020 missing: a gap in every trend
            statuses=statuses,
            village_figures=village_rows(records(2021), codes),
            signoff_label="草稿（数据截至 2022-03-31 17:05，尚未审核定稿）",
        )

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        written = draw(tmp_path / "a")
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert not missing, missing[:3]  # every Chinese character drawn from Noto Sans CJK SC, no tofu
    found = font_manager.findfont(font_manager.FontProperties(family=charts.CJK_FONT), fallback_to_default=False)
    assert Path(found).name.startswith("NotoSansCJK"), found
    assert tuple(written) == charts.CHART_NAMES
    for name, path in written.items():
        assert path.name == f"{name}.png"
        with Image.open(path) as image:
            width, height = image.size
            pixels = image.convert("RGB")
            colours = pixels.getcolors(maxcolors=1 << 20) or []
        assert width == int(charts.WIDTH_IN * charts.DPI) and width / 2 < height < width * 2, (name, image.size)
        inked = sum(count for count, colour in colours if colour != (255, 255, 255))
        assert len(colours) > 50 and inked / (width * height) > 0.03, (name, len(colours), inked)
    again = draw(tmp_path / "b")  # the same data, the same bytes: no time in the file
    assert all(again[name].read_bytes() == path.read_bytes() for name, path in written.items())


# ---- the workbook's native charts ------------------------------------------------------------


def test_the_workbooks_charts_refer_to_its_tables_and_the_village_sheet_holds_the_warehouses_figures(
    tmp_path: Path, catalogue: Catalogue, roster: Roster, yearly: dict[int, dict[str, TownshipTotal]]
) -> None:
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    totals, _ = totals_in_a_warehouse(records(2021), url, 2021, catalogue, roster)
    engine = warehouse.get_engine(url)
    previous = yearly[2020]
    path = tmp_path / "township_totals.xlsx"
    unit_values = warehouse.current_values_by_unit(engine, 2021)
    write_totals_xlsx(path, 2021, totals, unit_values, catalogue, roster, previous=previous, signoff_label="草稿")

    workbook = openpyxl.load_workbook(path)
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT unit_code, indicator_code, value FROM village_indicator_values"))
        in_warehouse = {(unit, code): value for unit, code, value in stored}
    breakdown = workbook["分村明细"]
    heading = next(row for row in breakdown.iter_rows(values_only=True) if row[0] == "单位代码")
    codes = [str(cell).split("\n")[0] for cell in heading[2:]]
    shown = {
        (row[0], code): value
        for row in breakdown.iter_rows(min_row=4, values_only=True)
        for code, value in zip(codes, row[2:], strict=True)
        if value is not None
    }
    assert shown == in_warehouse
    assert [row[0] for row in breakdown.iter_rows(min_row=4, values_only=True)][-1] == roster.township.code

    def cells(reference: str) -> list:
        sheet, cell_range = reference.rsplit("!", 1)
        return [row[0].value for row in workbook[sheet.strip("'")][cell_range.replace("$", "")]]

    drawn = workbook[CHART_SHEET]._charts
    assert len(drawn) == 2
    change, villages = (chart.series[0] for chart in drawn)
    keys = catalogue.key_figures()
    assert cells(change.cat.numRef.f) == [ind.name for ind in keys]
    rates = cells(change.val.numRef.f)
    assert change.val.numRef.f.startswith(f"'{COMPARE_SHEET}'!$G$")
    rev01 = next(n for n, ind in enumerate(keys) if ind.code == "REV01")
    assert rates[rev01] == pytest.approx((totals["REV01"].value - previous["REV01"].value) / previous["REV01"].value)
    share = charts.share_figures(catalogue, totals)[0]
    assert cells(villages.cat.numRef.f) == [u.name for u in roster.villages]
    assert cells(villages.val.numRef.f) == [in_warehouse.get((u.code, share.code)) for u in roster.villages]
    with zipfile.ZipFile(path) as archive:
        xml = [archive.read(name).decode("utf-8") for name in archive.namelist() if name.startswith("xl/charts/")]
    assert len(xml) == 2 and all(re.search(rf'<a:ea typeface="{FONT}"', chart) for chart in xml)


def test_a_partial_year_has_no_change_in_the_workbook_and_says_why(
    tmp_path: Path, catalogue: Catalogue, roster: Roster, yearly: dict[int, dict[str, TownshipTotal]]
) -> None:
    """One unit has reported so far: 主要指标对比 shows both years' figures, no 增减 and no
    增减率, and 说明 says why; with nothing comparable, no 增减率 chart is drawn."""
    so_far = compute_totals([r for r in records(2021) if r.unit_code == "MT05"])
    path = tmp_path / "township_totals.xlsx"
    write_totals_xlsx(path, 2021, so_far, [], catalogue, roster, previous=yearly[2020], signoff_label="草稿")
    workbook = openpyxl.load_workbook(path)
    rows = {row[0]: row for row in workbook[COMPARE_SHEET].iter_rows(values_only=True) if row[0]}
    rev01 = rows["REV01"]
    assert rev01[3] == yearly[2020]["REV01"].value and rev01[4] == so_far["REV01"].value
    assert rev01[5:] == (None, None, "本年已报1个单位（应报18个），暂不比较")
    assert all(rows[ind.code][5] is None and rows[ind.code][7] for ind in catalogue.key_figures())
    drawn = [chart.series[0].val.numRef.f for chart in workbook[CHART_SHEET]._charts]
    assert not any(COMPARE_SHEET in reference for reference in drawn)  # no 增减率 chart
