"""One guard for what runs share: two runs at once are safe.

The nightly run (``village_reports``), a backfill of any year (``village_reports_annual``)
and a run started by hand may overlap. ``max_active_runs=1`` holds only within one DAG,
and the steps are separate task processes (possibly on separate Celery workers), so the
guard is a lock that lives outside them, in the warehouse's own terms:

* PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) held on a
  dedicated connection for as long as the step runs; a killed task's connection closes
  and the lock goes with it.
* SQLite (or any other URL): an exclusive ``flock`` on a lock file beside the warehouse
  (``data/warehouse.sqlite.lock``); a killed process's lock is released by the kernel.

A task waiting for the lock logs ``等待另一运行释放数据仓库锁…`` and gives up after
``VILLAGE_REPORTS_LOCK_TIMEOUT`` seconds (default an hour) with an error that names the
lock; Airflow's retries then try again. The lock is re-entrant within a thread.

What it guards (the steps decorated with ``exclusive`` or ``claiming``, and the two holds
of ``load_files``), and why:

* ``prepare_warehouse``: two schema migrations at once collide on PostgreSQL (``CREATE
  TABLE IF NOT EXISTS`` and views are not safe to run concurrently).
* ``discover_and_archive``, the whole step: the inbox scan against the receipts already
  in the warehouse, the archive copies (``intake.archive`` writes a fixed ``.part``
  name), the duplicates' receipts, and the run's *claim*. A lock cannot span tasks, so
  two runs can still both scan before either has loaded; hence the claim: the run's
  staged ``arrivals.json`` names the files it took, and a run discovering under the lock
  leaves out every file that another live run has claimed and not yet loaded
  (``staging.claimed_receipts``). Each new file is thus taken by one run: read, loaded,
  counted and given its 回执 once, as in a single run. A claim is live while its run's
  staging folder was written to within ``CLAIM_LIVE_FOR``; a run that failed and was left
  stops holding its files, and the next run takes them.
* ``load_files``, in two holds, not the whole step (``village_reports.pipeline``). Step 1
  holds it for the batch's transaction and the *standings* the commit leaves for the
  batch's units and years (``warehouse.unit_year_files`` and ``feedback.standings``: which
  file replaces which, which one's figures stand, which was received last). Step 2 writes
  the 回执 from those standings without it: the batch's own, and the earlier files' whose
  standing the batch changed (~4 s a batch of 3,000, which held every other load up).
  Step 3 holds it again, briefly: the standings anew, and any 回执 step 2 wrote from a
  standing that no longer holds is written again, from the warehouse; where step 2 made
  a file the unit's latest 回执 and another file, loaded since, is now the last received,
  the latest is that file's again. Usually nothing changed, and step 3 is one query.

  Why the 回执 then end as a serial load leaves them, whatever two batches of one unit
  and year do at once. A 回执 says its file's standing, and the unit's latest 回执 is the
  last received file's: both change only at a commit, and a load only adds files, so a
  commit that changes them names a file of the committing batch, and that batch's step 2
  writes the 回执 it changed (the earlier file it replaced, or its own named the latest).
  Take the last write of any 回执, and the last commit C that changed what it should say.
  Written from standings taken after C, it is right. Written from standings taken before
  C, it is not a step 3's (a step 3 takes its standings and writes under one hold, into
  which no commit falls), so it is some batch B's step 2; and it landed after C's batch
  wrote that 回执, so after C. B's step 3, after its step 2, sees C, finds that standing
  gone, and writes the 回执 again: a later write, which the last is not. So the last
  write is right. (The latest 回执 is a second name of a file's own copy, taken as the
  copy is at that moment: a stale copy it takes is some step 2's stale write, which that
  batch's step 3 writes, and names, again.) The first sketch of this argument had a
  hole: rewriting a file that is no longer the last received does not take the unit's
  latest name back from it (it is written as not the latest), and the file now last
  received may stand where its own batch wrote it, so nothing gave the name back; step 3
  now does. A load again (``reprocess``) that changes a loaded file's status can change a
  standing without naming the batch's files; that 回执 stays as it was, as in one run.

Read and validate run without the lock: they touch only the run's own staging folder,
and validation's history is an idempotent UPSERT.

An Airflow pool of one slot across both DAGs would add nothing to correctness and would
need creating wherever Airflow is set up (a task in a pool that does not exist is never
scheduled; ``airflow dags test`` ignores pools); the lock works in every way the steps
are run: the scheduler, ``airflow dags test``, the CLI and the tests.

Outputs written at once by two runs (the 回执, the year's totals) are written under
per-writer temporary names and renamed into place (``village_reports.files``), so no
reader ever sees half of one.
"""

