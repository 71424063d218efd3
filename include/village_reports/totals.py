"""How a township total is computed: every step of a year's totals, and its SQL in ``sql/totals/``.

Each indicator's ``aggregation`` in the catalogue says how its units' cells add up:

- ``sum``: the villages' figures added up, rounded to the indicator's places;
- ``township_only``: the 镇本级's own figure (only the township's workbook has that row), so
  one unit is expected, not the roster's villages;
- ``ratio``: sum of the ``numerator`` over sum of the ``denominator``, times ``scale``
  (立案任务完成率 in %); its units are those that reported both parts;
- ``count_units``: how many units' ``of`` figure meets ``condition`` (``> 0``); its units
  are those that reported ``of`` at all.

A total nobody reported has no value; ``units_reported`` of ``units_expected`` is its
completeness. ``compute_year`` recomputes one year in one transaction, in three steps, so
that a county's millions of figures never sit in memory:

1. *Provenance*: the cells each total draws on (``source_rules``) are selected set-based
   from the figures in force into ``township_total_source`` (``insert_sources.sql``).
   ``sources`` reads them back for the outputs (``township_total_sources.csv``, 数据来源).
2. *Aggregates*: a few numbers per total, units and sum per source (``aggregates.sql``).
3. *Arithmetic* (``totals_from_aggregates``), stored in ``township_total``
   (``insert_totals.sql``), which the view ``township_totals`` shows to analysts.

The tests check the warehouse's totals against an independent oracle over records in
memory (``tests/oracle_totals.py``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, bindparam

from village_reports.catalogue import Catalogue, Indicator, load_catalogue
from village_reports.faults import Refusal
from village_reports.roster import Roster, load_roster
from village_reports.warehouse import STREAM_ROWS, run_sql, sql


@dataclass(frozen=True)
class SourceRule:
    """The reported cells of ``source_code`` that count towards ``total_code``; for
    ``count_units``, only those meeting ``op threshold`` (``insert_sources.sql``)."""

    total_code: str
    source_code: str
    op: str | None = None
    threshold: float | None = None


def source_rules(catalogue: Catalogue | None = None) -> list[SourceRule]:
    catalogue = catalogue or load_catalogue()
    rules: list[SourceRule] = []
    for ind in catalogue.indicators:
        if ind.aggregation in ("sum", "township_only"):
            rules.append(SourceRule(ind.code, ind.code))
        elif ind.aggregation == "count_units":
            op, threshold = (ind.condition or "").split()
            rules.append(SourceRule(ind.code, ind.of or "", op, float(threshold)))
        elif ind.aggregation == "ratio":
            rules += [SourceRule(ind.code, ind.numerator or ""), SourceRule(ind.code, ind.denominator or "")]
    return rules


def counted_indicators(catalogue: Catalogue | None = None) -> list[str]:
    """Indicators whose reporting units a ``count_units`` total needs to know."""
    catalogue = catalogue or load_catalogue()
    return sorted({ind.of for ind in catalogue.indicators if ind.aggregation == "count_units" and ind.of})


@dataclass
class Aggregates:
    """What the arithmetic needs, a few numbers per total."""

    # (total, source) -> (units, sum of values)
    sums: dict[tuple[str, str], tuple[int, float]] = field(default_factory=dict)
    # total -> units contributing to every one of its sources (a ratio's both parts)
    units_in_all_sources: dict[str, int] = field(default_factory=dict)
    # indicator -> units that reported a value for it (at least the counted_indicators)
    reported: dict[str, int] = field(default_factory=dict)


def read_aggregates(connection: Connection, year: int, catalogue: Catalogue | None = None) -> Aggregates:
    """The year's aggregates, from its provenance rows (``aggregates.sql``)."""
    params = {"year": year}
    sums_of, units_by_sources, reported_of = sql("totals/aggregates")
    sums = {
        (r.total_code, r.source_code): (int(r.units), float(r.value_sum)) for r in connection.execute(sums_of, params)
    }
    sources_needed = Counter(rule.total_code for rule in source_rules(catalogue))
    counted = counted_indicators(catalogue)
    reported = reported_of.bindparams(bindparam("indicator_codes", expanding=True))
    return Aggregates(
        sums=sums,
        units_in_all_sources={
            r.total_code: int(r.units)
            for r in connection.execute(units_by_sources, params)
            if r.sources == sources_needed[r.total_code]
        },
        reported={
            r.indicator_code: int(r.units)
            for r in (connection.execute(reported, {**params, "indicator_codes": counted}) if counted else ())
        },
    )


@dataclass(frozen=True)
class TownshipTotal:
    indicator_code: str
    value: float | None  # None: nobody reported it
    units_reported: int
    units_expected: int

    @property
    def completeness(self) -> float:
        return self.units_reported / self.units_expected if self.units_expected else 0.0

    @property
    def is_complete(self) -> bool:
        """Every unit that reports the indicator has reported it."""
        return self.units_expected > 0 and self.units_reported == self.units_expected


def comparable(current: TownshipTotal, previous: TownshipTotal | None) -> bool:
    """Whether this year's total may be set against last year's. Both must have a figure
    from every unit that reports it: a sum over the 1 unit that has sent its file so far,
    set against last year's 18, would read as a fall of 95%. The view ``year_over_year``
    says the same in SQL (sql/views.sql), and a test holds the two together."""
    return (
        previous is not None
        and current.value is not None
        and previous.value is not None
        and current.is_complete
        and previous.is_complete
    )


