"""Township totals from unit figures, by each indicator's aggregation rule.

Two steps, so that a county's millions of figures never sit in memory at once:

1. *Sources*: which cells feed which total (``source_rules``). The warehouse selects
   them set-based into ``township_total_source``, the provenance of every total;
   ``contributions`` does the same over records in memory.
2. *Arithmetic*: a handful of aggregates per total (units and sum per source) become
   the totals (``totals_from_aggregates``), whatever the number of units.

``compute_totals`` chains both over records in memory, for tests and small inputs.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from village_reports.catalogue import CONDITION_OPERATORS, Catalogue, Indicator, load_catalogue
from village_reports.model import Record
from village_reports.roster import Roster, load_roster


@dataclass(frozen=True)
class SourceRule:
    """The reported cells of ``source_code`` that count towards ``total_code``; for
    ``count_units``, only those meeting ``op threshold``."""

    total_code: str
    source_code: str
    op: str | None = None
    threshold: float | None = None

    def admits(self, value: float) -> bool:
        return self.op is None or CONDITION_OPERATORS[self.op](value, self.threshold)


def source_rules(catalogue: Catalogue | None = None) -> list[SourceRule]:
    catalogue = catalogue or load_catalogue()
    rules: list[SourceRule] = []
    for ind in catalogue.indicators:
        if ind.aggregation in ("sum", "township"):
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


@dataclass(frozen=True)
class Contribution:
    """One unit's cell behind a total."""

    total_code: str
    unit_code: str
    indicator_code: str  # the source indicator (a ratio's numerator or denominator)
    value: float
    sheet: str
    cell: str


def contributions(records: Iterable[Record], catalogue: Catalogue | None = None) -> Iterator[Contribution]:
    """In memory, what the warehouse writes to ``township_total_source``."""
    by_source: dict[str, list[SourceRule]] = defaultdict(list)
    for rule in source_rules(catalogue):
        by_source[rule.source_code].append(rule)
    for r in records:
        if r.value is None or not r.unit_code:
            continue
        for rule in by_source.get(r.indicator_code, ()):
            if rule.admits(r.value):
                yield Contribution(rule.total_code, r.unit_code, r.indicator_code, r.value, r.sheet, r.cell)


@dataclass
class Aggregates:
    """What the arithmetic needs, a few numbers per total."""

    # (total, source) -> (units, sum of values)
    sums: dict[tuple[str, str], tuple[int, float]] = field(default_factory=dict)
    # total -> units contributing to every one of its sources (a ratio's both parts)
    units_in_all_sources: dict[str, int] = field(default_factory=dict)
    # indicator -> units that reported a value for it (at least the counted_indicators)
    reported: dict[str, int] = field(default_factory=dict)


def aggregate(records: Iterable[Record], catalogue: Catalogue | None = None) -> Aggregates:
    """In memory, what the warehouse's aggregate queries return."""
    records = list(records)
    values: dict[tuple[str, str], list[float]] = defaultdict(list)
    sources_of_unit: dict[tuple[str, str], set[str]] = defaultdict(set)
    for c in contributions(records, catalogue):
        values[c.total_code, c.indicator_code].append(c.value)
        sources_of_unit[c.total_code, c.unit_code].add(c.indicator_code)
    needed = Counter(rule.total_code for rule in source_rules(catalogue))
    return Aggregates(
        sums={key: (len(v), math.fsum(v)) for key, v in values.items()},
        units_in_all_sources=dict(
            Counter(total for (total, _), sources in sources_of_unit.items() if len(sources) == needed[total])
        ),
        reported=dict(Counter(r.indicator_code for r in records if r.value is not None and r.unit_code)),
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
        if ind.aggregation in ("sum", "township"):
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


def compute_totals(
    records: Iterable[Record],
    catalogue: Catalogue | None = None,
    roster: Roster | None = None,
) -> dict[str, TownshipTotal]:
    """Totals from records in memory (tests, small inputs); the pipeline aggregates in SQL."""
    catalogue = catalogue or load_catalogue()
    return totals_from_aggregates(aggregate(records, catalogue), catalogue, roster)
