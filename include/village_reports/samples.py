"""Deterministic sample submissions: every unit's workbook for the sample years.

Owner of ``data/samples.yaml``. The reference year reproduces the totals behind the 2021
annual report; earlier years are scaled from it. Values are spread unevenly over the
villages (each village has a stable size, each figure its own noise), and respect the
relations a real form has (劝返 <= 滞留, 整改 + 停养 <= 养殖户, loan amount ~ loans).
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from village_reports import settings
from village_reports.catalogue import DATA_DIR, Catalogue, Indicator, load_catalogue
from village_reports.intake import read_register, write_register
from village_reports.roster import Roster, Unit, load_roster
from village_reports.settings import read_yaml
from village_reports.template import build_workbook, template_file_name

SAMPLES_FILE = DATA_DIR / "samples.yaml"

UnitValues = dict[str, dict[str, float]]  # unit code -> indicator code -> value


@dataclass(frozen=True)
class Spread:
    """How one village indicator's township total is spread over the units."""

    total: float
    nonzero_units: int | None = None
    even: bool = False
    proportional_to: str | None = None
    cap_by: str | None = None
    cap_factor: float = 1.0

    @classmethod
    def parse(cls, raw: Any) -> Spread:
        if not isinstance(raw, Mapping):
            return cls(total=float(raw))
        return cls(
            total=float(raw["total"]),
            nonzero_units=raw.get("nonzero_units"),
            even=raw.get("spread") == "even",
            proportional_to=raw.get("proportional_to"),
            cap_by=raw.get("cap_by"),
            cap_factor=float(raw.get("cap_factor", 1.0)),
        )


@dataclass(frozen=True)
class Draft:
    """A file a unit sent before its final one (samples.yaml, ``drafts``)."""

    unit: str
    label: str
    days_before: int
    set: dict[str, Any] = field(default_factory=dict)
    keep_first: int | None = None


@dataclass(frozen=True)
class SamplePlan:
    reference_year: int
    earlier_years: tuple[int, ...]
    yearly_factor: tuple[float, float]
    seed: int
    village: dict[str, Spread]
    township: dict[str, float]
    drafts: tuple[Draft, ...] = ()

    @property
    def years(self) -> tuple[int, ...]:
        return (*sorted(self.earlier_years), self.reference_year)


@cache
def load_plan(path: Path = SAMPLES_FILE) -> SamplePlan:
    raw = read_yaml(path)
    return SamplePlan(
        reference_year=int(raw["reference_year"]),
        earlier_years=tuple(int(y) for y in raw["earlier_years"]),
        yearly_factor=(float(raw["yearly_factor"][0]), float(raw["yearly_factor"][1])),
        seed=int(raw["seed"]),
        village={code: Spread.parse(v) for code, v in raw["village"].items()},
        township={code: float(v) for code, v in raw["township"].items()},
        drafts=tuple(Draft(**d) for d in raw.get("drafts", ())),
    )


def _ticks(value: float, indicator: Indicator) -> int:
    """Values are spread in whole steps of the indicator's last decimal place."""
    return round(value * 10**indicator.decimals)


def allocate(total: int, weights: list[float], caps: list[int], at_least_one: bool = False) -> list[int]:
    """Split ``total`` whole ticks by ``weights`` without exceeding ``caps`` (largest remainder)."""
    n = len(weights)
    alloc = [1 if at_least_one and weights[i] > 0 and caps[i] > 0 else 0 for i in range(n)]
    remaining = total - sum(alloc)
    if remaining < 0 or sum(caps) < total:
        raise ValueError(f"cannot spread {total} over caps {caps}")
    while remaining > 0:
        active = [i for i in range(n) if weights[i] > 0 and alloc[i] < caps[i]]
        if not active:
            active = [i for i in range(n) if alloc[i] < caps[i]]  # only zero-weight room left
            weights = [1.0 if i in active else 0.0 for i in range(n)]
        weight_sum = sum(weights[i] for i in active)
        shares = {i: remaining * weights[i] / weight_sum for i in active}
        given = 0
        for i in active:
            step = min(int(shares[i]), caps[i] - alloc[i])
            alloc[i] += step
            given += step
        if given == 0:
            for i in sorted(active, key=lambda i: shares[i] - int(shares[i]), reverse=True):
                if given == remaining:
                    break
                if alloc[i] < caps[i]:
                    alloc[i] += 1
                    given += 1
        remaining -= given
    return alloc


