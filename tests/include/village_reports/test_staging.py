"""The files that carry a run's data between its tasks."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from village_reports import staging
from village_reports.files import link_atomically, write_atomically
from village_reports.model import Problem, ReadResult, Record


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("VILLAGE_REPORTS_DATA_DIR", str(tmp_path))
    return tmp_path


def _results() -> list[ReadResult]:
    first = ReadResult(source="MT01.xlsx", unit_code="MT01", year=2021, template_version="2021.1", sheet="填报表")
    first.records += [
        Record("MT01", 2021, "REV01", 63.0, "63", "填报表", "F7"),
        Record("MT01", 2021, "REV02", None, "", "填报表", "F8", note="没有发生"),
    ]
    first.problems.append(Problem("value.not_number", "error", "“低保”填的是“很多”", "填报表", "F7", "REV01"))
    unreadable = ReadResult(source="坏文件.xlsx")
    unreadable.problems.append(Problem("file.unreadable", "error", "文件无法读取"))
    third = ReadResult(source="MT03.xlsx", unit_code="MT03", year=2021)
    third.records.append(Record("MT03", 2021, "REV01", 1.5, "1.5", "表", "F7"))
    return [first, unreadable, third]


def test_results_come_back_as_they_were_written(tmp_path: Path) -> None:
    results = _results()
    staging.write_results(tmp_path / "b", "read", results)
    assert staging.read_results(tmp_path / "b", "read") == results


def test_a_batch_of_nothing_stages_too(tmp_path: Path) -> None:
    staging.write_results(tmp_path / "b", "read", [ReadResult(source="x")])
    assert staging.read_results(tmp_path / "b", "read") == [ReadResult(source="x")]


def test_grids_keep_text_numbers_and_blanks() -> None:
    grids = [[["标题", "", 1.5], [True, None]], None]
    staging.write_grids(staging.run_dir("r"), [staging.grid_json(g) for g in grids])
    assert staging.read_grids(staging.run_dir("r")) == grids


def test_run_keys_become_safe_folder_names() -> None:
    folder = staging.run_dir("manual__2026-11-29T08:01:52.500386+00:00/../../etc")
    assert folder.parent == staging.root() and "/" not in folder.name and folder.name not in (".", "..")


def test_sweep_removes_abandoned_runs_only() -> None:
    old, current, fresh = staging.run_dir("old"), staging.run_dir("current"), staging.run_dir("fresh")
    for folder in (old, current, fresh):
        staging.write_json(folder / "arrivals.json", [])
    stale = time.time() - staging.STALE_AFTER - 60
    for folder in (old, current):
        os.utime(folder / "arrivals.json", (stale, stale))
        os.utime(folder, (stale, stale))
    assert staging.sweep(keep="current") == [old]
    assert not old.exists() and current.exists() and fresh.exists()


def test_a_write_never_leaves_half_a_file(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "out" / "回执.xlsx"
    write_atomically(target, b"old")

    def full_disk(self, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    with pytest.raises(OSError, match="No space"):
        write_atomically(target, b"new")
    monkeypatch.undo()
    assert target.read_bytes() == b"old" and [p.name for p in target.parent.iterdir()] == ["回执.xlsx"]


def test_writes_survive_their_folder_being_removed(tmp_path: Path) -> None:
    target = tmp_path / "run" / "a.json"
    write_atomically(target, "1")
    staging.remove(tmp_path / "run")
    write_atomically(target, "2")  # the folder is made again
    link_atomically(target, tmp_path / "run" / "b.json")
    assert (tmp_path / "run" / "b.json").read_text() == "2"
