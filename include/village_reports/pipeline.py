"""The pipeline's steps as plain functions; the DAGs call them, one a task.

Between steps travel references, never the data: a step returns a small JSON-able dict
(a run key, a batch id, counts) that fits in XCom at any N, and the records wait in the
run's staging folder (``village_reports.staging``). Tests and benchmarks call the same
functions directly. Nothing here imports Airflow.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from village_reports import charts, checks, guard, intake, model, settings, signoff, staging, totals, warehouse
from village_reports.catalogue import load_catalogue
from village_reports.feedback import Standing, feedback_paths, name_latest, standings, write_feedback
from village_reports.intake import Arrival
from village_reports.model import Grid, ReadResult
from village_reports.reader import read_workbook_and_grid
from village_reports.report import write_outputs
from village_reports.roster import Roster, load_roster
from village_reports.rules import load_rules
from village_reports.totals import TownshipTotal

log = logging.getLogger(__name__)


@guard.exclusive  # two runs at once: see village_reports.guard
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


RunRef = dict[str, Any]  # {"run": run key, "files": n, "duplicates": n, "years": [...]}
BatchRef = dict[str, Any]  # {"run": run key, "batch": id, "label": str, "files": n}: the data is in staging
LOCAL_RUN = "local"  # the run key of a run outside Airflow (tests, the CLI, benchmarks)


@guard.claiming  # under the warehouse lock; leaves other runs' files to them
def discover_and_archive(
    years: Iterable[int] | None = None, reprocess: bool = False, run_key: str = LOCAL_RUN
) -> RunRef:
    """New files in the inbox, each archived read-only before anything else.

    Files whose bytes were received before are archived and accounted as duplicates,
    never read twice. ``reprocess`` takes every file again (after a rule or catalogue
    change), except those of signed-off years, which stay as approved until reopened;
    loads are idempotent, so unchanged files leave the warehouse as it was.
    The new files are staged for the run; the reference says how many and which years.

    Each inbox entry is judged on its own (see ``village_reports.intake``): links, files
    outside ``inbox/<year>/``, vanished, unreadable or still-copying files are logged and
    skipped, never stop the others; the reference lists the first few (``skipped``, with
    ``skipped_total``) and the files whose content was received before for another year
    (``moved``): a submission is one content for one year, so they are read for theirs.
    """
    staging.sweep(keep=run_key)
    engine = warehouse.get_engine()
    frozen: set[int] = set()
    if reprocess:  # a signed-off year stays as approved: its files are not read again
        with engine.connect() as connection:
            frozen = warehouse.locked_years(connection)
        if frozen:
            log.info("重新读取时跳过已审核定稿的年度（先重新开放才会重读）：%s", "、".join(map(str, sorted(frozen))))
    found = intake.scan(
        settings.inbox_dir(),
        warehouse.locked_year_receipts(engine) if reprocess else warehouse.known_receipts(engine),
        warehouse.known_submissions(engine),  # ids kept when files are read again
        years,
        received_names=warehouse.received_names(engine),
        reprocess=reprocess,
        waiting=warehouse.waiting_receipts(engine),  # held after a sign-off, since reopened
        frozen_years=frozen,
    )
    archived = []
    for arrival in found.arrivals:
        try:
            archived.append(intake.archive(arrival, settings.archive_dir()))
        except intake.SourceChanged as exc:  # vanished or changed since it was read: logged, next run takes it
            found.not_archived(arrival, exc)
    warehouse.record_duplicates(engine, archived)
    new = [a for a in archived if not a.duplicate]
    summary = found.summary()
    log.info(
        "%d new file(s), %d duplicate(s), %d skipped in %s",
        len(new),
        len(archived) - len(new),
        summary["skipped_total"],
        settings.inbox_dir(),
    )
    staging.write_json(staging.run_dir(run_key) / "arrivals.json", [a.to_dict() for a in new])
    return {
        "run": run_key,
        "files": len(new),
        "duplicates": len(archived) - len(new),
        "years": sorted({a.year for a in new}),
        **summary,  # skipped (the first few), skipped_total, moved: small at any N
    }


# Characters of a file name in a batch's label. Every batch's reference carries its label,
# and the plan of a night of 327 batches must stay one small XCom.
LABEL_CHARS, LABEL_CHARS_MANY = 40, 10


def batch_label(arrivals: Sequence[dict[str, Any]]) -> str:
    """How the UI names a batch's mapped tasks: the file when it is one, else the first."""
    first = arrivals[0]
    if len(arrivals) == 1:
        return f"{first['year']} {Path(first['file_name']).stem[:LABEL_CHARS]}"
    return f"{len(arrivals)} files: {first['file_name'][:LABEL_CHARS_MANY]} …"