def previous_year(engine: Engine, year: int) -> dict[str, TownshipTotal]:
    """Last year's stored township totals by indicator (view ``year_over_year``), each with
    the units it came from; none where last year has no totals, a None value where nobody
    reported the indicator (the report says 上年无数据)."""
    with engine.connect() as connection:
        rows = connection.execute(sql("dml/select_previous_totals")[0], {"year": year})
        return {
            row.indicator_code: TownshipTotal(
                row.indicator_code,
                row.previous_value,
                int(row.previous_units_reported),
                int(row.previous_units_expected),
            )
            for row in rows
        }


def _expected(indicator: Indicator, roster: Roster) -> int:
    return 1 if indicator.reporter == "township" else len(roster.villages)


def totals_from_aggregates(
    aggregates: Aggregates,
    catalogue: Catalogue | None = None,
    roster: Roster | None = None,
) -> dict[str, TownshipTotal]:
    """Totals for one reporting year: indicator code -> TownshipTotal, in catalogue order."""
    catalogue = catalogue or load_catalogue()
    roster = roster or load_roster()

    def summed(ind: Indicator, source: str) -> tuple[int, float | None]:
        units, total = aggregates.sums.get((ind.code, source), (0, 0.0))
        return units, (total if units else None)

    totals: dict[str, TownshipTotal] = {}
    for ind in catalogue.indicators:
        if ind.aggregation in ("sum", "township_only"):
            units, value = summed(ind, ind.code)
            rounded = None if value is None else ind.round(value)
            totals[ind.code] = TownshipTotal(ind.code, rounded, units, _expected(ind, roster))
        elif ind.aggregation == "count_units":
            reported = aggregates.reported.get(ind.of or "", 0)
            meeting, _ = summed(ind, ind.of or "")
            totals[ind.code] = TownshipTotal(
                ind.code, float(meeting) if reported else None, reported, len(roster.villages)
            )
        elif ind.aggregation == "ratio":
            _, numerator = summed(ind, ind.numerator or "")
            _, denominator = summed(ind, ind.denominator or "")
            value = None
            if numerator is not None and denominator:
                value = ind.round(numerator / denominator * ind.scale)
            totals[ind.code] = TownshipTotal(
                ind.code,
                value,
                aggregates.units_in_all_sources.get(ind.code, 0),
                _expected(catalogue[ind.numerator or ""], roster),
            )
    return totals


MOVED_LISTED = 10  # totals named in a refusal to change an approved year; the rest are counted


class ApprovedTotalsChanged(Refusal):
    """A signed-off year's totals, recomputed, differ from those its approval saw."""


def compute_year(
    engine: Engine, year: int, catalogue: Catalogue | None = None, roster: Roster | None = None
) -> dict[str, TownshipTotal]:
    """One year's totals, recomputed and stored in one transaction: provenance selected
    set-based, then a few aggregates per total; memory does not grow with the units.

    A signed-off (locked) year's totals never change under it. Its files cannot change
    (a late one is held), but an edited catalogue or roster could: then nothing is stored
    and ``ApprovedTotalsChanged`` names what would move, until the year is reopened."""
    catalogue = catalogue or load_catalogue()
    with engine.begin() as connection:
        snapshot = connection.execute(sql("totals/select_approved")[0], {"year": year})
        approved = {row.indicator_code: row.value for row in snapshot}
        run_sql(connection, "totals/clear_year", {"year": year})
        rules = [{**vars(rule), "year": year} for rule in source_rules(catalogue)]
        if rules:
            run_sql(connection, "totals/insert_sources", rules)
        totals = totals_from_aggregates(read_aggregates(connection, year, catalogue), catalogue, roster)
        if approved:  # raised inside the transaction: the stored totals stay as approved
            _refuse_a_change(year, approved, totals, catalogue)
        run_sql(connection, "totals/insert_totals", [{**vars(total), "year": year} for total in totals.values()])
    return totals


def _same(a: float | None, b: float | None) -> bool:
    return a is b is None or (a is not None and b is not None and math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-9))


def _refuse_a_change(
    year: int, approved: Mapping[str, float | None], totals: Mapping[str, TownshipTotal], catalogue: Catalogue
) -> None:
    # an indicator added to or removed from the catalogue moves nothing where it has no
    # figure: the years before it were never reported, and a removed empty one shows nothing
    now = {code: total.value for code, total in totals.items()}
    moved = [
        (code, approved.get(code), now.get(code))
        for code in sorted(set(approved) | set(now))
        if not _same(approved.get(code), now.get(code))
    ]
    if not moved:
        return

    def shown(value: float | None) -> str:
        return "—" if value is None else f"{value:,.10g}"

    listed = "；".join(
        f"{code}{_named(catalogue, code)} {shown(a)} → {shown(b)}" for code, a, b in moved[:MOVED_LISTED]
    )
    more = f"；另有 {len(moved) - MOVED_LISTED} 项" if len(moved) > MOVED_LISTED else ""
    raise ApprovedTotalsChanged(
        f"{year} 年度已审核定稿，但按现行的指标目录和名册重算，{len(moved)} 项合计与定稿时不同：{listed}{more}。"
        "定稿的数字和输出均未改动。如确需按新口径修改，请先重新开放该年度（township_reopen），再审核定稿。"
    )


def _named(catalogue: Catalogue, code: str) -> str:
    indicator = catalogue.get(code)
    return f"（{indicator.name}）" if indicator else "（已从指标目录删除）"


def sources(engine: Engine, year: int) -> Iterator[Mapping[str, Any]]:
    """Every cell behind a year's totals, in report order (streamed)."""
    with engine.connect() as connection:
        rows = connection.execution_options(stream_results=True, yield_per=STREAM_ROWS).execute(
            sql("totals/select_sources")[0], {"year": year}
        )
        # read-only mappings: a county's 1.4 M rows are not copied into dicts
        yield from rows.mappings()
