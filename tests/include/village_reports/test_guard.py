"""The guard of what two runs at once share: the warehouse lock, claims, temporary names."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from village_reports import guard, staging
from village_reports.files import link_atomically, write_atomically


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("VILLAGE_REPORTS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AIRFLOW_CONN_VILLAGE_WAREHOUSE", f"sqlite:///{tmp_path / 'warehouse.sqlite'}")
    return tmp_path


HOLD = """
import sys, time
from pathlib import Path
from village_reports import guard
with guard.warehouse_lock(sys.argv[1]):
    Path(sys.argv[2]).touch()
    time.sleep(float(sys.argv[3]))
"""


def _holder(url: str, tmp_path: Path, seconds: float) -> subprocess.Popen:
    held = tmp_path / "held"
    process = subprocess.Popen([sys.executable, "-c", HOLD, url, str(held), str(seconds)], env=os.environ.copy())
    deadline = time.monotonic() + 30
    while not held.exists():
        assert time.monotonic() < deadline and process.poll() is None, "the holder never took the lock"
        time.sleep(0.02)
    return process


def test_the_lock_file_sits_beside_the_sqlite_warehouse(tmp_path: Path) -> None:
    assert guard.lock_file(f"sqlite:///{tmp_path / 'w.sqlite'}") == tmp_path / "w.sqlite.lock"
    assert guard.lock_file("sqlite:///:memory:") == tmp_path / "warehouse.lock"


def test_another_process_waits_for_the_lock_and_says_so(tmp_path: Path, caplog) -> None:
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    holder = _holder(url, tmp_path, 1.5)
    begun = time.monotonic()
    with caplog.at_level(logging.INFO, logger="village_reports.guard"), guard.warehouse_lock(url):
        waited = time.monotonic() - begun
    holder.wait(timeout=30)
    assert waited > 0.5
    assert "等待另一运行释放数据仓库锁" in caplog.text


def test_a_lock_held_too_long_times_out_with_its_name(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    holder = _holder(url, tmp_path, 5)
    try:
        with pytest.raises(guard.LockTimeout, match=r"warehouse\.sqlite\.lock"), guard.warehouse_lock(url, timeout=0.3):
            pass
    finally:
        holder.kill()
        holder.wait()


def test_the_lock_is_reentrant_within_a_thread_and_excludes_other_threads(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    order: list[str] = []

    def other() -> None:
        with guard.warehouse_lock(url):
            order.append("other")

    with guard.warehouse_lock(url), guard.warehouse_lock(url):
        thread = threading.Thread(target=other)
        thread.start()
        time.sleep(0.3)
        order.append("first")
    thread.join(timeout=10)
    assert order == ["first", "other"]


def test_files_claimed_by_another_live_run_are_left_to_it(tmp_path: Path) -> None:
    staging.write_json(staging.run_dir("a") / "arrivals.json", [{"receipt_id": "r1"}, {"receipt_id": "r2"}])
    staging.write_json(staging.run_dir("b") / "arrivals.json", [{"receipt_id": "r2"}, {"receipt_id": "r3"}])
    assert staging.claimed_receipts(exclude="b") == {"r1", "r2"}
    assert staging.claimed_receipts(exclude="b", live_within=60, now=time.time() + 120) == set()  # left: holds none
    assert staging.drop_arrivals("b", {"r2"}) == [{"receipt_id": "r3"}]
    assert staging.read_json(staging.run_dir("b") / "arrivals.json") == [{"receipt_id": "r3"}]


def test_writers_of_one_file_in_many_threads_never_share_a_temporary_name(tmp_path: Path) -> None:
    target, source = tmp_path / "out" / "回执.xlsx", tmp_path / "kept.xlsx"
    source.write_bytes(b"whole")
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for _ in range(50):
                write_atomically(target, b"whole")
                link_atomically(source, target)
        except BaseException as exc:  # ruff: ignore[blind-except] - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert target.read_bytes() == b"whole"
    assert not list(target.parent.glob("*.part"))
