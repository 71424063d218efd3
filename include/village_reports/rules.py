"""Audit rules (审核规则) beyond type and range: relations, outliers, wrong files, deadlines.

Owner of ``data/rules.yaml``. Plain functions over reader results; the history and peer
figures an outlier check needs are passed in, so nothing here touches the warehouse.
"""

from __future__ import annotations

import ast
import math
import operator
import re
import statistics
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from village_reports import problems
from village_reports.catalogue import DATA_DIR, Catalogue, load_catalogue
from village_reports.model import Problem, ReadResult
from village_reports.report import format_number
from village_reports.roster import Roster, load_roster
from village_reports.settings import LOCAL_ZONE, read_yaml

RULES_FILE = DATA_DIR / "rules.yaml"
# 31 March less 90 days is 1 January: a longer window would open before the year ended
MAX_REMINDER_DAYS = 90
MISSING_STRATEGIES = ("skip_if_any_missing", "skip_if_all_missing", "never_skip")
_OPERATORS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt, "==": operator.eq}
_ARITHMETIC = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
_CONSISTENCY = 0.5 * 10**-6  # float noise allowed when comparing sums of decimals


@dataclass(frozen=True)
class Relation:
    id: str
    left: str
    op: str
    right: str
    severity: str
    message: str
    missing: str = "skip_if_any_missing"

    @property
    def codes(self) -> frozenset[str]:
        return _names(self.left) | _names(self.right)

    @property
    def problem_type(self) -> problems.ProblemType:
        """The problem a broken relation raises: code ``rule.<id>``, its severity and message."""
        return problems.relation_type(self.id, self.severity, self.message)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Rules:
    deadline_month: int
    deadline_day: int
    reminder_days: int  # the reminder names who is missing from this many days before the deadline
    confirmable: frozenset[str]  # exact problem codes a note in 说明（备注） confirms
    outlier_severity: str
    peers: Mapping[str, float]
    history: Mapping[str, float]
    relations: tuple[Relation, ...]

    def deadline(self, year: int) -> str:
        """When reporting year ``year`` is due, as ISO 8601 UTC (end of the day in Shanghai)."""
        local = datetime(year + 1, self.deadline_month, self.deadline_day, 23, 59, 59, tzinfo=LOCAL_ZONE)
        return local.astimezone(UTC).isoformat(timespec="seconds")

    def deadline_date(self, year: int) -> date:
        """The last day (in Shanghai) on which reporting year ``year`` is on time."""
        return date(year + 1, self.deadline_month, self.deadline_day)

    def is_confirmable(self, code: str) -> bool:
        return code in self.confirmable


@cache
def _parsed(expression: str) -> ast.Expression:
    # parsed once per process: the relations are checked on every file
    return ast.parse(expression, mode="eval")


@cache
def _names(expression: str) -> frozenset[str]:
    return frozenset(n.id for n in ast.walk(_parsed(expression)) if isinstance(n, ast.Name))


