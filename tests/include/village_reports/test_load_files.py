"""load_files and the warehouse lock: the 回执 are written without it, and stay right when
two batches of one unit and year load at once (see village_reports.guard)."""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl

from village_reports import guard, pipeline, settings
from village_reports.catalogue import load_catalogue
from village_reports.intake import write_register
from village_reports.roster import load_roster
from village_reports.samples import sample_values, write_unit_sample

UNIT, YEAR = "MT03", 2021


def _use_project(root: Path, monkeypatch) -> Path:
    """Data, outputs and a SQLite warehouse under ``root``."""
    monkeypatch.setenv("VILLAGE_REPORTS_DATA_DIR", str(root / "data"))
    monkeypatch.setenv("VILLAGE_REPORTS_OUTPUT_DIR", str(root / "output"))
    monkeypatch.setenv("AIRFLOW_CONN_VILLAGE_WAREHOUSE", f"sqlite:///{root / 'data' / 'warehouse.sqlite'}")
    for variable in ("VILLAGE_REPORTS_INBOX", "VILLAGE_REPORTS_ARCHIVE"):
        monkeypatch.delenv(variable, raising=False)
    return root


def _draft_and_final(inbox: Path) -> None:
    """One village's final file for the year and an earlier draft with another figure,
    both accepted, the draft received ten days before the final file."""
    catalogue, unit = load_catalogue(), load_roster()[UNIT]
    values = dict(sample_values(YEAR)[UNIT])
    final = write_unit_sample(inbox / str(YEAR), unit, YEAR, values, catalogue)
    values["REV01"] += 1
    draft = write_unit_sample(inbox.with_name("draft"), unit, YEAR, values, catalogue)  # its template's name
    draft = draft.rename(final.with_name(f"{final.stem}(初稿).xlsx"))
    arrived = datetime(YEAR + 1, 2, 10, 9, 0, tzinfo=settings.LOCAL_ZONE)
    write_register(final.parent, {final.name: arrived, draft.name: arrived - timedelta(days=10)})


def _batches(files: Path) -> dict[str, pipeline.BatchRef]:
    """The inbox ``files`` read and checked, one file a batch: "draft" and "final", ready
    to load. A copy, so that the files (and their submissions) are the same in each test's
    projects: a workbook saved again is other bytes (its time is in it)."""
    shutil.copytree(files, settings.inbox_dir())
    pipeline.prepare_warehouse()
    batches = pipeline.plan_batches(pipeline.discover_and_archive([YEAR]), 1)
    checked = [pipeline.validate_batch(pipeline.read_batch(batch)) for batch in batches]
    return {"draft" if "初稿" in batch["label"] else "final": batch for batch in checked}


def _lock_is_free() -> bool:
    """Whether another thread could take the warehouse lock right now (it waits no time)."""
    free: list[bool] = []

    def probe() -> None:
        try:
            with guard.warehouse_lock(timeout=0):
                free.append(True)
        except guard.LockTimeout:
            free.append(False)

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join(timeout=30)
    return free == [True]


def test_the_receipts_are_written_without_the_warehouse_lock(tmp_path: Path, monkeypatch) -> None:
    """Every 回执 of a load, the batch's own and the earlier file's it replaced, is written
    while another run could take the lock: writing them no longer holds other loads up."""
    _draft_and_final(tmp_path / "inbox")
    _use_project(tmp_path, monkeypatch)
    batches = _batches(tmp_path / "inbox")
    written = pipeline.write_feedback
    free: list[tuple[str, bool]] = []

    def write_feedback(out_dir: Path, arrival: dict[str, Any], *args: Any, **kwargs: Any) -> Path:
        free.append((arrival["file_name"], _lock_is_free()))
        return written(out_dir, arrival, *args, **kwargs)

    monkeypatch.setattr(pipeline, "write_feedback", write_feedback)
    pipeline.load_files(batches["draft"])
    pipeline.load_files(batches["final"])
    draft, final = (f"{template}.xlsx" for template in ("MT03_中兴村_2021(初稿)", "MT03_中兴村_2021"))
    assert [name for name, _ in free] == [draft, final, draft]  # the draft's is written again: it was replaced
    assert all(unlocked for _, unlocked in free), free


