"""The pipeline's steps as plain functions over plain (JSON-able) data.

Airflow tasks call these and pass their results through XCom; tests and benchmarks call
them directly. Nothing here imports Airflow.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from village_reports import intake, settings, warehouse
from village_reports.intake import Arrival
from village_reports.reader import Problem, ReadResult, Record, read_workbook
from village_reports.report import write_outputs
from village_reports.roster import load_roster
from village_reports.totals import compute_totals

log = logging.getLogger(__name__)

Batch = dict[str, Any]  # {"label": str, "arrivals": [Arrival as dict]}


def prepare_warehouse() -> str:
    """Create or update the schema; returns the warehouse's dialect name."""
    engine = warehouse.get_engine()
    warehouse.create_schema(engine)
    return engine.dialect.name


def reporting_year(logical_date: datetime) -> int:
    """The year a yearly run closes: it fires at 00:00 on 1 January in Shanghai, which is
    16:00 UTC on 31 December, so the year is taken in local time, less one."""
    if logical_date.tzinfo is None:
        raise ValueError("logical date must be timezone-aware")
    return logical_date.astimezone(ZoneInfo(settings.REPORTING_TIMEZONE)).year - 1


def discover_and_archive(years: Iterable[int] | None = None, reprocess: bool = False) -> list[dict[str, Any]]:
    """New files in the inbox (by content hash), each archived read-only before anything else.

    ``reprocess`` takes every file again (after a rule or catalogue change); loads are
    idempotent, so unchanged files leave the warehouse as it was.
    """
    known = set() if reprocess else warehouse.known_hashes(warehouse.get_engine())
    arrivals = intake.discover(settings.inbox_dir(), known, years)
    archived = [intake.archive(a, settings.archive_dir()) for a in arrivals]
    log.info("%d new file(s) in %s", len(archived), settings.inbox_dir())
    return [a.to_dict() for a in archived]


def _label(arrivals: Sequence[dict[str, Any]]) -> str:
    if len(arrivals) == 1:
        return f"{arrivals[0]['year']} {Path(arrivals[0]['file_name']).stem}"
    return f"{len(arrivals)} files: {arrivals[0]['file_name']} …"


def plan_batches(arrivals: Sequence[dict[str, Any]], batch_size: int = 1) -> list[Batch]:
    """Group arrivals into batches; with one file each, the UI shows each village's name."""
    ordered = sorted(arrivals, key=lambda a: (a["year"], a["file_name"]))
    chunks = [ordered[i : i + batch_size] for i in range(0, len(ordered), max(batch_size, 1))]
    return [{"label": _label(chunk), "arrivals": chunk} for chunk in chunks]


def _result_from_dict(data: dict[str, Any]) -> ReadResult:
    return ReadResult(
        **{k: v for k, v in data.items() if k not in ("records", "problems")},
        records=[Record(**r) for r in data["records"]],
        problems=[Problem(**p) for p in data["problems"]],
    )


def read_batch(batch: Batch) -> Batch:
    """Read every archived file of the batch; problems travel with the records."""
    results = [read_workbook(a["archive_path"], default_year=a["year"]) for a in batch["arrivals"]]
    for arrival, result in zip(batch["arrivals"], results, strict=True):
        result.source = arrival["file_name"]
    return {**batch, "results": [asdict(r) for r in results]}


def validate_batch(batch: Batch) -> Batch:
    """One Great Expectations run over the whole batch; its failures join each file's problems."""
    from village_reports.validation import validate_batch as run_suite

    results = [_result_from_dict(r) for r in batch["results"]]
    outcome = run_suite(results)
    for result, problems in zip(results, outcome.problems, strict=True):
        result.problems.extend(problems)
    return {**batch, "results": [asdict(r) for r in results], "validation": outcome.statistics}


def load_batch(batch: Batch) -> list[dict[str, Any]]:
    """Load each file of the batch (one transaction per file); returns a line per file."""
    engine = warehouse.get_engine()
    roster = load_roster()
    lines = []
    for arrival_dict, result_dict in zip(batch["arrivals"], batch["results"], strict=True):
        arrival = Arrival(**arrival_dict)
        result = _result_from_dict(result_dict)
        status = warehouse.load_submission(engine, arrival, result, result.problems)
        unit = roster.get(result.unit_code or "")
        lines.append(
            {
                "file_name": arrival.file_name,
                "year": result.year or arrival.year,
                "unit_code": result.unit_code,
                "unit_name": unit.name if unit else result.unit_name,
                "status": status,
                "errors": sum(p.severity == "error" for p in result.problems),
                "warnings": sum(p.severity == "warning" for p in result.problems),
            }
        )
        if status == warehouse.REJECTED:
            log.warning("rejected %s: %s", arrival.file_name, "; ".join(p.message for p in result.problems[:3]))
    return lines


def summarise_loads(loaded: Iterable[list[dict[str, Any]] | None]) -> dict[str, Any]:
    """One run's outcome: files loaded, how many of each status, which years they touched."""
    lines = [line for batch in loaded or [] if batch for line in batch]
    statuses: dict[str, int] = {}
    for line in lines:
        statuses[line["status"]] = statuses.get(line["status"], 0) + 1
    return {"files": len(lines), "statuses": statuses, "years": sorted({line["year"] for line in lines})}


def report_year(year: int, out_dir: Path | None = None) -> dict[str, Any]:
    """Totals for one year from the figures in force, stored and written as the three outputs."""
    engine = warehouse.get_engine()
    if year not in warehouse.years(engine):
        log.info("no submission for %s yet: no totals written", year)
        return {"year": year, "indicators": 0, "complete": 0, "outputs": []}
    records = warehouse.current_records(engine, year)
    totals = compute_totals(records)
    warehouse.save_totals(engine, year, totals)
    paths = write_outputs(out_dir or settings.output_dir(), year, totals, records)
    return {
        "year": year,
        "indicators": len(totals),
        "complete": sum(t.units_reported == t.units_expected for t in totals.values()),
        "outputs": [str(p) for p in paths],
    }


def reporting_years() -> list[int]:
    return warehouse.years(warehouse.get_engine())
