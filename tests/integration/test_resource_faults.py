"""Resource faults say so in one line (issue 15, item 4): a full disk under output/, a
read-only warehouse, a database that is down. Each ends the run with one ERROR line and a
``ResourceFault`` saying it, leaves no half-written file, and the next run after the fix
completes with the outputs of a clean run.

The full disk is a real small tmpfs and the read-only warehouse a read-only bind mount:
both need ``mount`` (root, or a user namespace); without it those tests skip."""

from __future__ import annotations

import errno
import logging
import os
import re
import shutil
import subprocess
import zipfile
from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path

import pytest

from village_reports import faults, pipeline, settings
from village_reports.samples import write_samples

KEY = pipeline.LOCAL_RUN


def run_like_the_dags() -> dict:
    """The nightly DAG then township_report, each task's body inside the wrapper the DAGs
    put around it; stops at the first failed step (Airflow would run the other batches)."""
    faults.forget(KEY)
    with faults.one_line("prepare_warehouse", KEY):
        pipeline.prepare_warehouse()
    with faults.one_line("discover_and_archive", KEY):
        run = pipeline.discover_and_archive(run_key=KEY)
    with faults.one_line("plan_batches", KEY):
        batches = pipeline.plan_batches(run, 7)
    loaded = []
    for n, batch in enumerate(batches):
        with faults.one_line(f"batch.read_{n}", KEY):
            batch = pipeline.read_batch(batch)
        with faults.one_line(f"batch.validate_{n}", KEY):
            batch = pipeline.validate_batch(batch)
        with faults.one_line(f"batch.load_{n}", KEY):
            loaded.append(pipeline.load_batch(batch))
    with faults.one_line("publish", KEY):
        summary = pipeline.finish_run(loaded, run_key=KEY)
    for year in pipeline.reporting_years():
        with faults.one_line(f"report_year {year}"):
            pipeline.report_year(year)
    return summary


def mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if done.returncode:
        pytest.skip(f"cannot mount here: {done.stderr.strip()}")


@contextmanager
def mounted(path: Path) -> Generator[None, None, None]:
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


@contextmanager
def small_disk(path: Path, size: str) -> Generator[None, None, None]:
    path.mkdir(parents=True, exist_ok=True)
    mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path))
    with mounted(path):
        yield


def free_space(path: Path, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(path)], check=True)


def fault_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def outputs(out: Path) -> dict[str, bytes]:
    """What a run leaves under output/: every file's name, and the bytes of those that
    carry no time of writing."""
    found = {}
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        # the samples are written anew for each run, so their digests (in the per-submission 回执's names) differ
        name = re.sub(r"_[0-9a-f]{12}\.xlsx$", ".xlsx", path.relative_to(out).as_posix())
        found[name] = path.read_bytes() if path.suffix in (".csv", ".md") else b""
    return found


def assert_whole(out: Path) -> None:
    """No temporary file left, no truncated workbook or table."""
    assert not list(out.rglob("*.part"))
    for path in out.rglob("*.xlsx"):
        assert zipfile.is_zipfile(path), path
    for path in out.rglob("township_totals.csv"):
        assert path.read_bytes().endswith(b"\r\n"), path


@pytest.fixture
def clean_outputs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """A clean run's outputs, in a folder of its own, on SQLite."""
    base = tmp_path_factory.mktemp("clean")
    with monkeypatch.context() as patch:
        patch.setenv("VILLAGE_REPORTS_DATA_DIR", str(base / "data"))
        patch.setenv("VILLAGE_REPORTS_OUTPUT_DIR", str(base / "output"))
        patch.setenv("AIRFLOW_CONN_VILLAGE_WAREHOUSE", f"sqlite:///{base / 'data' / 'warehouse.sqlite'}")
        write_samples(settings.inbox_dir())
        run_like_the_dags()
        return outputs(base / "output")


@pytest.mark.parametrize("project", ["sqlite"], indirect=True)
def test_a_full_disk_under_output_says_so_in_one_line(
    project: Path, clean_outputs: dict[str, bytes], caplog: pytest.LogCaptureFixture
) -> None:
    out = settings.output_dir()
    write_samples(settings.inbox_dir())
    with small_disk(out, "64k"):
        caplog.set_level(logging.INFO)
        with pytest.raises(faults.ResourceFault) as raised:
            run_like_the_dags()
        line = str(raised.value)
        assert line.startswith("磁盘空间不足：output/") and line.endswith(" MB"), line
        assert fault_lines(caplog) == [line]
        assert isinstance(raised.value.__cause__, OSError)
        assert faults.recorded(KEY) == [f"{raised.value.step}：{line}"]
        assert_whole(out)

        free_space(out, "64m")
        caplog.clear()
        summary = run_like_the_dags()
        assert fault_lines(caplog) == []
        assert summary["faults"] == []
        assert outputs(out) == clean_outputs
        assert_whole(out)


