"""What the dashboard shows, read through the analysts' views only (``sql/pages/``).

Who has reported (units × years), the latest files and what became of them, a year's
township totals against last year's, and that year's outputs. Read only: a missing
warehouse (no nightly run yet) shows the roster's units as 未报, and never creates one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from village_reports import settings, warehouse
from village_reports.catalogue import Catalogue, load_catalogue
from village_reports.number_parsing import figure_text
from village_reports.report import change_text
from village_reports.roster import load_roster
from village_reports.totals import TownshipTotal

# the view timeliness's values, as the township says them
STANDING_TEXT = {
    "on_time": "按时",
    "late": "逾期",
    "rejected": "退回",
    "received_after_signoff": "定稿后收到",
    "missing": "未报",
}
OUTCOME_TEXT = {
    "accepted": "已接收",
    "accepted_with_warnings": "已接收（有提示）",
    "rejected": "退回",
    "duplicate": "重复",
    "received_after_signoff": "定稿后收到",
}
# The outputs of a year that the page links to (report.write_outputs writes them): a name
# on this list is served from <output>/<year>/, nothing else is.
OUTPUT_FILES = {
    "annual_report.docx": "年度工作总结（Word）",
    "annual_report.md": "年度工作总结（文本）",
    "township_totals.xlsx": "汇总表（Excel）",
    "township_totals.csv": "汇总表（CSV）",
    "township_total_sources.csv": "数字来源（CSV）",
    "charts/completeness.png": "图：报送情况",
    "charts/trends.png": "图：主要指标趋势",
    "charts/shares.png": "图：各村占比",
}
LATEST_LISTED = 30

T = TypeVar("T")


def warehouse_engine() -> Engine | None:
    """The warehouse to read, or None while there is none: an embedded SQLite file that
    does not exist yet is not created by looking at it."""
    url = settings.warehouse_url()
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        return None
    return warehouse.get_engine(url)


def read(engine: Engine | None, default: T, query: Callable[[Engine], T]) -> T:
    """``query``'s answer, or ``default`` without a warehouse or before its views exist."""
    if engine is None:
        return default
    try:
        return query(engine)
    except DBAPIError:
        return default


def _rows(engine: Engine, name: str, **params: Any) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(warehouse.sql(f"pages/{name}")[0], params).mappings()]


def known_years(engine: Engine | None) -> list[int]:
    return read(engine, [], lambda e: [int(r["year"]) for r in _rows(e, "years")])


@dataclass(frozen=True)
class Grid:
    """Units × years: each unit's standing in each year, as the township says it."""

    years: list[int]
    units: list[tuple[str, str]]  # (code, name), in the roster's order
    cells: dict[tuple[str, int], str]  # (unit code, year) -> 按时 …

    def cell(self, unit: str, year: int) -> str:
        return self.cells.get((unit, year), STANDING_TEXT["missing"])


def completeness(engine: Engine | None, years: list[int]) -> Grid:
    rows = read(engine, [], lambda e: _rows(e, "completeness_grid"))
    cells = {(r["unit_code"], int(r["year"])): STANDING_TEXT.get(r["timeliness"], r["timeliness"]) for r in rows}
    units = [(u.code, u.name) for u in load_roster().units]
    return Grid(years, units, cells)


def latest_files(engine: Engine | None) -> list[dict[str, Any]]:
    rows = read(engine, [], lambda e: _rows(e, "latest_files", limit=LATEST_LISTED))
    roster = load_roster()
    for row in rows:
        unit = roster.get(row["unit_code"] or "")
        row["unit_name"] = unit.name if unit else "未识别"
        row["outcome_text"] = OUTCOME_TEXT.get(row["outcome"], row["outcome"] or "待处理")
    return rows


def _change(row: dict[str, Any], catalogue: Catalogue) -> str:
    """比上年 …, in the annual report's words (report.change_text): no change where a year's
    total is partial, 上年无数据 without last year's figure."""
    ind = catalogue.get(row["indicator_code"])
    if ind is None:  # an indicator the catalogue no longer has: its figures, no wording
        return ""
    current = TownshipTotal(ind.code, row["value"], int(row["units_reported"]), int(row["units_expected"]))
    last = None
    if row["previous_units_expected"] is not None:
        last = TownshipTotal(
            ind.code, row["previous_value"], int(row["previous_units_reported"]), int(row["previous_units_expected"])
        )
    return change_text(current, last, ind)


def totals(engine: Engine | None, year: int) -> list[dict[str, Any]]:
    rows = read(engine, [], lambda e: _rows(e, "totals", year=year))
    catalogue = load_catalogue()
    for row in rows:
        row["value_text"] = "" if row["value"] is None else figure_text(round(row["value"], 4))
        row["previous_text"] = "" if row["previous_value"] is None else figure_text(round(row["previous_value"], 4))
        row["change_text"] = _change(row, catalogue)
    return rows


def signoff_label(engine: Engine | None, year: int) -> str:
    rows = read(engine, [], lambda e: _rows(e, "signoff", year=year))
    if rows and rows[0]["locked"]:
        return f"定稿（{rows[0]['actor']} 于 {rows[0]['acted_at_beijing']} 审核通过）"
    return "草稿（尚未审核定稿）"


def outputs(year: int) -> list[tuple[str, str]]:
    """The year's outputs that exist: (name, label)."""
    folder = settings.output_dir() / str(year)
    return [(name, label) for name, label in OUTPUT_FILES.items() if (folder / name).is_file()]


def output_path(year: int, name: str) -> Path | None:
    """An output of the year, only by a name on ``OUTPUT_FILES``; None for anything else."""
    if name not in OUTPUT_FILES:
        return None
    path = settings.output_dir() / str(year) / name
    return path if path.is_file() and not path.is_symlink() else None