def batch_ref(run_key: str, arrivals: Sequence[dict[str, Any]]) -> BatchRef:
    """What travels in XCom for a batch. Its id is a digest of its files, so a retried run
    never takes another batch's leftovers for its own."""
    digest = hashlib.sha256("\n".join(a["receipt_id"] for a in arrivals).encode()).hexdigest()[:16]
    return {"run": run_key, "batch": digest, "label": batch_label(arrivals), "files": len(arrivals)}


UNBATCHED_UP_TO = 100  # files: a township's run shows one mapped task per village
# Beyond that, batches. Each mapped task costs seconds to start (Great Expectations' import
# alone takes 3 s in every validate task), so a batch must carry enough files to be worth
# it, and enough batches to keep the workers busy; a batch's size bounds a task's memory.
TARGET_BATCHES = 8
MIN_BATCH_FILES = 500
MAX_BATCH_FILES = 3_000  # ~320,000 figures; validate, the largest task, peaks near 520 MiB


def group_arrivals(arrivals: Sequence[dict[str, Any]], batch_size: int | None = None) -> list[list[dict[str, Any]]]:
    """Arrivals in batches, in (year, file name) order. By default one file per batch up
    to UNBATCHED_UP_TO files, so a township's UI shows each village's name; beyond that
    TARGET_BATCHES batches of MIN_BATCH_FILES to MAX_BATCH_FILES files (a province's
    24,000 files map to 8 tasks per step, the country's 490,000 to 164)."""
    if batch_size is None:
        even = math.ceil(len(arrivals) / TARGET_BATCHES)
        batch_size = 1 if len(arrivals) <= UNBATCHED_UP_TO else min(max(even, MIN_BATCH_FILES), MAX_BATCH_FILES)
    ordered = sorted(arrivals, key=lambda a: (a["year"], a["file_name"]))
    size = max(batch_size, 1)
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]


def plan_batches(run: RunRef, batch_size: int | None = None) -> list[BatchRef]:
    """Group the run's new files into batches, each staged under its own id, and stage the
    peer sample that every batch's outlier checks read."""
    stage_peer_sample(run)
    refs = []
    for chunk in group_arrivals(staging.read_json(staging.run_dir(run["run"]) / "arrivals.json"), batch_size):
        ref = batch_ref(run["run"], chunk)
        staging.write_json(staging.batch_dir(run["run"], ref["batch"]) / "arrivals.json", chunk)
        refs.append(ref)
    return refs


def _batch_arrivals(batch: BatchRef) -> list[dict[str, Any]]:
    folder = staging.batch_dir(batch["run"], batch["batch"])
    if not (folder / "arrivals.json").exists():
        raise FileNotFoundError(
            f"the staged files of batch {batch['batch']} ({batch['label']}) are gone: "
            "it was loaded already, or its run was cleaned up; clear the run from discover_and_archive"
        )
    return staging.read_json(folder / "arrivals.json")


def read_batch(batch: BatchRef) -> BatchRef:
    """Read every archived file of the batch; the results are staged for validate."""
    arrivals = _batch_arrivals(batch)
    results, grids, kept = [], [], 0.0
    for arrival in arrivals:
        result, grid = read_workbook_and_grid(arrival["archive_path"], default_year=arrival["year"])
        result.source = arrival["file_name"]
        results.append(result)
        begun = time.perf_counter()
        grids.append(staging.grid_json(grid))  # the 回执 shows it; reading the file again costs more
        kept += time.perf_counter() - begun
    folder = staging.batch_dir(batch["run"], batch["batch"])
    staging.write_results(folder, "read", results)
    begun = time.perf_counter()
    staging.write_grids(folder, grids)
    # make bench counts this as part of the 回执's cost: keep its wording
    log.info("kept %d sheet(s) for the 回执 in %.3f s", len(grids), kept + time.perf_counter() - begun)
    return {**batch, "records": sum(len(r.records) for r in results)}


