"""The pipeline's steps as plain functions over plain (JSON-able) data.

Airflow tasks call these and pass their results through XCom; tests and benchmarks call
them directly. Nothing here imports Airflow.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from village_reports import intake, rules, settings, totals, warehouse
from village_reports.feedback import write_feedback
from village_reports.intake import Arrival
from village_reports.reader import Problem, ReadResult, Record, read_workbook
from village_reports.report import write_outputs
from village_reports.roster import load_roster
from village_reports.rules import load_rules
from village_reports.totals import TownshipTotal

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
    """New files in the inbox, each archived read-only before anything else.

    Files whose bytes were received before are archived and accounted as duplicates,
    never read twice. ``reprocess`` takes every file again (after a rule or catalogue
    change); loads are idempotent, so unchanged files leave the warehouse as it was.
    """
    engine = warehouse.get_engine()
    receipts, contents = (
        (set(), set()) if reprocess else (warehouse.known_receipts(engine), warehouse.known_hashes(engine))
    )
    arrivals = intake.discover(settings.inbox_dir(), receipts, contents, years)
    archived = [intake.archive(a, settings.archive_dir()) for a in arrivals]
    warehouse.record_duplicates(engine, archived)
    new = [a for a in archived if not a.duplicate]
    log.info("%d new file(s), %d duplicate(s) in %s", len(new), len(archived) - len(new), settings.inbox_dir())
    return [a.to_dict() for a in new]


def _label(arrivals: Sequence[dict[str, Any]]) -> str:
    if len(arrivals) == 1:
        return f"{arrivals[0]['year']} {Path(arrivals[0]['file_name']).stem}"
    return f"{len(arrivals)} files: {arrivals[0]['file_name']} …"


UNBATCHED_UP_TO = 100  # files: a township's run shows one mapped task per village
MAX_BATCHES = 16  # beyond that: each GX run and each transaction costs ~0.2 s, so fewer, bigger batches
MAX_BATCH_FILES = 1_500  # ~160,000 figures, ~360 MiB in a task: what bounds memory, whatever the night's N


def plan_batches(arrivals: Sequence[dict[str, Any]], batch_size: int | None = None) -> list[Batch]:
    """Group arrivals into batches. By default one file per batch up to UNBATCHED_UP_TO
    files, so a township's UI shows each village's name; beyond that, MAX_BATCHES batches
    (a province's 24,000 files map to 16 tasks per step, not 24,000), but never more than
    MAX_BATCH_FILES files in one (the country's 490,000 map to 327)."""
    if batch_size is None:
        even = math.ceil(len(arrivals) / MAX_BATCHES)
        batch_size = 1 if len(arrivals) <= UNBATCHED_UP_TO else min(even, MAX_BATCH_FILES)
    ordered = sorted(arrivals, key=lambda a: (a["year"], a["file_name"]))
    chunks = [ordered[i : i + batch_size] for i in range(0, len(ordered), max(batch_size, 1))]
    return [{"label": _label(chunk), "arrivals": chunk} for chunk in chunks]


_RECORD_FIELDS = Record._fields


def _result_to_dict(result: ReadResult) -> dict[str, Any]:
    """ReadResult -> JSON-able dict for XCom. Records travel as rows in field order
    (``record_fields`` names them): a batch holds 160,000 of them, and a dict per record
    doubled the time spent between steps."""
    data = dict(vars(result))
    data["record_fields"] = _RECORD_FIELDS
    data["records"] = [tuple(r) for r in result.records]
    data["problems"] = [dict(vars(p)) for p in result.problems]
    return data


def _result_from_dict(data: dict[str, Any]) -> ReadResult:
    if tuple(data["record_fields"]) != _RECORD_FIELDS:
        raise ValueError("records were written by another version of the pipeline: rerun the batch from read")
    return ReadResult(
        **{k: v for k, v in data.items() if k not in ("records", "problems", "record_fields")},
        records=[Record(*row) for row in data["records"]],
        problems=[Problem(**p) for p in data["problems"]],
    )


def read_batch(batch: Batch) -> Batch:
    """Read every archived file of the batch; problems travel with the records."""
    results = [read_workbook(a["archive_path"], default_year=a["year"]) for a in batch["arrivals"]]
    for arrival, result in zip(batch["arrivals"], results, strict=True):
        result.source = arrival["file_name"]
    return {**batch, "results": [_result_to_dict(r) for r in results]}


PeerSample = dict[str, dict[str, float]]  # "<year>:<code>" -> {unit code: value}


def peer_sample(arrivals: Sequence[dict[str, Any]]) -> PeerSample:
    """Once per run: a bounded sample of the figures in force for the years being loaded,
    for the outlier check against other units."""
    years = sorted({a["year"] for a in arrivals})
    sample: PeerSample = {}
    if years:
        for unit, year, code, value in warehouse.peer_figures(warehouse.get_engine(), years):
            sample.setdefault(f"{year}:{code}", {})[unit] = value
    return sample


def _outlier_context(
    results: Sequence[ReadResult], years: set[int], sample: PeerSample
) -> tuple[dict[tuple[int, str], rules.PeerStats], dict[str, dict[str, dict[int, float]]]]:
    """Peer statistics per (year, code) from the run's sample plus the batch's own figures
    (one figure per unit), and history unit -> code -> {year: value} for the batch's units."""
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
    history: dict[str, dict[str, dict[int, float]]] = {}
    engine = warehouse.get_engine()
    for unit, year, code, value in warehouse.unit_history(engine, units, min(years) - lookback, max(years) - 1):
        history.setdefault(unit, {}).setdefault(code, {})[year] = value
    return peers, history


def validate_batch(batch: Batch, peers: PeerSample | None = None) -> Batch:
    """Checks on every file of the batch: one Great Expectations run (types, ranges, codes,
    required), then the audit rules (relations, outliers, wrong files), then the clerks'
    explanations; the GX run is kept in the validation history."""
    from village_reports.validation import validate_batch as run_suite

    results = [_result_from_dict(r) for r in batch["results"]]
    outcome = run_suite(results)
    years = {a["year"] for a in batch["arrivals"]}
    sample = peer_sample(batch["arrivals"]) if peers is None else peers
    peer_stats, history = _outlier_context(results, years, sample)
    for arrival, result, gx_problems in zip(batch["arrivals"], results, outcome.problems, strict=True):
        year = arrival["year"]
        found = [
            *gx_problems,
            *rules.relation_problems(result),
            *rules.wrong_file_problems(result, arrival["file_name"], year),
        ]
        if result.unit_code:
            codes = {r.indicator_code for r in result.records}
            found += rules.outlier_problems(
                result,
                {code: peer_stats[year, code] for code in codes if (year, code) in peer_stats},
                {
                    code: {y: v for y, v in years.items() if y < year}
                    for code, years in history.get(result.unit_code, {}).items()
                },
            )
        result.problems = rules.confirm_with_notes(result, [*result.problems, *found])
    warehouse.record_validation(
        warehouse.get_engine(),
        [a["sha256"] for a in batch["arrivals"]],
        {"success": outcome.success, "statistics": outcome.statistics, "result": outcome.result_json},
    )
    return {**batch, "results": [_result_to_dict(r) for r in results], "validation": outcome.statistics}


def load_batch(batch: Batch, feedback: bool = True) -> list[dict[str, Any]]:
    """Load the batch in one transaction, then write each file's 回执; a line per file."""
    engine = warehouse.get_engine()
    roster = load_roster()
    items = [
        (Arrival(**arrival), _result_from_dict(result))
        for arrival, result in zip(batch["arrivals"], batch["results"], strict=True)
    ]
    statuses = warehouse.load_submissions(engine, items)
    lines = []
    for (arrival, result), status in zip(items, statuses, strict=True):
        if feedback:
            write_feedback(settings.output_dir(), arrival.to_dict(), result, status)
        unit = roster.get(result.unit_code or "")
        lines.append(
            {
                "submission_id": arrival.sha256,
                "file_name": arrival.file_name,
                "year": arrival.year,
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


def finish_run(loaded: Iterable[list[dict[str, Any]] | None]) -> dict[str, Any]:
    """After a run's loads: say who is still missing or late, and build the Data Docs."""
    from village_reports.validation import build_data_docs

    summary = summarise_loads(loaded)
    engine = warehouse.get_engine()
    for year in summary["years"]:
        rows = warehouse.timeliness(engine, year)
        missing = [f"{r['unit_name']}（{r['unit_code']}）" for r in rows if r["timeliness"] in ("missing", "rejected")]
        late = [f"{r['unit_name']}（{r['unit_code']}）" for r in rows if r["timeliness"] == "late"]
        summary.setdefault("missing", {})[year] = missing
        if missing:
            log.warning("%s年尚未报送或被退回的单位 %d 个：%s", year, len(missing), "、".join(missing))
        else:
            log.info("%s年所有单位均已报送", year)
        if late:
            log.info("%s年逾期报送的单位：%s", year, "、".join(late))
    submission_ids = [line["submission_id"] for batch in loaded or [] if batch for line in batch]
    docs = build_data_docs(warehouse.submitted_results(engine, submission_ids), settings.output_dir() / "gx")
    summary["data_docs"] = str(docs) if docs else None
    return summary


def compute_year_totals(year: int) -> dict[str, TownshipTotal]:
    """One year's totals, recomputed in one transaction: provenance selected set-based in
    the warehouse, then a few aggregates per total; memory does not grow with the units."""
    engine = warehouse.get_engine()
    with engine.begin() as connection:
        warehouse.replace_total_sources(connection, year, [vars(rule) for rule in totals.source_rules()])
        aggregates = warehouse.total_aggregates(connection, year, totals.counted_indicators())
        township = totals.totals_from_aggregates(totals.Aggregates(**aggregates))
        warehouse.insert_totals(connection, year, [vars(total) for total in township.values()])
    return township


def report_year(year: int, out_dir: Path | None = None) -> dict[str, Any]:
    """Totals for one year from the figures in force, stored and written as the outputs."""
    engine = warehouse.get_engine()
    if year not in warehouse.years(engine):
        log.info("no submission for %s yet: no totals written", year)
        return {"year": year, "indicators": 0, "complete": 0, "outputs": []}
    township = compute_year_totals(year)
    paths = write_outputs(
        out_dir or settings.output_dir(),
        year,
        township,
        sources=warehouse.total_sources(engine, year),
        unit_values=warehouse.current_values_by_unit(engine, year),
        timeliness=warehouse.timeliness(engine, year),
    )
    return {
        "year": year,
        "indicators": len(township),
        "complete": sum(t.units_reported == t.units_expected for t in township.values()),
        "outputs": [str(p) for p in paths],
    }


def reporting_years() -> list[int]:
    return warehouse.years(warehouse.get_engine())
