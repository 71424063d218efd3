"""Following a runbook word for word, as an operator would on a fresh clone: its `make
airflow` (the script the Makefile's recipe runs) in terminal 1, until it says the UI is
ready, and the shell commands of its fenced ``sh`` blocks typed in terminal 2.

The clone is a copy in tmp of what a runbook touches (Makefile, bin/, dags/, plugins/,
and a link to the venv), so its `.airflow` is a fresh AIRFLOW_HOME; neither terminal has
any AIRFLOW_* setting of the test session's. The inbox (the sample submissions), the
warehouse and the outputs are in tmp too; the api-server listens on a free port, not 8080.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import ROOT, free_port, wait_for


def runbook_commands(markdown: str) -> list[str]:
    """The shell commands of the ``sh`` blocks: continuation lines joined, comments and
    blank lines left out."""
    commands: list[str] = []
    for block in re.findall(r"^```sh\n(.*?)^```", markdown, flags=re.M | re.S):
        for command in re.sub(r"\\\n\s*", " ", block).splitlines():
            if command.strip() and not command.lstrip().startswith("#"):
                commands.append(command.strip())
    return commands


def makefile_recipe(makefile: Path, target: str) -> list[str]:
    """The one-line recipe of a Makefile target."""
    match = re.search(rf"^{target}:.*\n\t(.+)$", makefile.read_text("utf-8"), flags=re.M)
    assert match, f"no '{target}' target in {makefile}"
    return shlex.split(match.group(1))


def fresh_clone(tmp_path: Path) -> Path:
    clone = tmp_path / "clone"
    clone.mkdir()
    shutil.copy2(ROOT / "Makefile", clone)
    for folder in ("bin", "dags", "plugins"):
        shutil.copytree(ROOT / folder, clone / folder, ignore=shutil.ignore_patterns("__pycache__"))
    (clone / ".venv").symlink_to(ROOT / ".venv")  # `make install`
    return clone


def operator_shell(tmp_path: Path) -> dict[str, str]:
    """An operator's shell: nothing of Airflow's set; the pipeline's folders in tmp."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    work = tmp_path / "work"
    env.update(
        HOME=str(tmp_path / "home"),  # no ~/airflow to fall back on
        VILLAGE_REPORTS_DATA_DIR=str(work / "data"),
        VILLAGE_REPORTS_OUTPUT_DIR=str(work / "output"),
        AIRFLOW_CONN_VILLAGE_WAREHOUSE=f"sqlite:///{work / 'data' / 'warehouse.sqlite'}",
        # batches of ten files: fewer task start-ups, same result (batching is a setting)
        VILLAGE_REPORTS_BATCH_SIZE="10",
    )
    return env


@dataclass
class Terminals:
    clone: Path
    shell: dict[str, str]  # terminal 2's environment
    started: str  # what `make airflow` printed once ready
    port: int


def start_terminals(tmp_path: Path) -> Iterator[Terminals]:
    """`make airflow`'s script, started as the runbook's terminal 1 does, until it says
    the UI is ready. Afterwards, Ctrl-C there must stop every service and its workers."""
    clone = fresh_clone(tmp_path)
    shell = operator_shell(tmp_path)
    subprocess.run(
        [sys.executable, "-m", "village_reports", "samples", "--inbox", shell["VILLAGE_REPORTS_DATA_DIR"] + "/inbox"],
        env=shell,
        check=True,
        capture_output=True,
    )
    port = free_port()
    while port in (8080, 8793):
        port = free_port()
    terminal_1 = {
        **shell,
        "AIRFLOW_PORT": str(port),
        # not the default 8793, which another scheduler on this machine may hold
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
    }
    log = tmp_path / "make-airflow.log"
    process = subprocess.Popen(
        makefile_recipe(clone / "Makefile", "airflow"),
        cwd=clone,
        env=terminal_1,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        # Ctrl-C reaches it as in a terminal, even if this session was started ignoring it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    pids: list[int] = []
    try:

        def ready() -> str | None:
            output = log.read_text("utf-8")
            pids[:] = [int(pid) for pid in re.findall(r"^started \S+ \(pid (\d+)", output, flags=re.M)]
            if process.poll() is not None:
                pytest.fail(f"make airflow's script ended (status {process.returncode}):\n{output[-3000:]}")
            return output if "\nCLI: " in output else None

        started = wait_for(ready, 300, "make airflow's services")
        yield Terminals(clone, shell, started, port)

        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in terminal 1
        assert process.wait(timeout=90) != 0
        assert len(pids) == 3
        assert not _left_running(pids), f"Ctrl-C left processes running: {_left_running(pids)}"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


def _left_running(groups: list[int]) -> list[str]:
    """Processes, zombies aside, still in these process groups (a service and its workers)."""
    left = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, _, rest = stat.read_text().rpartition(")")
        except OSError:
            continue
        state, _ppid, pgrp = rest.split()[:3]
        if int(pgrp) in groups and state != "Z":
            left.append(name.partition("(")[2])
    return left


def type_in(terminals: Terminals, setup: list[str], command: str) -> str:
    """``command`` as typed in terminal 2, after the runbook's ``source`` lines so far."""
    script = "\n".join(["set -e", *setup, command])
    run = subprocess.run(
        ["bash", "-c", script], cwd=terminals.clone, env=terminals.shell, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, f"$ {command}\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}"
    return run.stdout