def _peer_figures(years: Sequence[int]) -> checks.PeerSample:
    return checks.peer_figures(warehouse.get_engine(), years)


def stage_peer_sample(run: RunRef) -> int:
    """Once per run: a bounded sample of the figures in force for the years being loaded,
    for the outlier check against other units; staged for every validate. Its size."""
    sample = _peer_figures(run["years"]) if run["files"] else {}
    staging.write_json(staging.run_dir(run["run"]) / "peers.json", sample)
    return len(sample)


def validate_batch(batch: BatchRef) -> BatchRef:
    """Checks on every file of the batch: one Great Expectations run (types, ranges, codes,
    required), then the audit rules (relations, outliers, wrong files), then the clerks'
    explanations; the GX run is kept in the validation history, the results are staged."""
    from village_reports.validation import run_expectations

    arrivals = _batch_arrivals(batch)
    folder = staging.batch_dir(batch["run"], batch["batch"])
    results = staging.read_results(folder, "read")
    outcome = run_expectations(results)
    years = {a["year"] for a in arrivals}
    peers_file = staging.run_dir(batch["run"]) / "peers.json"
    sample = staging.read_json(peers_file) if peers_file.exists() else _peer_figures(sorted(years))
    peer_stats, history = checks.outlier_context(warehouse.get_engine(), results, years, sample)
    for arrival, result, gx_problems in zip(arrivals, results, outcome.problems, strict=True):
        result.problems = checks.audit(result, arrival["file_name"], arrival["year"], gx_problems, peer_stats, history)
    warehouse.record_validation(
        warehouse.get_engine(),
        [a["submission_id"] for a in arrivals],
        {"success": outcome.success, "statistics": outcome.statistics, "result": outcome.result_json},
    )
    staging.write_results(folder, "validated", results)
    return {
        **batch,
        "validation": {k: outcome.statistics.get(k) for k in ("evaluated_expectations", "success_percent")},
    }


Files = dict[tuple[str, int], list[dict[str, Any]]]  # (unit, year) -> its files, oldest first
Items = list[tuple[Arrival, ReadResult]]


@dataclass(frozen=True)
class Standings:
    """The files of some units and years as the warehouse had them at one moment, and
    where each stood then (by submission id). Taken under the warehouse lock, so that no
    other batch's load falls between the query and what it says."""

    files: Files
    of: dict[str, Standing]

    @classmethod
    def now(cls, engine: Engine, pairs: Iterable[tuple[str, int]]) -> Standings:
        files = warehouse.unit_year_files(engine, pairs)
        return cls(files, standings(files, load_rules().deadline))

    def latest(self, pair: tuple[str, int]) -> str | None:
        """The file whose 回执 is the unit's latest for the year: the last one received."""
        listed = self.files.get(pair)
        return listed[-1]["submission_id"] if listed else None


