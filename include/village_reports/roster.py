"""The roster (填报单位名册): the 18 villages and residents' committees, and 镇本级.

Owner of ``data/roster.yaml``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from village_reports.catalogue import DATA_DIR
from village_reports.settings import read_yaml

ROSTER_FILE = DATA_DIR / "roster.yaml"
TOWNSHIP_KIND = "镇本级"


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    kind: str
    placeholder: bool = False
    full_name: str | None = None

    @property
    def reporter(self) -> Literal["village", "township"]:
        """Which part of the catalogue this unit fills in."""
        return "township" if self.kind == TOWNSHIP_KIND else "village"


@dataclass(frozen=True)
class Roster:
    township: Unit
    villages: tuple[Unit, ...]

    def __post_init__(self) -> None:
        # a county's roster has thousands of units: look them up by code and by name
        object.__setattr__(self, "_by_code", {u.code: u for u in self.units})
        object.__setattr__(self, "_by_name", {u.name: u for u in self.units})

    @property
    def units(self) -> tuple[Unit, ...]:
        """Every unit that submits a workbook: the villages, then 镇本级."""
        return (*self.villages, self.township)

    @property
    def place(self) -> str:
        """The township's own name as titles print it: 镇本级's name without 本级 ("毛田镇")."""
        return self.township.name.removesuffix("本级")

    def get(self, code: str) -> Unit | None:
        return self._by_code.get(code)  # type: ignore[attr-defined]

    def by_name(self, name: str) -> Unit | None:
        return self._by_name.get(name)  # type: ignore[attr-defined]

    def __getitem__(self, code: str) -> Unit:
        unit = self.get(code)
        if unit is None:
            raise KeyError(code)
        return unit


def check_roster(roster: Roster) -> list[str]:
    """Inconsistencies in the roster, as sentences (empty when sound)."""
    errors = []
    codes = [u.code for u in roster.units]
    names = [u.name for u in roster.units]
    if len(set(codes)) != len(codes):
        errors.append("duplicate unit codes")
    if len(set(names)) != len(names):
        errors.append("duplicate unit names")
    if roster.township.kind != TOWNSHIP_KIND:
        errors.append(f"the township's kind must be {TOWNSHIP_KIND}")
    errors += [
        f"{u.code}: kind {u.kind} is not 村 or 居委会" for u in roster.villages if u.kind not in ("村", "居委会")
    ]
    return errors


@cache
def load_roster(path: Path | None = None) -> Roster:
    """The roster; ``VILLAGE_REPORTS_ROSTER`` points to another file (a county's, a benchmark's)."""
    path = path or Path(os.environ.get("VILLAGE_REPORTS_ROSTER") or ROSTER_FILE)
    raw = read_yaml(path)
    roster = Roster(
        township=Unit(**raw["township"]),
        villages=tuple(Unit(**u) for u in raw["units"]),
    )
    errors = check_roster(roster)
    if errors:
        raise ValueError("roster: " + "; ".join(errors))
    return roster