def evaluate(expression: str, values: Mapping[str, float]) -> float:
    """Arithmetic over indicator codes: + - * / and numbers only (never eval)."""

    def walk(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.Name):
            return values[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
            return _ARITHMETIC[type(node.op)](walk(node.left), walk(node.right))
        raise ValueError(f"not allowed in a rule: {ast.dump(node)}")

    return walk(_parsed(expression))


def _relation(raw: Mapping[str, Any]) -> Relation:
    match = re.fullmatch(r"\s*(.+?)\s*(<=|>=|==|<|>)\s*(.+?)\s*", raw["rule"])
    if not match:
        raise ValueError(f"{raw['id']}: rule must read 'left <op> right'")
    left, op, right = match.groups()
    return Relation(
        raw["id"], left, op, right, raw["severity"], raw["message"], raw.get("missing", MISSING_STRATEGIES[0])
    )


def check_rules(rules: Rules, catalogue: Catalogue) -> list[str]:
    errors = []
    if not 0 <= rules.reminder_days <= MAX_REMINDER_DAYS:
        errors.append(f"reminder_days must be 0 to {MAX_REMINDER_DAYS}, not {rules.reminder_days}")
    for relation in rules.relations:
        unknown = relation.codes - set(catalogue.codes)
        if unknown:
            errors.append(f"{relation.id}: unknown indicators {sorted(unknown)}")
        reporters = {catalogue[c].reporter for c in relation.codes - unknown}
        if len(reporters) > 1:
            errors.append(f"{relation.id}: mixes indicators of different reporters")
        if relation.severity not in ("error", "warning"):
            errors.append(f"{relation.id}: severity must be error or warning")
        if relation.missing not in MISSING_STRATEGIES:
            errors.append(f"{relation.id}: missing must be one of {MISSING_STRATEGIES}")
    relation_codes = {problems.relation_code(relation.id) for relation in rules.relations}
    for code in sorted(rules.confirmable):
        if code not in problems.CODES and code not in relation_codes:
            errors.append(
                f"confirmable: unknown problem code {code!r} (the codes are registered in "
                "include/village_reports/problems.py; a relation's code is rule.<id>)"
            )
        elif code in problems.CODES and code not in problems.CONFIRMABLE:
            errors.append(f"confirmable: a note cannot confirm {code!r} (include/village_reports/problems.py)")
    return errors


@cache
def load_rules(path: Path = RULES_FILE) -> Rules:
    raw = read_yaml(path)
    rules = Rules(
        deadline_month=int(raw["submission_deadline"]["month"]),
        deadline_day=int(raw["submission_deadline"]["day"]),
        reminder_days=int(raw["reminder_days"]),
        confirmable=frozenset(raw["confirmable"]),
        outlier_severity=raw["outliers"]["severity"],
        peers=raw["outliers"]["peers"],
        history=raw["outliers"]["history"],
        relations=tuple(_relation(r) for r in raw["relations"]),
    )
    errors = check_rules(rules, load_catalogue())
    if errors:
        raise ValueError("rules: " + "; ".join(errors))
    return rules


# ---------------------------------------------------------------------------------------


def _fmt(value: float) -> str:
    return format_number(value, 3)


def relation_problems(result: ReadResult, rules: Rules | None = None) -> list[Problem]:
    rules = rules or load_rules()
    values = result.values()
    cells = {r.indicator_code: r.cell for r in result.records}
    found = []
    for relation in rules.relations:
        codes = relation.codes
        if not codes <= set(values):
            continue  # not this unit's form
        missing = [c for c in codes if values[c] is None]
        if missing and (
            relation.missing == "skip_if_any_missing"
            or (relation.missing == "skip_if_all_missing" and len(missing) == len(codes))
        ):
            continue
        filled = {c: (values[c] if values[c] is not None else 0.0) for c in codes}
        left, right = evaluate(relation.left, filled), evaluate(relation.right, filled)
        holds = _OPERATORS[relation.op](left, right) or (
            relation.op in ("<=", ">=", "==") and abs(left - right) < _CONSISTENCY
        )
        if holds:
            continue
        first = sorted(_names(relation.left))[0]
        found.append(
            problems.build(
                relation.problem_type,
                left=_fmt(left),
                right=_fmt(right),
                sheet=result.sheet or "",
                cell=cells.get(first, ""),
                indicator_code=first,
            )
        )
    return found


@dataclass(frozen=True)
class PeerStats:
    """Robust statistics of one indicator's figures across units in one year."""

    count: int
    zero_share: float
    median: float
    log_median: float
    log_mad: float

    @classmethod
    def of(cls, values: Sequence[float]) -> PeerStats:
        logged = [math.log1p(max(v, 0.0)) for v in values]
        log_median = statistics.median(logged)
        return cls(
            count=len(values),
            zero_share=sum(v == 0 for v in values) / len(values),
            median=statistics.median(values),
            log_median=log_median,
            log_mad=statistics.median(abs(v - log_median) for v in logged),
        )

    def modified_z(self, value: float) -> float | None:
        """Iglewicz–Hoaglin modified z-score of ``value``, on log(1 + x)."""
        if self.log_mad == 0:
            return None
        return 0.6745 * (math.log1p(max(value, 0.0)) - self.log_median) / self.log_mad


def peer_statistics(figures: Mapping[str, Sequence[float]]) -> dict[str, PeerStats]:
    """Indicator code -> statistics of its figures across units (computed once per batch)."""
    return {code: PeerStats.of(values) for code, values in figures.items() if values}


def outlier_problems(
    result: ReadResult,
    peers: Mapping[str, PeerStats],
    history: Mapping[str, Mapping[int, float]],
    rules: Rules | None = None,
    catalogue: Catalogue | None = None,
) -> list[Problem]:
    """Robust outlier checks for one unit's figures.

    ``peers``: indicator code -> statistics of the units' figures for the same year.
    ``history``: indicator code -> {earlier year: value} for this unit.
    """
    rules = rules or load_rules()
    catalogue = catalogue or load_catalogue()
    # read once: this loop runs for every figure of every file
    min_units, max_zero_share = rules.peers["min_units"], rules.peers["max_zero_share"]
    ratio, min_change, threshold = rules.peers["min_ratio"], rules.peers["min_change"], rules.peers["threshold"]
    lookback = int(rules.history["years"])
    jump_ratio, jump_change = rules.history["ratio"], rules.history["min_change"]
    severity = rules.outlier_severity
    found = []
    for record in result.records:
        indicator = catalogue.get(record.indicator_code)
        if record.value is None or indicator is None or indicator.reporter != "village":
            continue  # one 镇本级: no peers
        where = {"sheet": record.sheet, "cell": record.cell, "indicator_code": record.indicator_code}
        stats = peers.get(record.indicator_code)
        # 0 is a real answer ("none this year"), never an outlier against the others
        if stats and record.value > 0 and stats.count >= min_units:
            z = stats.modified_z(record.value) if stats.zero_share <= max_zero_share else None
            far = (record.value >= ratio * stats.median or record.value * ratio <= stats.median) and abs(
                record.value - stats.median
            ) >= min_change
            if z is not None and abs(z) > threshold and far:
                found.append(
                    problems.make(
                        "outlier.peers",
                        severity=severity,  # type: ignore[arg-type]
                        name=indicator.name,
                        value=_fmt(record.value),
                        measure_unit=indicator.measure_unit,
                        direction="远高于" if z > 0 else "远低于",
                        median=_fmt(stats.median),
                        **where,
                    )
                )
        past = history.get(record.indicator_code)
        earlier = [v for _, v in sorted(past.items())][-lookback:] if past else None
        if earlier:
            typical = statistics.median(earlier)
            jumped = record.value > jump_ratio * typical or record.value * jump_ratio < typical
            if jumped and abs(record.value - typical) >= jump_change:
                found.append(
                    problems.make(
                        "outlier.history",
                        severity=severity,  # type: ignore[arg-type]
                        name=indicator.name,
                        value=_fmt(record.value),
                        measure_unit=indicator.measure_unit,
                        typical=_fmt(typical),
                        **where,
                    )
                )
    return found


def _unit_named_in(file_name: str, roster: Roster) -> str | None:
    """The unit a file name points to, by a leading unit code or by a unit's name standing
    as a word of the name ('MT01_…', '白若村2021年报表.xlsx'); None if neither."""
    name = unicodedata.normalize("NFKC", Path(file_name).stem)
    match = re.match(r"^([A-Z]{2}\d{2,6})(?![0-9])", name.upper())
    if match and roster.get(match.group(1)):
        return match.group(1)
    for token in re.split(r"[_\-\s.()（）]+", name):
        word = re.sub(r"\d.*$", "", token)  # '白若村2021年报表' -> '白若村'
        unit = roster.by_name(word) if word else None
        if unit:
            return unit.code
    return None


def wrong_file_problems(
    result: ReadResult, file_name: str, folder_year: int, roster: Roster | None = None
) -> list[Problem]:
    """Wrong year for the folder it came in, or a workbook that belongs to another unit."""
    roster = roster or load_roster()
    found = []
    if result.year is not None and result.year != folder_year:
        found.append(
            problems.make("file.wrong_year", year=result.year, folder_year=folder_year, sheet=result.sheet or "")
        )
    claimed = _unit_named_in(file_name, roster)
    if claimed and result.unit_code and claimed != result.unit_code:
        workbook_unit = roster.get(result.unit_code)
        found.append(
            problems.make(
                "file.other_unit",
                named_unit=roster[claimed].name,
                workbook_unit=workbook_unit.name if workbook_unit else result.unit_code,
                sheet=result.sheet or "",
            )
        )
    return found


def confirm_with_notes(result: ReadResult, flagged: Sequence[Problem], rules: Rules | None = None) -> list[Problem]:
    """A flagged figure the clerk explained in its 说明 cell is at most a warning, and the
    reason stands in the message (and stays with the figure in the warehouse)."""
    rules = rules or load_rules()
    notes = {r.indicator_code: r.note for r in result.records if r.note}
    confirmed = []
    for problem in flagged:
        note = notes.get(problem.indicator_code)
        if note and problem.severity in ("error", "warning") and rules.is_confirmable(problem.code):
            problem = replace(problem, severity="warning", message=f"{problem.message}（已由填报单位说明：{note}）")
        confirmed.append(problem)
    return confirmed