def load_files(batch: BatchRef, feedback: bool = True) -> list[dict[str, Any]]:
    """Load the batch in one transaction, then write each file's 回执; a line per file.
    The batch's staged files are deleted once the load has committed and the 回执 are written.

    The warehouse lock (see village_reports.guard) is held for the load and the standings
    it leaves (step 1), not while the 回执 are written (step 2: ~4 s a batch, which held
    other runs' loads up), then briefly again to write again any 回执 that another batch's
    load, committed meanwhile, made stale (step 3)."""
    engine = warehouse.get_engine()
    folder = staging.batch_dir(batch["run"], batch["batch"])
    items = [
        (Arrival(**arrival), result)
        for arrival, result in zip(_batch_arrivals(batch), staging.read_results(folder, "validated"), strict=True)
    ]
    statuses, seconds, seen = _load(engine, items, feedback)
    # make bench reads these two figures from the task logs: keep their wording
    log.info("loaded %d file(s) in %.3f s", len(items), seconds)
    if seen is not None:
        begun = time.perf_counter()
        written = _write_receipts(engine, items, statuses, staging.read_grids(folder), seen)
        writing = time.perf_counter() - begun
        writing += _repair_receipts(engine, seen, written)  # its time under the lock: the wait for it is not writing
        log.info("wrote %d 回执 in %.3f s", len(items), writing)
    roster, lines = load_roster(), []
    for (arrival, result), status in zip(items, statuses, strict=True):
        lines.append(_line(arrival, result, status, roster))
        if status == model.REJECTED:
            log.warning("rejected %s: %s", arrival.file_name, "; ".join(p.message for p in result.problems[:3]))
    staging.remove(folder)
    return lines


def _load(engine: Engine, items: Items, feedback: bool) -> tuple[list[str], float, Standings | None]:
    """Step 1, under the lock: the batch's transaction, then (for the 回执) the standings
    of its units' files for their years as the commit left them. The statuses, the
    seconds the load took, and the standings (``None`` without 回执)."""
    with guard.warehouse_lock():
        begun = time.perf_counter()
        statuses = warehouse.load_submissions(engine, items)
        seconds = time.perf_counter() - begun
        seen = Standings.now(engine, {(r.unit_code, a.year) for a, r in items if r.unit_code}) if feedback else None
    return statuses, seconds, seen


def _write_receipts(
    engine: Engine, items: Items, statuses: Sequence[str], grids: Sequence[Grid | None], seen: Standings
) -> dict[str, Standing]:
    """Step 2, without the lock: each file's 回执, and the earlier files' whose standing a
    file of the batch changed, all from ``seen``. Another batch may load meanwhile; step 3
    finds what that changed. The standing each 回执 was written from, by submission id."""
    roster, deadline = load_roster(), load_rules().deadline
    written: dict[str, Standing] = {}
    for n, ((arrival, result), status) in enumerate(zip(items, statuses, strict=True)):
        this = seen.of.get(arrival.submission_id) or Standing(deadline(arrival.year))  # no unit: its own name only
        write_feedback(
            settings.output_dir(),
            arrival.to_dict(),
            result,
            status,
            roster=roster,
            grid=grids[n] if grids else None,
            standing=this,
            # batches load in any order: the unit's latest 回执 is its last received file's,
            # even when that file's batch loaded first
            latest=this.latest,
        )
        written[arrival.submission_id] = this
    return written | _rewrite_replaced(engine, seen.files, seen.of, set(written))


def _repair_receipts(engine: Engine, seen: Standings, written: Mapping[str, Standing]) -> float:
    """Step 3, under the lock again, briefly: the standings of the same units and years
    now. A 回执 that step 2 wrote from a standing that no longer holds (another batch's
    load committed in between) is written again, from the warehouse as ``_rewrite_replaced``
    writes; a unit's latest 回执 that step 2 gave to a file no longer the last received
    is given back to the last one. Usually nothing changed and this is one query. The
    seconds it took, less the wait for the lock."""
    roster = load_roster()
    with guard.warehouse_lock():
        begun = time.perf_counter()
        now = Standings.now(engine, seen.files)
        for file in _stale(now, written):
            _write_stored(engine, file, now.of[file["submission_id"]], roster)
            log.info("回执 of %s written again: a batch loaded meanwhile changed where it stands", file["file_name"])
        for file in _latest_moved(seen, now, written):
            # a second name for the copy its own batch wrote: that batch committed after
            # this one, so wrote it from where it stands now; not written yet, it is
            # named the latest when that batch writes it
            if name_latest(settings.output_dir(), file, roster):
                log.info("%s named the unit's latest 回执 again: it loaded after this batch's", file["file_name"])
        return time.perf_counter() - begun