from __future__ import annotations

import errno
import fcntl
import functools
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Generator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import Engine, text

from village_reports import settings, staging

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 3600.0  # seconds; a province's batch loads in minutes
WAITING = "等待另一运行释放数据仓库锁…（%s）"
CLAIM_LIVE_FOR = 6 * 3600  # seconds: a run's staging untouched for longer holds no file
# The advisory lock's key: one 64-bit number for this pipeline's warehouse.
ADVISORY_KEY = int.from_bytes(hashlib.sha256(b"village_reports.warehouse").digest()[:8], "big", signed=True)

_held = threading.local()  # the locks this thread holds: re-entrant


def lock_timeout() -> float:
    value = os.environ.get("VILLAGE_REPORTS_LOCK_TIMEOUT")
    return float(value) if value else DEFAULT_TIMEOUT


def lock_file(url: str) -> Path:
    """The lock file of a warehouse that is not PostgreSQL: beside the SQLite file."""
    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else ""
    if path and path != ":memory:":
        return Path(path).with_name(Path(path).name + ".lock")
    return settings.data_dir() / "warehouse.lock"


class LockTimeout(TimeoutError):
    """Another run held the warehouse's lock for longer than the timeout."""


def _wait(try_once: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pause, said = 0.05, False
    while not try_once():
        if not said:
            log.info(WAITING, what)
            said = True
        if time.monotonic() >= deadline:
            raise LockTimeout(f"another run held the warehouse lock ({what}) for more than {timeout:.0f} s")
        time.sleep(pause)
        pause = min(pause * 2, 2.0)
    if said:
        log.info("数据仓库锁已取得（%s）", what)


@contextmanager
def _advisory_lock(engine: Engine, timeout: float) -> Generator[None]:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:

        def try_once() -> bool:
            return bool(connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY}).scalar())

        _wait(try_once, f"PostgreSQL advisory lock {ADVISORY_KEY}", timeout)
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY})


@contextmanager
def _file_lock(path: Path, timeout: float) -> Generator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:

        def try_once() -> bool:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    return False
                raise
            return True

        _wait(try_once, str(path), timeout)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def warehouse_lock(url: str | None = None, timeout: float | None = None) -> Generator[None]:
    """Hold the warehouse's lock for the block: one run's critical step at a time."""
    from village_reports import warehouse

    url = url or settings.warehouse_url()
    held: set[str] = _held.__dict__.setdefault("keys", set())
    if url in held:  # this thread holds it already
        yield
        return
    timeout = lock_timeout() if timeout is None else timeout
    engine = warehouse.get_engine(url)
    lock = (
        _advisory_lock(engine, timeout) if engine.dialect.name == "postgresql" else _file_lock(lock_file(url), timeout)
    )
    with lock:
        held.add(url)
        try:
            yield
        finally:
            held.discard(url)


P = ParamSpec("P")
R = TypeVar("R")


def exclusive(step: Callable[P, R]) -> Callable[P, R]:
    """Run the step holding the warehouse's lock."""

    @functools.wraps(step)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        with warehouse_lock():
            return step(*args, **kwargs)

    return guarded


def claiming(discover: Callable[P, dict[str, Any]]) -> Callable[P, dict[str, Any]]:
    """``discover_and_archive`` under the lock, then without the files that another live
    run has claimed: what this run takes is its claim (its staged ``arrivals.json``)."""

    @functools.wraps(discover)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> dict[str, Any]:
        with warehouse_lock():
            run = discover(*args, **kwargs)
            others = staging.claimed_receipts(exclude=run["run"], live_within=CLAIM_LIVE_FOR)
            if not others:
                return run
            kept = staging.drop_arrivals(run["run"], others)
        dropped = run["files"] - len(kept)
        if dropped:
            log.info("%d file(s) left to the run that took them first", dropped)
        return {**run, "files": len(kept), "years": sorted({a["year"] for a in kept}), "claimed_elsewhere": dropped}

    return guarded
