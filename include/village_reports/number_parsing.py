"""One cell's content as a number: what villages type, and what the reader tolerates.

Villages type numbers as text ('1,137', '１１３７', '约2000', '1137人', '1.2万', '85%'). A
cell is read as a number in its indicator's measure unit, with a note of what was
tolerated (text, an approximation), or as nothing, with the reason it could not be read.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time, timedelta
from typing import Any, NamedTuple

from village_reports import problems
from village_reports.catalogue import Indicator
from village_reports.model import Problem, Severity

EXCEL_ERRORS = {"#REF!", "#DIV/0!", "#VALUE!", "#N/A", "#NAME?", "#NUM!", "#NULL!", "#SPILL!", "#CALC!"}

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_APPROX_PREFIXES = ("大约", "约", "近", "超过", "逾", "过")
_APPROX_SUFFIXES = ("以上", "左右", "上下", "余", "多")

Finding = tuple[str, Severity, str]
"""A problem of a cell's content before it is placed: (code, severity, message)."""


class ParsedValue(NamedTuple):
    """A cell's number (None: blank or unreadable) and what the reader found in reading it."""

    value: float | None
    problems: tuple[Finding, ...] = ()


def normalise(text: str) -> str:
    """NFKC folds full-width digits and punctuation ('１，１３７' -> '1,137'); white space goes."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return "".join(text.split())


def figure_text(value: float) -> str:
    """A figure as the messages quote it: up to ten significant digits, no trailing zeros."""
    return f"{value:.10g}"


def _strip_measure(text: str, measure: str) -> tuple[str, float]:
    """Remove a trailing measure unit; returns the rest and the factor that converts to ``measure``."""
    measure = normalise(measure)
    if measure and text.endswith(measure):
        return text[: -len(measure)], 1.0
    if measure.startswith("万") and text.endswith(measure[1:]) and len(measure) > 1:
        return text[: -len(measure) + 1], 1e-4  # '7845000元' in a 万元 cell
    return text, 1.0


def _unplaced(problem: Problem) -> Finding:
    return problem.code, problem.severity, problem.message


def parse_number(raw: Any, indicator: Indicator) -> ParsedValue:
    """One cell's content as a number in the indicator's measure unit, with what was tolerated."""
    if type(raw) is float or type(raw) is int:  # the common case first: a number cell (bool is an int)
        return ParsedValue(round(float(raw), 10))
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return ParsedValue(None)
    name = indicator.name
    if isinstance(raw, bool | date | datetime | time | timedelta):
        return ParsedValue(None, (_unplaced(problems.make("cell.not_a_number", "not_text", name=name, raw=raw)),))
    if isinstance(raw, int | float):
        return ParsedValue(round(float(raw), 10))

    text = normalise(str(raw))
    if text.upper() in EXCEL_ERRORS:
        return ParsedValue(None, (_unplaced(problems.make("cell.formula_error", name=name, error=text)),))
    body = text.replace(",", "")
    body, factor = _strip_measure(body, indicator.measure_unit)
    percent = body.endswith("%")
    if percent:
        body = body[:-1]
    approx = ""
    for prefix in _APPROX_PREFIXES:
        if body.startswith(prefix):
            approx, body = prefix, body[len(prefix) :]
            break
    for suffix in _APPROX_SUFFIXES:
        if body.endswith(suffix):
            approx, body = approx + suffix, body[: -len(suffix)]
            break
    body, measure_factor = _strip_measure(body, indicator.measure_unit)
    factor *= measure_factor
    if body.endswith("万") and not indicator.measure_unit.startswith("万"):
        body, factor = body[:-1], factor * 10_000
    if not _NUMBER.match(body):
        return ParsedValue(None, (_unplaced(problems.make("cell.not_a_number", "text", name=name, raw=raw)),))
    if percent and indicator.type != "percentage":
        return ParsedValue(
            None,
            (_unplaced(problems.make("cell.not_a_number", "percent", name=name, measure_unit=indicator.measure_unit)),),
        )
    value = round(float(body) * factor, 10)
    if approx:
        found = _unplaced(problems.make("cell.approximate", name=name, raw=raw, value=figure_text(value)))
    else:
        found = _unplaced(
            problems.make(
                "cell.text_number", name=name, raw=raw, value=figure_text(value), measure_unit=indicator.measure_unit
            )
        )
    return ParsedValue(value, (found,))