def _stale(now: Standings, written: Mapping[str, Standing]) -> list[dict[str, Any]]:
    """The files whose 回执 step 2 wrote from a standing other than ``now``'s. Compared
    whole, by value: a difference the 回执 does not show (``is_current`` of a file it
    names) costs a write, never a wrong 回执."""
    return [
        file
        for listed in now.files.values()
        for file in listed
        if file["submission_id"] in written and written[file["submission_id"]] != now.of[file["submission_id"]]
    ]


def _latest_moved(seen: Standings, now: Standings, written: Mapping[str, Standing]) -> list[dict[str, Any]]:
    """The last received file of each unit and year whose latest 回执 step 2 gave to
    another file, the last one then: a file received later loaded in between. Rewriting
    that other file (``_stale``) does not take the name back, as it is not the latest."""
    moved = []
    for pair, listed in now.files.items():
        then = seen.latest(pair)
        if then in written and listed and listed[-1]["submission_id"] != then:
            moved.append(listed[-1])
    return moved


def _line(arrival: Arrival, result: ReadResult, status: str, roster: Roster) -> dict[str, Any]:
    """What load_files says of one file."""
    unit = roster.get(result.unit_code or "")
    return {
        "submission_id": arrival.submission_id,
        "file_name": arrival.file_name,
        "year": arrival.year,
        "unit_code": result.unit_code,
        "unit_name": unit.name if unit else result.unit_name,
        "status": status,
        "errors": sum(p.severity == "error" for p in result.problems),
        "warnings": sum(p.severity == "warning" for p in result.problems),
    }


def _write_stored(engine: Engine, file: dict[str, Any], standing: Standing, roster: Roster) -> None:
    """An earlier-loaded file's 回执 written again from what the warehouse stored for the
    file (a row of ``unit_year_files``): it is not read or judged again."""
    result = warehouse.stored_result(engine, file["submission_id"], file["file_name"])
    write_feedback(
        settings.output_dir(), file, result, file["status"], roster=roster, standing=standing, latest=standing.latest
    )


def _rewrite_replaced(
    engine: Engine, files: Files, standing: Mapping[str, Standing], batch: set[str]
) -> dict[str, Standing]:
    """An earlier-loaded file's 回执, written again when a file of this batch changed where
    it stands: it replaced the file, or (batches load in any order) the file replaces it,
    or its figures are the ones that stand for a rejected file. The standing each was
    written from, by submission id."""
    roster = load_roster()
    written: dict[str, Standing] = {}
    for listed in files.values():
        for file in listed:
            this = standing[file["submission_id"]]
            named = {(f or {}).get("submission_id") for f in (this.replaces, this.replaced_by, this.in_force)}
            if file["submission_id"] in batch or not named & batch:
                continue
            _write_stored(engine, file, this, roster)
            written[file["submission_id"]] = this
            log.info("回执 of %s written again: a file loaded since changed where it stands", file["file_name"])
    return written


def failed_steps_message(states: Mapping[str, str | None], faults: Sequence[str] = ()) -> str:
    """One line for a run in which steps failed: which failed, which never ran because of
    them, and why where a step said so (``faults``: a full disk, a read-only warehouse).
    ``states``: task id (``_<n>`` for a mapped batch) -> state, as Airflow gives them."""
    failed = sorted(task for task, state in states.items() if state == "failed" and task != "fail_the_run")
    blocked = sorted(task for task, state in states.items() if state == "upstream_failed")
    text = "本次运行有步骤失败：" + ("、".join(failed) or "（未知）")
    if blocked:
        text += f"；因此未运行：{'、'.join(blocked)}"
    if faults:
        text += f"（{'；'.join(faults)}）"
    return text + "。已入库的文件照常入库并有回执；修复后再次运行即可补上其余文件。"


def load_batch(batch: BatchRef, feedback: bool = True) -> dict[str, Any]:
    """``load_files``, answered with a summary of a few numbers (XCom's size)."""
    return summarise_loads([load_files(batch, feedback)])


REJECTED_LISTED = 20  # files named in a run's summary; the rest are counted (the warehouse has them all)