class _Generator:
    def __init__(self, plan: SamplePlan, catalogue: Catalogue, roster: Roster) -> None:
        self.plan, self.catalogue, self.roster = plan, catalogue, roster
        self.villages = roster.villages
        sizes = {u.code: random.Random(f"{plan.seed}:size:{u.code}").lognormvariate(0, 0.35) for u in self.villages}
        self.sizes = [sizes[u.code] for u in self.villages]

    def _rng(self, *parts: object) -> random.Random:
        return random.Random(":".join(str(p) for p in (self.plan.seed, *parts)))

    def year_factor(self, year: int, code: str) -> float:
        """Product of the yearly factors from ``year`` up to the reference year."""
        factor = 1.0
        low, high = self.plan.yearly_factor
        for y in range(year, self.plan.reference_year):
            factor *= self._rng("trend", y, code).uniform(low, high)
        return factor

    def village_values(self, year: int) -> list[dict[str, float]]:
        values: list[dict[str, float]] = [{} for _ in self.villages]
        used_of_cap: dict[str, list[int]] = {}
        for code, spread in self.plan.village.items():
            indicator = self.catalogue[code]
            n = len(self.villages)
            # a unit's share of a figure is stable across years, with a little yearly jitter,
            # so year-over-year checks see what real villages look like
            stable, yearly = self._rng("spread", code), self._rng("jitter", year, code)
            scale = 10**indicator.decimals
            range_cap = _ticks(indicator.maximum, indicator)
            caps = [range_cap] * n
            if spread.cap_by:
                parent = [_ticks(v[spread.cap_by] * spread.cap_factor, indicator) for v in values]
                used = used_of_cap.setdefault(spread.cap_by, [0] * n)
                caps = [min(c, p - u) for c, p, u in zip(caps, parent, used, strict=True)]
            total = _ticks(spread.total, indicator)
            if year != self.plan.reference_year and not spread.even:
                total = round(total * self.year_factor(year, code))
            total = min(total, sum(caps))

            if spread.even:
                ticks = [total // n] * n
            else:
                if spread.proportional_to:
                    weights = [v[spread.proportional_to] * stable.lognormvariate(0, 0.1) for v in values]
                else:
                    weights = [s * stable.lognormvariate(0, 0.25) for s in self.sizes]
                k = spread.nonzero_units
                if k is not None and k < n:
                    # weighted sampling without replacement (Efraimidis-Spirakis keys)
                    keys = [stable.random() ** (1 / w) if w > 0 else -1.0 for w in weights]
                    keep = set(sorted(range(n), key=keys.__getitem__, reverse=True)[: min(k, total)])
                    weights = [w if i in keep else 0.0 for i, w in enumerate(weights)]
                weights = [w * yearly.lognormvariate(0, 0.08) for w in weights]
                ticks = allocate(total, weights, caps, at_least_one=k is not None)
            if spread.cap_by:
                used_of_cap[spread.cap_by] = [u + t for u, t in zip(used_of_cap[spread.cap_by], ticks, strict=True)]
            for unit_values, t in zip(values, ticks, strict=True):
                unit_values[code] = round(t / scale, indicator.decimals)
        return values

    def township_values(self, year: int) -> dict[str, float]:
        values = {}
        for code, value in self.plan.township.items():
            indicator = self.catalogue[code]
            if year != self.plan.reference_year:
                # one factor for all of 镇本级's figures, rounded down, so that parts stay
                # within their whole (结案 + 移交 <= 受理) as they did in the reference year
                scale = 10**indicator.decimals
                value = math.floor(value * self.year_factor(year, "township") * scale) / scale
            value = min(max(value, indicator.minimum), indicator.maximum)
            values[code] = value
        return values


def sample_values(
    year: int,
    plan: SamplePlan | None = None,
    catalogue: Catalogue | None = None,
    roster: Roster | None = None,
) -> UnitValues:
    """Every unit's figures for one sample year: unit code -> indicator code -> value."""
    plan = plan or load_plan()
    catalogue = catalogue or load_catalogue()
    roster = roster or load_roster()
    generator = _Generator(plan, catalogue, roster)
    result: UnitValues = {}
    for unit, values in zip(roster.villages, generator.village_values(year), strict=True):
        result[unit.code] = values
    result[roster.township.code] = generator.township_values(year)
    return result


def _cell_value(value: float, indicator: Indicator) -> int | float:
    return int(value) if indicator.type == "integer" else value


def write_unit_sample(
    directory: Path, unit: Unit, year: int, values: Mapping[str, float], catalogue: Catalogue
) -> Path:
    typed = {code: _cell_value(v, catalogue[code]) for code, v in values.items()}
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / template_file_name(unit, year)
    build_workbook(unit, year, catalogue, values=typed).save(path)
    return path


def sample_received_at(year: int, unit: Unit, plan: SamplePlan, roster: Roster) -> datetime:
    """When a sample file 'arrived': January to March of the next year; one unit a year is late."""
    rng = random.Random(f"{plan.seed}:received:{year}:{unit.code}")
    late = random.Random(f"{plan.seed}:late:{year}").choice(roster.villages).code
    days = rng.randint(100, 115) if unit.code == late else rng.randint(4, 85)
    start = datetime(year + 1, 1, 1, 9, 0, tzinfo=settings.LOCAL_ZONE)
    return start + timedelta(days=days, minutes=rng.randint(0, 8 * 60))


def write_samples(inbox: Path, years: Iterable[int] | None = None, drafts: bool = False) -> list[Path]:
    """Write every unit's filled workbook under ``inbox/<year>/``, and when each 'arrived'
    into the year's register of received files (收件登记.csv: the pipeline's receipt time
    is its own, so past arrivals come from the register, as an office's import would);
    with ``drafts``, also the earlier files some units sent in the reference year."""
    plan = load_plan()
    catalogue = load_catalogue()
    roster = load_roster()
    paths = []
    for year in years or plan.years:
        per_unit = sample_values(year, plan, catalogue, roster)
        folder = inbox / str(year)
        received = {}
        for unit in roster.units:
            path = write_unit_sample(folder, unit, year, per_unit[unit.code], catalogue)
            arrived = sample_received_at(year, unit, plan, roster)
            received[path.name] = arrived
            os.utime(path, (arrived.timestamp(), arrived.timestamp()))  # as a copy would keep it
            paths.append(path)
            for draft in plan.drafts if drafts and year == plan.reference_year else ():
                if draft.unit == unit.code:
                    earlier = arrived - timedelta(days=draft.days_before)
                    paths.append(_write_draft(path, draft, unit, year, per_unit[unit.code], catalogue, earlier))
                    received[paths[-1].name] = earlier
        write_register(folder, {**read_register(folder), **received})
    return paths


def _write_draft(
    final: Path,
    draft: Draft,
    unit: Unit,
    year: int,
    values: Mapping[str, float],
    catalogue: Catalogue,
    arrived: datetime,
) -> Path:
    """The earlier file of ``draft``, beside its final file and dated before it."""
    typed: dict[str, Any] = {code: _cell_value(v, catalogue[code]) for code, v in values.items()}
    if draft.keep_first is not None:
        typed = {code: v if n < draft.keep_first else None for n, (code, v) in enumerate(typed.items())}
    typed.update(draft.set)
    # "(" sorts before ".": were both files to arrive at once, the final one is still the latest
    path = final.with_name(f"{final.stem}({draft.label}).xlsx")
    build_workbook(unit, year, catalogue, values=typed).save(path)
    os.utime(path, (arrived.timestamp(), arrived.timestamp()))
    return path