def _receipts(root: Path) -> dict[str, list[list[list[Any]]]]:
    """Every 回执 under ``root``'s outputs by its path there: each sheet's cell values."""
    found = {}
    for path in sorted((root / "output" / "feedback").rglob("*.xlsx")):
        workbook = openpyxl.load_workbook(path)
        found[str(path.relative_to(root / "output"))] = [
            [[cell.value for cell in row] for row in sheet.iter_rows()] for sheet in workbook.worksheets
        ]
    return found


def _pausing_draft_after_its_commit(monkeypatch) -> tuple[threading.Event, threading.Event]:
    """Make the draft's load stop between its commit (step 1) and its 回执 (step 2):
    the first event says it got there, the second lets it go on."""
    committed, go_on = threading.Event(), threading.Event()
    write = pipeline._write_receipts

    def paused(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name == "draft":
            committed.set()
            assert go_on.wait(timeout=60), "the final file's load never finished"
        return write(*args, **kwargs)

    monkeypatch.setattr(pipeline, "_write_receipts", paused)
    return committed, go_on


def test_receipts_made_stale_by_a_load_at_once_are_written_again(tmp_path: Path, monkeypatch, caplog) -> None:
    """The draft's batch commits; the final file's batch commits and writes all its 回执
    (the final file's, the unit's latest, and the draft's, now replaced); only then does
    the draft's batch write the draft's 回执, from the standing it saw before the final
    file came (not replaced, the unit's latest). Its step 3 must write them again: the
    回执 end as a serial load of both files leaves them."""
    _draft_and_final(tmp_path / "inbox")
    serial = _use_project(tmp_path / "serial", monkeypatch)
    batches = _batches(tmp_path / "inbox")
    pipeline.load_files(batches["draft"])
    pipeline.load_files(batches["final"])
    expected = _receipts(serial)

    at_once = _use_project(tmp_path / "at_once", monkeypatch)
    batches = _batches(tmp_path / "inbox")
    committed, go_on = _pausing_draft_after_its_commit(monkeypatch)
    failed: list[BaseException] = []
    draft = threading.Thread(target=_collecting(failed, pipeline.load_files, batches["draft"]), name="draft")
    with caplog.at_level(logging.INFO, logger="village_reports.pipeline"):
        draft.start()
        try:
            assert committed.wait(timeout=60), "the draft's load never committed"
            assert _lock_is_free()  # the draft's load waits between its steps without the lock
            pipeline.load_files(batches["final"])  # commits, writes all three, checks: all as it saw them
        finally:
            go_on.set()  # the draft's step 2 now writes from what it saw before the final file
        draft.join(timeout=60)
    assert not failed and not draft.is_alive()

    got = _receipts(at_once)
    assert got.keys() == expected.keys() and len(got) == 3  # the unit's latest, and one per file
    for path in expected:
        assert got[path] == expected[path], path
    latest = got[f"feedback/{YEAR}/MT03_中兴村_{YEAR}年回执.xlsx"][0]
    assert latest[2][2] == "MT03_中兴村_2021.xlsx" and "本文件替换了" in latest[5][2]
    # step 3's work: the draft's 回执 written again, the latest name given back to the final file's
    assert "回执 of MT03_中兴村_2021(初稿).xlsx written again: a batch loaded meanwhile" in caplog.text
    assert "MT03_中兴村_2021.xlsx named the unit's latest 回执 again" in caplog.text


def _collecting(failed: list[BaseException], step: Callable[..., Any], *args: Any) -> Callable[[], None]:
    def run() -> None:
        try:
            step(*args)
        except BaseException as exc:  # ruff: ignore[blind-except] - collected for the assertion
            failed.append(exc)

    return run