def summarise_loads(
    loaded: Iterable[Sequence[dict[str, Any]] | dict[str, Any] | None] | dict[str, Any],
) -> dict[str, Any]:
    """Per-file lines, or summaries of them, as one summary: files loaded, how many of
    each status, which years they touched, and the first rejected files by name."""
    summary: dict[str, Any] = {"files": 0, "statuses": {}, "years": [], "rejected": []}
    years: set[int] = set()
    if isinstance(loaded, dict):  # Airflow hands a mapped group's only result over as itself, not a list
        loaded = [loaded]
    for part in loaded or []:
        if not part:
            continue
        for item in [part] if isinstance(part, dict) else part:
            if "statuses" in item:  # a summary already
                counts, rejected = item["statuses"], item["rejected"]
                years.update(item["years"])
                summary["files"] += item["files"]
            else:
                counts = {item["status"]: 1}
                rejected = [item["file_name"]] if item["status"] == model.REJECTED else []
                years.add(item["year"])
                summary["files"] += 1
            for status, count in counts.items():
                summary["statuses"][status] = summary["statuses"].get(status, 0) + count
            summary["rejected"] = (summary["rejected"] + rejected)[:REJECTED_LISTED]
    summary["years"] = sorted(years)
    return summary


MISSING_LISTED = 50  # units named in the log line; a county's thousands are counted


def _names(rows: Sequence[dict[str, Any]]) -> str:
    names = [f"{r['unit_name']}（{r['unit_code']}）" for r in rows[:MISSING_LISTED]]
    more = f" 等 {len(rows)} 个" if len(rows) > MISSING_LISTED else ""
    return "、".join(names) + more


def restore_missing_feedback() -> int:
    """Write again every 回执 that is missing although its load committed (a kill or a full
    disk between the commit and the write), from what the warehouse stored; how many.
    A stat per submission: the night's files are known, their 回执 are not re-read."""
    engine = warehouse.get_engine()
    out, roster = settings.output_dir(), load_roster()
    missing = [
        row
        for row in warehouse.all_submissions(engine)
        if not feedback_paths(out, row["year"], row["unit_code"], row["submission_id"], roster)[-1].exists()
    ]
    if not missing:
        return 0
    deadline = load_rules().deadline
    files = warehouse.unit_year_files(engine, {(r["unit_code"], r["year"]) for r in missing if r["unit_code"]})
    standing = standings(files, deadline)
    for row in missing:
        this = standing.get(row["submission_id"]) or Standing(deadline(row["year"]))  # no unit: its own name only
        result = warehouse.stored_result(engine, row["submission_id"], row["file_name"])
        write_feedback(out, row, result, row["status"], roster=roster, standing=this, latest=this.latest)
    log.warning("补写了 %d 份缺失的回执（入库后未能写出）", len(missing))
    return len(missing)


def finish_run(
    loaded: Iterable[Sequence[dict[str, Any]] | dict[str, Any] | None], run_key: str = LOCAL_RUN
) -> dict[str, Any]:
    """After a run's loads: say who is still missing or late, rewrite the validation
    report from the stored history, and remove the run's staged files. Holds a few
    numbers per year, never the night's figures."""
    from village_reports import faults
    from village_reports.validation_report import write_validation_report

    summary = summarise_loads(loaded)
    summary["faults"] = faults.recorded(run_key)  # a step's one line when it failed for want of a resource
    for line in summary["faults"]:
        log.warning("本次运行因资源问题失败的步骤：%s", line)
    engine = warehouse.get_engine()
    summary["missing"] = {}
    for year in summary["years"]:
        rows = warehouse.timeliness(engine, year)
        missing = [r for r in rows if r["timeliness"] in ("missing", "rejected")]
        late = [r for r in rows if r["timeliness"] == "late"]
        held = [r for r in rows if r["timeliness"] == model.HELD]
        summary["missing"][year] = [f"{r['unit_name']}（{r['unit_code']}）" for r in missing[:MISSING_LISTED]]
        if missing:
            log.warning("%s年尚未报送或被退回的单位 %d 个：%s", year, len(missing), _names(missing))
        else:
            log.info("%s年所有单位均已报送", year)
        if late:
            log.info("%s年逾期报送的单位 %d 个：%s", year, len(late), _names(late))
        if held:  # sent, but after the year was signed off: in no total until it is reopened
            log.info("%s年定稿后才报送、暂未计入的单位 %d 个：%s", year, len(held), _names(held))
    summary["validation_report"] = str(write_validation_report(engine, settings.output_dir() / "validation"))
    summary["feedback_restored"] = restore_missing_feedback()
    run_folder = staging.run_dir(run_key)
    if any((run_folder / "batches").glob("*/arrivals.json")):
        log.warning("some batches did not load; their staged files stay in %s for a retry", run_folder)
    else:
        staging.remove(run_folder)
    return summary


