"""The checks every file gets after it is read, shared by the nightly run and the upload page.

The nightly run (``pipeline.validate_batch``) checks a batch at a time: one Great
Expectations run, then for each file the audit rules: relations, wrong files, outliers
against the other units and the unit's own earlier years, then the clerks' notes. The
upload page (``village_reports.pages``) checks one file the moment it arrives, with the
same functions, so that what the page says is what the night will say. Nothing here
writes the warehouse: the nightly run records its GX runs itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Engine

from village_reports import rules, warehouse
from village_reports.model import Grid, Problem, ReadResult
from village_reports.reader import read_workbook_and_grid
from village_reports.rules import load_rules

PeerSample = dict[str, dict[str, float]]  # "<year>:<code>" -> {unit code: value}
PeerTable = dict[tuple[int, str], rules.PeerStats]
History = dict[str, dict[str, dict[int, float]]]  # unit -> code -> {year: value}


def peer_figures(engine: Engine | None, years: Sequence[int]) -> PeerSample:
    """A bounded sample of the figures in force for ``years``, from the warehouse (none
    without one): what the outlier check compares each unit with."""
    sample: PeerSample = {}
    if years and engine is not None:
        for unit, year, code, value in warehouse.peer_figures(engine, years):
            sample.setdefault(f"{year}:{code}", {})[unit] = value
    return sample


def outlier_context(
    engine: Engine | None, results: Sequence[ReadResult], years: set[int], sample: PeerSample
) -> tuple[PeerTable, History]:
    """Peer statistics per (year, code) from ``sample`` plus the files' own figures (one
    figure per unit), and the history of the files' units from the warehouse (none without one)."""
    figures: dict[tuple[int, str], dict[str, float]] = {}
    for key, values in sample.items():
        year, code = key.split(":")
        figures.setdefault((int(year), code), {}).update(values)
    for result in results:
        for r in result.records:
            if r.unit_code and r.year and r.value is not None:
                figures.setdefault((r.year, r.indicator_code), {})[r.unit_code] = r.value
    peers = {key: rules.PeerStats.of(list(values.values())) for key, values in figures.items()}
    lookback = int(load_rules().history["years"])
    units = {r.unit_code for r in results if r.unit_code}
    history: History = {}
    if engine is not None and years:
        for unit, year, code, value in warehouse.unit_history(engine, units, min(years) - lookback, max(years) - 1):
            history.setdefault(unit, {}).setdefault(code, {})[year] = value
    return peers, history


def audit(
    result: ReadResult,
    file_name: str,
    year: int,
    gx_problems: Sequence[Problem],
    peers: PeerTable,
    history: History,
) -> list[Problem]:
    """Every problem of one read file: the reader's, the GX suite's (``gx_problems``), the
    relations, the wrong-file checks and the outliers, with the clerk's notes applied."""
    found = [
        *gx_problems,
        *rules.relation_problems(result),
        *rules.wrong_file_problems(result, file_name, year),
    ]
    if result.unit_code:
        codes = {r.indicator_code for r in result.records}
        found += rules.outlier_problems(
            result,
            {code: peers[year, code] for code in codes if (year, code) in peers},
            {
                code: {y: v for y, v in years.items() if y < year}
                for code, years in history.get(result.unit_code, {}).items()
            },
        )
    return rules.confirm_with_notes(result, [*result.problems, *found])


def check_file(path: Path, year: int, file_name: str, engine: Engine | None = None) -> tuple[ReadResult, Grid | None]:
    """One file read and checked as the nightly run would: its result, whose ``problems``
    are all it found, and the sheet it read (for the 回执). ``engine``: the warehouse to
    compare with (read only); None checks the file on its own."""
    from village_reports.validation import run_expectations  # GX's import costs seconds

    result, grid = read_workbook_and_grid(path, default_year=year)
    result.source = file_name
    outcome = run_expectations([result])
    peers, history = outlier_context(engine, [result], {year}, peer_figures(engine, [year]))
    result.problems = audit(result, file_name, year, outcome.problems[0], peers, history)
    return result, grid