@pytest.mark.parametrize("project", ["sqlite"], indirect=True)
def test_a_full_disk_while_writing_the_totals_leaves_no_part_of_them(
    project: Path, clean_outputs: dict[str, bytes], caplog: pytest.LogCaptureFixture
) -> None:
    out = settings.output_dir()
    write_samples(settings.inbox_dir())
    with small_disk(out, "64m"):
        pipeline.finish_run([pipeline.run_ingest(batch_size=7)])
        filler = out / "filler"  # room for a few pages, not for a year's totals
        filler.write_bytes(b"\0" * (shutil.disk_usage(out).free - 8 * 1024))
        caplog.set_level(logging.INFO)
        with pytest.raises(faults.ResourceFault) as raised, faults.one_line("report_year 2019"):
            pipeline.report_year(2019)
        assert str(raised.value).startswith("磁盘空间不足：output/"), str(raised.value)
        assert fault_lines(caplog) == [str(raised.value)]
        assert_whole(out)
        for name, data in outputs(out).items():
            if name.startswith("2019/") and data:  # whole, or not there at all
                assert data == clean_outputs[name], name

        filler.unlink()
        caplog.clear()
        for year in pipeline.reporting_years():
            with faults.one_line(f"report_year {year}"):
                pipeline.report_year(year)
        assert fault_lines(caplog) == []
        assert_whole(out)
        assert outputs(out) == clean_outputs


def read_only(path: Path) -> None:
    mount("--bind", str(path), str(path))
    done = subprocess.run(["mount", "-o", "remount,ro,bind", str(path)], capture_output=True, text=True, check=False)
    if done.returncode:
        subprocess.run(["umount", "-l", str(path)], check=False)
        pytest.skip(f"cannot remount read-only here: {done.stderr.strip()}")
    with pytest.raises(OSError) as refused:  # the mount holds, and the test below means what it says
        os.close(os.open(path, os.O_RDWR))
    assert refused.value.errno == errno.EROFS


def open_descriptors(path: Path) -> list[str]:
    """This process's open descriptors on ``path``'s file."""
    found = []
    for fd in Path("/proc/self/fd").iterdir():
        try:
            if Path(fd).samefile(path):
                found.append(fd.name)
        except OSError:
            continue
    return found


@pytest.mark.parametrize("project", ["sqlite"], indirect=True)
def test_a_read_only_warehouse_says_so_in_one_line(
    project: Path, clean_outputs: dict[str, bytes], caplog: pytest.LogCaptureFixture
) -> None:
    write_samples(settings.inbox_dir(), [2019])
    run_like_the_dags()
    # the other years arrive while the warehouse is read-only (2019 again would be new files:
    # the same figures, received now, which every output rightly dates as its data's time)
    write_samples(settings.inbox_dir(), [2020, 2021])
    database = settings.data_dir() / "warehouse.sqlite"
    # as between two tasks: no descriptor of the first run is left for SQLite to reuse
    assert open_descriptors(database) == []
    read_only(database)
    with mounted(database):
        caplog.set_level(logging.INFO)
        with pytest.raises(faults.ResourceFault) as raised:
            run_like_the_dags()
        assert str(raised.value) == "数据仓库只读"
        assert fault_lines(caplog) == ["数据仓库只读"]
    assert_whole(settings.output_dir())

    caplog.clear()
    run_like_the_dags()
    assert fault_lines(caplog) == []
    assert outputs(settings.output_dir()) == clean_outputs


@pytest.mark.postgres
@pytest.mark.parametrize("project", ["postgresql"], indirect=True)
def test_a_database_that_is_down_says_so_in_one_line(
    project: Path, clean_outputs: dict[str, bytes], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_samples(settings.inbox_dir())
    url = os.environ["AIRFLOW_CONN_VILLAGE_WAREHOUSE"]
    monkeypatch.setenv("AIRFLOW_CONN_VILLAGE_WAREHOUSE", "postgresql+psycopg://root:secret@127.0.0.1:1/village")
    caplog.set_level(logging.INFO)
    with pytest.raises(faults.ResourceFault) as raised:
        run_like_the_dags()
    assert str(raised.value) == "数据仓库无法连接：127.0.0.1:1"
    assert fault_lines(caplog) == [str(raised.value)]
    assert not settings.output_dir().exists() or not list(settings.output_dir().rglob("*"))

    monkeypatch.setenv("AIRFLOW_CONN_VILLAGE_WAREHOUSE", url)
    caplog.clear()
    run_like_the_dags()
    assert fault_lines(caplog) == []
    assert outputs(settings.output_dir()) == clean_outputs


def test_other_errors_keep_their_traceback(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(KeyError), faults.one_line("read"):
        raise KeyError("a bug")
    assert fault_lines(caplog) == []
    assert faults.describe(OSError(2, "No such file or directory", "x")) is None
