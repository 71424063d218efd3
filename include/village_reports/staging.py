"""The files that carry one run's data between its tasks: tasks pass references, not data.

Airflow keeps XCom in its metadata database and is meant for small values, so a task
returns a reference (run key, batch id, counts) and the data itself waits here, under
``<data>/staging/<run key>/``:

    arrivals.json                        the run's new files (discover → plan)
    peers.json                           the run's peer sample (plan → every validate)
    batches/<batch id>/arrivals.json     one batch's files (plan → read)
    batches/<batch id>/<step>.arrow      its records after read and after validate (Arrow IPC)
    batches/<batch id>/<step>.json       the rest of each file's result: who, year, problems
    batches/<batch id>/grids.jsonl       each file's sheet as read, for its 回执 (read → load)

Lifetimes: a batch's folder is deleted once its load has committed; the run's folder by
the run's last step, unless a batch did not load. Everything is written to a temporary
name and renamed, so a reader never sees half a file. A failed task's retry (or a task
cleared in the same run) finds its inputs still there and writes its outputs anew; the
next run deletes run folders untouched for ``STALE_AFTER``. Records are Arrow columns
rather than JSON because a batch holds up to 320,000 of them.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc

from village_reports import settings
from village_reports.files import write_atomically
from village_reports.model import Grid, Problem, ReadResult, Record

log = logging.getLogger(__name__)

STALE_AFTER = 3 * 24 * 3600  # seconds: no run of this pipeline lasts longer than a day

_UNSAFE = re.compile(r"[^A-Za-z0-9_.+-]+")
_RECORD_TYPES = {
    "unit_code": pa.string(),
    "year": pa.int32(),
    "indicator_code": pa.string(),
    "value": pa.float64(),
    "raw_text": pa.string(),
    "sheet": pa.string(),
    "cell": pa.string(),
    "note": pa.string(),
}
if tuple(_RECORD_TYPES) != Record._fields:  # pragma: no cover - caught by any test run
    raise RuntimeError("staging's record columns no longer match model.Record")
_SCHEMA = pa.schema([("result_index", pa.int32()), *_RECORD_TYPES.items()])


def root() -> Path:
    return settings.data_dir() / "staging"


def run_dir(run_key: str) -> Path:
    """One run's folder; the key is Airflow's run id (any characters) made path-safe."""
    safe = _UNSAFE.sub("_", run_key).strip("._") or "run"
    return root() / safe


def batch_dir(run_key: str, batch_id: str) -> Path:
    return run_dir(run_key) / "batches" / batch_id


def write_json(path: Path, data: Any) -> None:
    write_atomically(path, json.dumps(data, ensure_ascii=False))


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def write_results(folder: Path, step: str, results: Sequence[ReadResult]) -> None:
    """Each file's result after ``step``: records as one Arrow table, the rest as JSON."""
    index = [i for i, result in enumerate(results) for _ in result.records]
    columns = list(zip(*(r for result in results for r in result.records), strict=True)) or [()] * len(_RECORD_TYPES)
    arrays = [pa.array(index, pa.int32())] + [
        pa.array(column, kind) for column, kind in zip(columns, _RECORD_TYPES.values(), strict=True)
    ]
    table = pa.Table.from_arrays(arrays, schema=_SCHEMA)

    meta = [
        {
            **{k: v for k, v in vars(result).items() if k not in ("records", "problems")},
            "problems": [list(vars(p).values()) for p in result.problems],
        }
        for result in results
    ]
    # the table first: the JSON is what marks the step complete
    write_atomically(folder / f"{step}.arrow", _ipc_bytes(table))
    write_json(folder / f"{step}.json", meta)


def _ipc_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def read_results(folder: Path, step: str) -> list[ReadResult]:
    meta = read_json(folder / f"{step}.json")
    results = [
        ReadResult(**{k: v for k, v in m.items() if k != "problems"}, problems=[Problem(*p) for p in m["problems"]])
        for m in meta
    ]
    with pa.memory_map(str(folder / f"{step}.arrow")) as source:
        table = pa.ipc.open_file(source).read_all()
    columns = table.to_pydict()
    for i, *fields in zip(columns["result_index"], *(columns[name] for name in Record._fields), strict=True):
        results[i].records.append(Record(*fields))
    return results


def write_grids(folder: Path, grids: Sequence[str]) -> None:
    """Each file's sheet as JSON text (``grid_json``), a line each, for the 回执 in load."""
    write_atomically(folder / "grids.jsonl", "\n".join(grids))


def grid_json(grid: Grid | None) -> str:
    # dates and times as text: the 回执's copy shows values, not types
    return json.dumps(grid, ensure_ascii=False, default=str)


def read_grids(folder: Path) -> list[Grid | None]:
    """What ``write_grids`` kept; ``[]`` if the read step kept none."""
    path = folder / "grids.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n")]


def remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def sweep(keep: str | None = None, now: float | None = None) -> list[Path]:
    """Delete run folders untouched for ``STALE_AFTER`` (crashed runs); never ``keep``'s."""
    base, now = root(), now if now is not None else time.time()
    removed = []
    if not base.is_dir():
        return removed
    kept = run_dir(keep) if keep else None
    for folder in base.iterdir():
        if folder == kept or not folder.is_dir():
            continue
        newest = max((p.stat().st_mtime for p in folder.rglob("*")), default=folder.stat().st_mtime)
        if now - newest > STALE_AFTER:
            remove(folder)
            removed.append(folder)
            log.info("removed the staging files of an abandoned run: %s", folder.name)
    return removed


def claimed_receipts(
    exclude: str | None = None, live_within: float | None = None, now: float | None = None
) -> set[str]:
    """The files other runs have taken (their staged ``arrivals.json``: a run's claim,
    from its discover until its run folder is removed), ``exclude``'s aside; with
    ``live_within``, only the runs whose folder was written to within that many seconds
    (a run that failed and was left holds nothing). See ``village_reports.guard``."""
    base, now = root(), now if now is not None else time.time()
    if not base.is_dir():
        return set()
    kept = run_dir(exclude) if exclude else None
    claimed: set[str] = set()
    for folder in base.iterdir():
        claim = folder / "arrivals.json"
        if folder == kept or not claim.is_file():
            continue
        if live_within is not None:
            newest = max((p.stat().st_mtime for p in folder.rglob("*") if p.exists()), default=0.0)
            if now - newest > live_within:
                continue
        try:
            claimed.update(a["receipt_id"] for a in read_json(claim))
        except (OSError, ValueError, KeyError, TypeError):  # removed meanwhile, or not a claim
            continue
    return claimed


def drop_arrivals(run_key: str, receipts: set[str]) -> list[dict[str, Any]]:
    """Take ``receipts`` out of the run's staged arrivals (before its batches are
    planned); the arrivals it keeps."""
    path = run_dir(run_key) / "arrivals.json"
    arrivals = read_json(path)
    kept = [a for a in arrivals if a["receipt_id"] not in receipts]
    if len(kept) != len(arrivals):
        write_json(path, kept)
    return kept