def run_ingest(
    years: Iterable[int] | None = None,
    reprocess: bool = False,
    batch_size: int | None = None,
    feedback: bool = True,
    run_key: str = LOCAL_RUN,
) -> list[dict[str, Any]]:
    """The nightly DAG's ingest steps one after another in this process (tests, the
    benchmark's per-stage breakdown); a line per file loaded. ``finish_run`` comes after."""
    prepare_warehouse()
    run = discover_and_archive(years, reprocess, run_key)
    lines: list[dict[str, Any]] = []
    for batch in plan_batches(run, batch_size):
        lines += load_files(validate_batch(read_batch(batch)), feedback)
    return lines


def asset_extra(summary: dict[str, Any]) -> dict[str, Any]:
    """What the ``village_warehouse`` asset event says about a run: the years whose
    figures changed, and how many files of each status it loaded."""
    return {"years": summary["years"], "files": summary["files"], "statuses": summary["statuses"]}


def years_to_report(events: Sequence[dict[str, Any]] | None) -> list[int]:
    """The years whose outputs a ``township_report`` run rewrites: those the triggering
    asset events say changed; every year with submissions when there is no event (a run
    started by hand) or an event that does not say."""
    if not events or any("years" not in (extra or {}) for extra in events):
        return reporting_years()
    return sorted({int(year) for extra in events for year in extra["years"]})


def later_years_showing(changed: Sequence[int]) -> list[int]:
    """The years after a changed one whose outputs show it, to be rewritten once it is:
    their 上年 column and comparison (the year before) and their trend chart (the
    ``charts.MAX_YEARS`` before). A signed-off year's outputs stay as approved."""
    if not changed:
        return []
    engine = warehouse.get_engine()
    with engine.connect() as connection:
        locked = warehouse.locked_years(connection)
    return sorted(
        year
        for year in warehouse.years(engine)
        if year not in changed and year not in locked and any(0 < year - c < charts.MAX_YEARS for c in changed)
    )


def compute_year_totals(year: int) -> dict[str, TownshipTotal]:
    """One year's totals, recomputed and stored in one transaction (see village_reports.totals)."""
    return totals.compute_year(warehouse.get_engine(), year)


