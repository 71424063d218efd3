"""A test oracle for the township totals: the catalogue's aggregation rules applied to
records in memory, written apart from ``village_reports.totals`` (which computes them in
the warehouse, set-based) so that tests can hold one against the other. The pipeline
never uses it.

- sum, township: the cells added up, rounded to the indicator's places;
- ratio: sum of the numerator over sum of the denominator, times scale; its units are
  those that reported both parts;
- count_units: how many units' ``of`` meets the condition; its units reported ``of``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from village_reports.catalogue import Catalogue, Indicator, load_catalogue
from village_reports.model import Record
from village_reports.roster import Roster, load_roster
from village_reports.totals import TownshipTotal


@dataclass(frozen=True)
class Contribution:
    """One unit's cell behind a total: a row of ``township_total_source``."""

    total_code: str
    unit_code: str
    indicator_code: str  # the source indicator (a ratio's numerator or denominator)
    value: float
    sheet: str
    cell: str


def _sources(indicator: Indicator) -> list[str]:
    """The indicators whose cells a total draws on."""
    if indicator.aggregation == "count_units":
        return [indicator.of or ""]
    if indicator.aggregation == "ratio":
        return [indicator.numerator or "", indicator.denominator or ""]
    return [indicator.code]


def contributions(records: Iterable[Record], catalogue: Catalogue | None = None) -> Iterator[Contribution]:
    """Every cell behind every total, as the warehouse's provenance should hold them."""
    catalogue = catalogue or load_catalogue()
    reported = [r for r in records if r.value is not None and r.unit_code]
    for ind in catalogue.indicators:
        for source in _sources(ind):
            for r in reported:
                if r.indicator_code != source:
                    continue
                if ind.aggregation == "count_units" and not ind.meets_condition(r.value):  # type: ignore[arg-type]
                    continue
                yield Contribution(ind.code, r.unit_code, source, r.value, r.sheet, r.cell)  # type: ignore[arg-type]


def compute_totals(
    records: Iterable[Record], catalogue: Catalogue | None = None, roster: Roster | None = None
) -> dict[str, TownshipTotal]:
    """Totals for one year's records: indicator code -> TownshipTotal, in catalogue order."""
    catalogue = catalogue or load_catalogue()
    roster = roster or load_roster()
    villages = len(roster.villages)
    values: dict[str, dict[str, float]] = defaultdict(dict)  # indicator -> unit -> value
    for r in records:
        if r.value is not None and r.unit_code:
            values[r.indicator_code][r.unit_code] = r.value

    def expected(ind: Indicator) -> int:
        return 1 if ind.reporter == "township" else villages

    totals: dict[str, TownshipTotal] = {}
    for ind in catalogue.indicators:
        if ind.aggregation in ("sum", "township_only"):
            cells = values[ind.code]
            value = ind.round(math.fsum(cells.values())) if cells else None
            totals[ind.code] = TownshipTotal(ind.code, value, len(cells), expected(ind))
        elif ind.aggregation == "count_units":
            cells = values[ind.of or ""]
            meeting = sum(ind.meets_condition(v) for v in cells.values())
            totals[ind.code] = TownshipTotal(ind.code, float(meeting) if cells else None, len(cells), villages)
        elif ind.aggregation == "ratio":
            numerator, denominator = values[ind.numerator or ""], values[ind.denominator or ""]
            value = None
            if numerator and math.fsum(denominator.values()):
                value = ind.round(math.fsum(numerator.values()) / math.fsum(denominator.values()) * ind.scale)
            both = len(numerator.keys() & denominator.keys())
            totals[ind.code] = TownshipTotal(ind.code, value, both, expected(catalogue[ind.numerator or ""]))
    return totals
