"""Charts of a year's outputs, as PNG files under ``output/<year>/charts/`` (issue 13).

Three questions a reader asks at a glance, each one chart with a fixed name (the Word
report embeds them by name):

- ``completeness.png``: who has reported, unit by unit and year by year;
- ``trends.png``: how this year compares with the years before, key figure by key figure;
- ``shares.png``: which villages carry a township total.

Each chart is two plain functions: one builds its data from rows (pure, tested without
images), one draws it. matplotlib draws on the Agg canvas with Noto Sans CJK SC (Debian's
fonts-noto-cjk); nothing is downloaded, and no pyplot state is touched. A chart's size
and resolution are fixed and its PNG carries no time, so the same data give the same bytes.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from village_reports.catalogue import Catalogue, Indicator, load_catalogue
from village_reports.files import write_atomically
from village_reports.model import HELD
from village_reports.report import TIMELINESS_TEXT, format_number
from village_reports.roster import Roster, load_roster
from village_reports.totals import TownshipTotal

CHART_NAMES = ("completeness", "trends", "shares")
MAX_YEARS = 10  # a decade fits the charts' width; older years stay in the warehouse
TREND_PANELS = 8
SHARE_PANELS = 6
SHARE_LEADERS = 6  # the villages named in a share panel; the rest are one bar, 其他

# Printed about 15 cm wide: the figure is drawn 16 cm wide, so that its fonts print at
# nearly the points set here (8 pt text, 11 pt title).
WIDTH_IN = 16 / 2.54
DPI = 200
CJK_FONT = "Noto Sans CJK SC"
CJK_FONT_FILES = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"),
)
_RC = {
    "font.family": "sans-serif",
    "font.sans-serif": [CJK_FONT],
    "font.size": 8,
    "axes.titlesize": 8.5,
    "axes.unicode_minus": False,  # an ASCII minus: every font has it
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#888888",
    "xtick.color": "#444444",
    "ytick.color": "#444444",
}

# Who reported: the view ``timeliness``'s values, worst last; colours tell them apart in
# colour, and each cell's short text on a black-and-white printer.
STATUS_ORDER = ("on_time", "late", "rejected", HELD, "missing")
STATUS_COLOURS = {
    "on_time": "#4daf4a",
    "late": "#ffb000",
    "rejected": "#e41a1c",
    HELD: "#984ea3",
    "missing": "#e6e6e6",
}
STATUS_SHORT = {"on_time": "按时", "late": "逾期", "rejected": "退回", HELD: "定稿后", "missing": "未报"}
OTHERS = "其他"


# ---- the data of each chart (pure) ------------------------------------------------------


def chart_years(year: int, known: Iterable[int]) -> tuple[int, ...]:
    """Every year from the first with data (at most MAX_YEARS back) to ``year``: a year
    without data stays on the axis, as a gap."""
    earlier = [int(y) for y in known if int(y) <= year]
    first = max(min(earlier, default=year), year - MAX_YEARS + 1)
    return tuple(range(first, year + 1))


def _round_robin(groups: Sequence[Sequence[Indicator]], limit: int) -> tuple[Indicator, ...]:
    """The first of each group, then the second of each…: every section gets a panel
    before any gets two."""
    picked: list[Indicator] = []
    for rank in range(max(map(len, groups), default=0)):
        picked += [group[rank] for group in groups if rank < len(group)]
    return tuple(picked[:limit])


def trend_figures(catalogue: Catalogue, limit: int = TREND_PANELS) -> tuple[Indicator, ...]:
    """The key figures drawn over the years: sections in turn, in catalogue order."""
    return _round_robin([catalogue.key_figures(s.code) for s in catalogue.sections], limit)


def share_figures(
    catalogue: Catalogue, totals: Mapping[str, TownshipTotal], limit: int = SHARE_PANELS
) -> tuple[Indicator, ...]:
    """The key figures whose villages' shares are drawn: those summed over the villages
    (a share of a ratio or of 镇本级's own figure means nothing) with a total above 0."""

    def shareable(ind: Indicator) -> bool:
        total = totals.get(ind.code)
        return ind.aggregation == "sum" and total is not None and (total.value or 0) > 0

    groups = [[i for i in catalogue.key_figures(s.code) if shareable(i)] for s in catalogue.sections]
    return _round_robin(groups, limit)


def with_current_year(
    history: Iterable[Mapping[str, Any]], year: int, totals: Mapping[str, TownshipTotal]
) -> list[dict[str, Any]]:
    """Earlier years' totals, and this year's as just computed (never a stored copy of them)."""
    rows = [dict(row) for row in history if int(row["year"]) != year]
    return rows + [
        {
            "year": year,
            "indicator_code": code,
            "value": t.value,
            "units_reported": t.units_reported,
            "units_expected": t.units_expected,
        }
        for code, t in totals.items()
    ]


def trend_series(
    rows: Iterable[Mapping[str, Any]], codes: Sequence[str], years: Sequence[int]
) -> dict[str, list[float | None]]:
    """Per indicator, its total in each of ``years``; None where there is none (a year
    nobody reported, or not in the warehouse): a gap, never 0."""
    found = {(int(r["year"]), str(r["indicator_code"])): r["value"] for r in rows}
    return {code: [None if found.get((y, code)) is None else float(found[y, code]) for y in years] for code in codes}


def partial_points(
    rows: Iterable[Mapping[str, Any]], codes: Sequence[str], years: Sequence[int]
) -> dict[str, list[str | None]]:
    """Per indicator and year of ``trend_series``, 已报 r/e where the total has a figure from
    only some of the units that report it (``TownshipTotal.is_complete``), else None: such a
    point is drawn apart from the line, never read as a fall."""
    found = {}
    for r in rows:
        reported, expected = r.get("units_reported"), r.get("units_expected")
        if r["value"] is not None and reported is not None and expected and int(reported) < int(expected):
            found[int(r["year"]), str(r["indicator_code"])] = f"已报{int(reported)}/{int(expected)}"
    return {code: [found.get((y, code)) for y in years] for code in codes}


@dataclass(frozen=True)
class Shares:
    """One township total split by village: the largest named, the rest together."""

    indicator_code: str
    total: float
    leaders: tuple[tuple[str, float], ...]  # (village name, value), largest first
    others: float
    others_count: int

    def percent(self, value: float) -> float:
        return 100.0 * value / self.total if self.total else 0.0


def village_shares(
    rows: Iterable[Mapping[str, Any]], codes: Sequence[str], roster: Roster, leaders: int = SHARE_LEADERS
) -> dict[str, Shares]:
    """Each indicator's villages' figures (rows of unit_code, indicator_code, value) as
    shares of their sum; 镇本级 and units outside the roster's villages take no part."""
    villages = {unit.code: unit.name for unit in roster.villages}
    values: dict[str, list[tuple[str, str, float]]] = {code: [] for code in codes}
    for row in rows:
        code, unit = str(row["indicator_code"]), str(row["unit_code"])
        if code in values and unit in villages and row["value"] is not None:
            values[code].append((unit, villages[unit], float(row["value"])))
    shares = {}
    for code, found in values.items():
        ranked = sorted(found, key=lambda item: (-item[2], item[0]))  # ties by unit code: stable
        named = [(name, value) for _, name, value in ranked[:leaders] if value > 0]
        rest = [value for _, _, value in ranked[len(named) :]]
        shares[code] = Shares(code, math.fsum(v for _, _, v in found), tuple(named), math.fsum(rest), len(rest))
    return shares


@dataclass(frozen=True)
class CompletenessGrid:
    years: tuple[int, ...]
    units: tuple[tuple[str, str], ...]  # (code, name), in roster order
    status: tuple[tuple[str, ...], ...]  # status[unit][year]: a key of STATUS_ORDER


def completeness_grid(rows: Iterable[Mapping[str, Any]], roster: Roster, years: Sequence[int]) -> CompletenessGrid:
    """Each roster unit's standing in each year (rows of year, unit_code, timeliness);
    a unit and year without a row is missing (未报)."""
    found = {(int(r["year"]), str(r["unit_code"])): str(r["timeliness"]) for r in rows}
    units = tuple((u.code, u.name) for u in roster.units)
    status = tuple(tuple(found.get((y, code), "missing") for y in years) for code, _ in units)
    return CompletenessGrid(tuple(years), units, status)


# ---- drawing ----------------------------------------------------------------------------

_FONTS_ADDED: set[Path] = set()


def use_cjk_font() -> str:
    """Make Noto Sans CJK SC known to matplotlib (once per process); its family name."""
    from matplotlib import font_manager

    for path in CJK_FONT_FILES:
        if path.exists() and path not in _FONTS_ADDED:
            font_manager.fontManager.addfont(str(path))
            _FONTS_ADDED.add(path)
    return CJK_FONT


def _figure(height_in: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _title(figure: Any, title: str, signoff_label: str) -> None:
    """The chart's title and, on its second line, 草稿 or 定稿: a draft on paper never
    passes for the signed-off figures. One text, so that the layout makes room for both."""
    figure.suptitle(f"{title}\n{signoff_label}" if signoff_label else title, fontsize=10.5, fontweight="bold")


def _save(figure: Any, path: Path) -> Path:
    buffer = io.BytesIO()
    # no Software key (matplotlib's version) and no time: the bytes follow the data only
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return write_atomically(path, buffer.getvalue())


def _wrap(text: str, width: int = 17) -> str:
    """A panel title broken every ``width`` characters (Chinese has no spaces to break at)."""
    return "\n".join(text[i : i + width] for i in range(0, len(text), width))


def _label(ind: Indicator) -> str:
    unit = "" if ind.measure_unit in ("是/否", "") else f"（{ind.measure_unit}）"
    return _wrap(ind.name + unit)


def draw_completeness(grid: CompletenessGrid, path: Path, title: str, signoff_label: str = "") -> Path:
    import numpy as np
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    many = len(grid.units) > 60  # a county: no names, no cell texts, just the colours
    figure = _figure(min(1.9 + 0.24 * len(grid.units), 11.0))
    ax = figure.add_subplot()
    codes = np.array([[STATUS_ORDER.index(s) for s in row] for row in grid.status], dtype=float)
    colours = ListedColormap([STATUS_COLOURS[s] for s in STATUS_ORDER])
    ax.pcolormesh(codes, cmap=colours, vmin=-0.5, vmax=len(STATUS_ORDER) - 0.5, edgecolors="white", linewidth=1.2)
    ax.set_xticks(np.arange(len(grid.years)) + 0.5, [f"{y}年" for y in grid.years])
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    if many:
        ax.set_yticks([])
        ax.set_ylabel(f"{len(grid.units)}个单位")
    else:
        ax.set_yticks(np.arange(len(grid.units)) + 0.5, [name for _, name in grid.units])
        for row, statuses in enumerate(grid.status):
            for column, status in enumerate(statuses):
                colour = "#333333" if status in ("missing", "late") else "white"
                short = STATUS_SHORT[status]
                ax.text(column + 0.5, row + 0.5, short, ha="center", va="center", fontsize=7, color=colour)
    ax.invert_yaxis()  # the roster's first unit at the top
    for spine in ax.spines.values():
        spine.set_visible(False)
    handles = [Patch(facecolor=STATUS_COLOURS[s], edgecolor="#999999", label=TIMELINESS_TEXT[s]) for s in STATUS_ORDER]
    figure.legend(handles=handles, loc="outside lower center", ncol=3, frameon=False, fontsize=7.5)
    _title(figure, title, signoff_label)
    return _save(figure, path)


def _change(values: Sequence[float | None], partial: Sequence[str | None]) -> str:
    """This year against the last, as the panel's corner says it (totals.comparable)."""
    if len(values) < 2 or values[-1] is None:
        return ""
    last, previous = values[-1], values[-2]
    if previous is None:
        return "上年无数据"
    if partial[-1] or partial[-2]:
        return f"{'本年' if partial[-1] else '上年'}未报齐"  # short: the panel's title shares the line
    if previous == 0:
        return "上年为0"
    return f"较上年{(last - previous) / previous:+.1%}"


def draw_trends(
    indicators: Sequence[Indicator],
    series: Mapping[str, Sequence[float | None]],
    years: Sequence[int],
    path: Path,
    title: str,
    signoff_label: str = "",
    partial: Mapping[str, Sequence[str | None]] | None = None,
) -> Path:
    """One panel per indicator over ``years``. A ``partial`` point (已报 r/e) is a hollow
    marker off the line: a sum over the units that have reported so far is no fall."""
    import numpy as np
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    rows = max(1, -(-len(indicators) // 2))
    figure = _figure(1.1 + 1.75 * rows)
    axes = figure.subplots(rows, 2, squeeze=False)
    x = np.array(years, dtype=float)
    for ax, ind in zip(axes.flat, indicators, strict=False):
        values = series[ind.code]
        marks = (partial or {}).get(ind.code) or [None] * len(values)
        y = np.array([np.nan if v is None else v for v in values], dtype=float)
        whole = np.array([np.nan if v is None or m else v for v, m in zip(values, marks, strict=True)], dtype=float)
        ax.set_title(_label(ind), loc="left", fontsize=8.5)
        ax.set_xlim(x[0] - 0.5, x[-1] + 0.5)
        ax.set_xticks(x, [str(year) for year in years])
        ax.yaxis.set_major_locator(MaxNLocator(4, integer=ind.type == "integer"))  # 4 人, never 4.5
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.10g}"))
        ax.grid(axis="y", color="#dddddd", linewidth=0.6)
        if np.isnan(y).all():
            ax.text(0.5, 0.5, "暂无数据", transform=ax.transAxes, ha="center", va="center", color="#888888")
            ax.set_yticks([])
            continue
        ax.plot(x, whole, color="#377eb8", marker="o", markersize=3.5, linewidth=1.6)  # NaN: the line breaks
        cut = [(xi, yi) for xi, yi, m in zip(x, y, marks, strict=True) if m]
        if cut:
            ax.plot(*zip(*cut, strict=True), "o", color="#377eb8", mfc="white", markersize=4.5, linestyle="none")
        top = np.nanmax(y)
        ax.set_ylim(0 if np.nanmin(y) >= 0 else None, top * 1.25 if top > 0 else 1)
        gaps = x[np.isnan(y)]
        if len(gaps):  # a year without data, marked on the axis so that a gap is not read as a fall
            ax.plot(gaps, np.zeros(len(gaps)), "x", color="#999999", markersize=5, clip_on=False)
        if not np.isnan(y[-1]):
            ax.plot(x[-1:], y[-1:], "o", color="#e41a1c", markersize=5.5, mfc="white" if marks[-1] else "#e41a1c")
            ax.annotate(
                format_number(y[-1], ind.decimals) + (f"（{marks[-1]}）" if marks[-1] else ""),
                (x[-1], y[-1]),
                textcoords="offset points",
                xytext=(0, 5),
                ha="center",
                fontsize=7.5,
                color="#e41a1c",
            )
        ax.text(
            1,
            1.02,
            _change(values, marks),
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=7,
            color="#555555",
        )
    for ax in list(axes.flat)[len(indicators) :]:
        ax.set_visible(False)
    figure.supxlabel(
        "红点：本年；空心点：未报齐（已报单位的合计，不与各年相连，不作比较）；× 该年无数据（空缺，不按0计）",
        fontsize=7,
        color="#555555",
    )
    _title(figure, title, signoff_label)
    return _save(figure, path)


def draw_shares(
    indicators: Sequence[Indicator],
    shares: Mapping[str, Shares],
    path: Path,
    title: str,
    signoff_label: str = "",
) -> Path:
    rows = max(1, -(-len(indicators) // 2))
    figure = _figure(1.1 + 2.2 * rows)
    axes = figure.subplots(rows, 2, squeeze=False)
    for ax, ind in zip(axes.flat, indicators, strict=False):
        split = shares[ind.code]
        names = [name for name, _ in split.leaders]
        percents = [split.percent(value) for _, value in split.leaders]
        colours = ["#377eb8"] * len(names)
        if split.others_count and split.others > 0:
            names.append(f"{OTHERS}{split.others_count}个")
            percents.append(split.percent(split.others))
            colours.append("#bbbbbb")
        total = format_number(split.total, ind.decimals)
        # the name and the total on lines of their own: a long title would run off the right column
        ax.set_title(f"{_wrap(ind.name, 13)}\n合计{total}{ind.measure_unit}", loc="left", fontsize=8.5)
        if not names:
            ax.text(0.5, 0.5, "暂无分村数据", transform=ax.transAxes, ha="center", va="center", color="#888888")
            ax.set_axis_off()
            continue
        positions = list(range(len(names)))
        ax.barh(positions, percents, color=colours, height=0.7)
        ax.set_yticks(positions, names)
        ax.set_ylim(SHARE_LEADERS + 0.5, -0.5)  # the largest share at the top; bars as thick in every panel
        ax.set_xlim(0, max(percents) * 1.3)
        ax.set_xticks([])
        ax.spines["bottom"].set_visible(False)
        ax.tick_params(axis="y", length=0)
        for position, percent in zip(positions, percents, strict=True):
            ax.text(percent, position, f" {percent:.1f}%", va="center", fontsize=7)
        top3 = sum(percents[: min(3, len(split.leaders))])
        ax.text(1, -0.02, f"前{min(3, len(split.leaders))}个合计占{top3:.0f}%", transform=ax.transAxes,
                ha="right", va="top", fontsize=7, color="#555555")  # fmt: skip
    for ax in list(axes.flat)[len(indicators) :]:
        ax.set_visible(False)
    _title(figure, title, signoff_label)
    return _save(figure, path)


# ---- the charts of one year --------------------------------------------------------------


def write_charts(
    folder: Path,
    year: int,
    totals: Mapping[str, TownshipTotal],
    history: Iterable[Mapping[str, Any]] = (),
    statuses: Iterable[Mapping[str, Any]] = (),
    village_figures: Iterable[Mapping[str, Any]] = (),
    catalogue: Catalogue | None = None,
    roster: Roster | None = None,
    signoff_label: str = "",
) -> dict[str, Path]:
    """The year's charts in ``folder``, by name (CHART_NAMES). ``history``: township
    totals of earlier years (year, indicator_code, value, units_reported, units_expected);
    ``statuses``: each unit's
    standing per year (year, unit_code, timeliness); ``village_figures``: this year's
    figures of the share_figures by unit (unit_code, indicator_code, value)."""
    from matplotlib import rc_context

    catalogue = catalogue or load_catalogue()
    roster = roster or load_roster()
    history = list(history)
    statuses = list(statuses)
    years = chart_years(year, [int(r["year"]) for r in history] + [int(r["year"]) for r in statuses])
    span = f"{years[0]}–{year}年" if len(years) > 1 else f"{year}年"
    place = roster.place
    trends = trend_figures(catalogue)
    points = with_current_year(history, year, totals)
    shared = share_figures(catalogue, totals)
    use_cjk_font()
    with rc_context(_RC):
        return {
            "completeness": draw_completeness(
                completeness_grid(statuses, roster, years),
                folder / "completeness.png",
                f"{place}{span} 各单位报送情况",
                signoff_label,
            ),
            "trends": draw_trends(
                trends,
                trend_series(points, [i.code for i in trends], years),
                years,
                folder / "trends.png",
                f"{place}{span} 主要指标历年变化（{year}年度）",
                signoff_label,
                partial_points(points, [i.code for i in trends], years),
            ),
            "shares": draw_shares(
                shared,
                village_shares(village_figures, [i.code for i in shared], roster),
                folder / "shares.png",
                f"{place}{year}年度 各村（居）占全镇合计的比重",
                signoff_label,
            ),
        }