def _chart_data(
    engine: Engine, year: int, township: Mapping[str, TownshipTotal]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """What the charts and the workbook's comparison need beyond the year's totals: the key
    figures' stored totals of the earlier years charted, every unit's standing in those
    years and this one, and this year's village figures of the totals whose shares are drawn."""
    catalogue = load_catalogue()
    first = charts.chart_years(year, warehouse.years(engine))[0]
    keys = [ind.code for ind in catalogue.key_figures()]
    shared = [ind.code for ind in charts.share_figures(catalogue, township)]
    return (
        warehouse.totals_history(engine, keys, first, year - 1),
        warehouse.timeliness_history(engine, first, year),
        warehouse.village_figures(engine, year, shared),
    )


@guard.exclusive  # the annual run's report and township_report's may overlap: one writes at a time
def report_year(year: int, out_dir: Path | None = None) -> dict[str, Any]:
    """Totals for one year from the figures in force, stored and written as the outputs."""
    engine = warehouse.get_engine()
    if year not in warehouse.years(engine):
        log.info("no submission for %s yet: no totals written", year)
        return {"year": year, "indicators": 0, "complete": 0, "outputs": []}
    township = compute_year_totals(year)
    signed = signoff.state(engine, year)  # every output says 草稿 or 定稿
    history, statuses, village = _chart_data(engine, year, township)
    # closed here, even when a write fails part-way: the stream holds a connection open
    with closing(totals.sources(engine, year)) as sources:
        paths = write_outputs(
            out_dir or settings.output_dir(),
            year,
            township,
            sources=sources,
            unit_values=warehouse.current_values_by_unit(engine, year),
            timeliness=warehouse.timeliness(engine, year),
            signoff_label=signed.label(),
            previous=totals.previous_year(engine, year),
            history=history,
            timeliness_history=statuses,
            village_figures=village,
        )
    return {
        "year": year,
        "indicators": len(township),
        "complete": sum(t.units_reported == t.units_expected for t in township.values()),
        "outputs": [str(p) for p in paths],
        "signoff": signed.label(),
    }


def reporting_years() -> list[int]:
    return warehouse.years(warehouse.get_engine())


def review_for_signoff(year: int) -> dict[str, Any]:
    """The sign-off's first step: the year's totals recomputed and its outputs rewritten
    (marked 草稿), then what the approver reads: the review, bounded in size, and the digest
    of what it shows, which an approval must still match."""
    engine = warehouse.get_engine()
    if year not in warehouse.years(engine):
        raise ValueError(f"{year} 年度还没有任何报送，无可审核。")
    now = signoff.state(engine, year)
    if now.locked:
        raise ValueError(f"{year} 年度已{now.label()}；如需修改，先重新开放该年度（township_reopen）。")
    report_year(year)
    review = signoff.review(engine, year)
    return {"year": year, "digest": review.digest, "body": review.to_markdown(), "summary": review.summary()}


def _iso_utc(moment: Any) -> str | None:
    """A HITL answer's time (a datetime, or its ISO text after XCom) as ISO 8601 UTC."""
    if not moment:
        return None
    when = moment if isinstance(moment, datetime) else datetime.fromisoformat(str(moment))
    return when.astimezone(ZoneInfo("UTC")).isoformat()


def record_signoff(reviewed: Mapping[str, Any], answer: Mapping[str, Any], run_id: str = LOCAL_RUN) -> dict[str, Any]:
    """The approver's answer to ``review_for_signoff`` recorded, and the year's outputs
    rewritten (定稿 with the approver, or still 草稿). ``answer`` is the HITL step's result:
    no ``responded_by_user`` means nobody answered in time and the default was taken."""
    year = int(reviewed["year"])
    decision = (answer.get("chosen_options") or [""])[0]
    user = answer.get("responded_by_user")
    reason = str((answer.get("params_input") or {}).get("reason") or "").strip()
    if user:
        actor = str(user.get("name") or user.get("id"))
    else:  # the scheduler applied the default: say so, in the record and the outputs
        actor = "（无人答复）"
        hours = settings.signoff_response_timeout().total_seconds() / 3600
        reason = reason or f"超时：{hours:g} 小时内无人审核，按默认处理为“{decision}”。"
    recorded = signoff.record_decision(
        warehouse.get_engine(),
        year,
        decision,
        actor,
        reason,
        reviewed["digest"],
        run_id=run_id,
        acted_at=_iso_utc(answer.get("responded_at")),
    )
    report_year(year)
    log.info("%s 年度：%s（%s）", year, recorded["label"], reason or "无意见")
    return {k: recorded[k] for k in ("year", "decision", "actor", "acted_at", "reason", "label")}


def reopen_year(year: int, actor: str, reason: str, run_id: str = LOCAL_RUN) -> dict[str, Any]:
    """Unlock a signed-off year (with its reason) and rewrite its outputs as 草稿; the files
    held meanwhile load on the next ingest run."""
    recorded = signoff.reopen(warehouse.get_engine(), year, actor or "（未知）", reason, run_id=run_id)
    report_year(year)
    log.info("%s 年度已重新开放：%d 个定稿后收到的文件将在下一次入库运行时载入", year, recorded["waiting"])
    return {k: recorded[k] for k in ("year", "actor", "acted_at", "reason", "waiting", "label")}
