"""Township totals from unit figures, by each indicator's aggregation rule.

Plain functions over reader records, so the same arithmetic serves the pipeline, the
tests and the benchmarks. Every total keeps the cells it came from (provenance).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from village_reports.catalogue import Catalogue, Indicator, load_catalogue
from village_reports.reader import Record
from village_reports.roster import Roster, load_roster


@dataclass(frozen=True)
class Contribution:
    """One unit's cell behind a total."""

    unit_code: str
    indicator_code: str
    value: float
    sheet: str
    cell: str


@dataclass(frozen=True)
class TownshipTotal:
    indicator_code: str
    value: float | None  # None: nobody reported it
    units_reported: int
    units_expected: int
    contributions: tuple[Contribution, ...] = ()

    @property
    def completeness(self) -> float:
        return self.units_reported / self.units_expected if self.units_expected else 0.0


def _contribution(record: Record) -> Contribution:
    return Contribution(record.unit_code or "", record.indicator_code, record.value or 0.0, record.sheet, record.cell)


def _reported(by_code: dict[str, list[Record]], code: str) -> list[Record]:
    return [r for r in by_code.get(code, []) if r.value is not None]


def _expected(indicator: Indicator, roster: Roster) -> int:
    return 1 if indicator.reporter == "township" else len(roster.villages)


def _summed(indicator: Indicator, records: list[Record], expected: int) -> TownshipTotal:
    value = indicator.round(math.fsum(r.value for r in records)) if records else None  # type: ignore[misc]
    return TownshipTotal(indicator.code, value, len(records), expected, tuple(map(_contribution, records)))


def compute_totals(
    records: Iterable[Record],
    catalogue: Catalogue | None = None,
    roster: Roster | None = None,
) -> dict[str, TownshipTotal]:
    """Totals for one reporting year: indicator code -> TownshipTotal, in catalogue order."""
    catalogue = catalogue or load_catalogue()
    roster = roster or load_roster()
    by_code: dict[str, list[Record]] = {}
    for record in records:
        by_code.setdefault(record.indicator_code, []).append(record)

    totals: dict[str, TownshipTotal] = {}
    for ind in catalogue.indicators:
        if ind.aggregation in ("sum", "township"):
            totals[ind.code] = _summed(ind, _reported(by_code, ind.code), _expected(ind, roster))
        elif ind.aggregation == "count_units":
            source = _reported(by_code, ind.of or "")
            meeting = [r for r in source if ind.meets_condition(r.value)]  # type: ignore[arg-type]
            value = float(len(meeting)) if source else None
            totals[ind.code] = TownshipTotal(
                ind.code, value, len(source), len(roster.villages), tuple(map(_contribution, meeting))
            )
        elif ind.aggregation == "ratio":
            numerator = _summed(catalogue[ind.numerator or ""], _reported(by_code, ind.numerator or ""), 0)
            denominator = _summed(catalogue[ind.denominator or ""], _reported(by_code, ind.denominator or ""), 0)
            units = {c.unit_code for c in numerator.contributions} & {c.unit_code for c in denominator.contributions}
            value = None
            if numerator.value is not None and denominator.value:
                value = ind.round(numerator.value / denominator.value * ind.scale)
            totals[ind.code] = TownshipTotal(
                ind.code,
                value,
                len(units),
                _expected(catalogue[ind.numerator or ""], roster),
                numerator.contributions + denominator.contributions,
            )
    return totals
