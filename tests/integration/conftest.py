"""Integration fixtures: a project folder in tmp, and a warehouse on SQLite or PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ..conftest import IN_CI

PG_ADMIN_URL = os.environ.get("VILLAGE_REPORTS_TEST_PG", "postgresql+psycopg://root@127.0.0.1:5432/postgres")


def _postgres_database() -> Iterator[str]:
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            name = f"village_test_{uuid.uuid4().hex[:10]}"
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # ruff: ignore[blind-except]
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI: {exc}")
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def project(request, tmp_path: Path, monkeypatch) -> Iterator[Path]:
    """Data, output and warehouse settings pointed at a fresh folder (and database)."""
    monkeypatch.setenv("VILLAGE_REPORTS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VILLAGE_REPORTS_OUTPUT_DIR", str(tmp_path / "output"))
    if request.param == "sqlite":
        monkeypatch.setenv("AIRFLOW_CONN_VILLAGE_WAREHOUSE", f"sqlite:///{tmp_path / 'data' / 'warehouse.sqlite'}")
        yield tmp_path
    else:
        database = _postgres_database()
        monkeypatch.setenv("AIRFLOW_CONN_VILLAGE_WAREHOUSE", next(database))
        yield tmp_path
        next(database, None)


AIRFLOW = str(Path(sys.executable).with_name("airflow"))


ROOT = Path(__file__).resolve().parents[2]


def airflow_env(tmp_path: Path, work: Path, **settings: str) -> dict[str, str]:
    """The environment for Airflow's commands on this project: a fresh AIRFLOW_HOME, the
    project's DAGs, and the pipeline's data, outputs and SQLite warehouse under ``work``;
    ``settings`` add to it or override it."""
    return {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "VILLAGE_REPORTS_DATA_DIR": str(work / "data"),
        "VILLAGE_REPORTS_OUTPUT_DIR": str(work / "output"),
        "AIRFLOW_CONN_VILLAGE_WAREHOUSE": f"sqlite:///{work / 'data' / 'warehouse.sqlite'}",
        **settings,
    }


def scheduler_settings(port: int, secret: str) -> dict[str, str]:
    """What a scheduler, a DAG processor and their workers need to reach one api-server
    (Airflow 3 tasks report to its Execution API, and find it at ``[api] base_url``),
    tuned for a test's short runs."""
    return {
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API_AUTH__JWT_SECRET": secret,
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
    }


def login_settings(folder: Path, user: str, password: str) -> dict[str, str]:
    """SimpleAuthManager knowing ``user`` (admin) with ``password``: the passwords file is
    written here, so a test logs in as a statistician would, with a password it knows."""
    passwords = folder / "passwords.json"
    passwords.write_text(json.dumps({user: password}))
    return {
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{user}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def airflow_processes(commands: dict[str, list[str]], env: dict[str, str], logs: Path) -> Generator[None]:
    """Run ``airflow <command>`` for each name (api-server, scheduler, workers…) until the
    block ends; each process's output goes to ``logs/<name>.log`` and knows its name."""
    logs.mkdir(parents=True, exist_ok=True)
    processes = [
        subprocess.Popen(
            [AIRFLOW, *command],
            env={**env, "AIRFLOW_WORKER_NAME": name},
            stdout=(logs / f"{name}.log").open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for name, command in commands.items()
    ]
    try:
        yield
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def airflow_cli(env: dict[str, str], *args: str, timeout: int = 120) -> str:
    """Run an airflow command; retried while SQLite's metadata DB is locked by the scheduler."""
    for _attempt in range(6):
        run = subprocess.run([AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=timeout)
        if run.returncode == 0 or "database is locked" not in run.stderr:
            break
        time.sleep(5)
    assert run.returncode == 0, f"airflow {' '.join(args)}: {run.stderr[-2000:]}"
    return run.stdout


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> object:
    """Poll until ``predicate`` returns something true; that value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(2)
    pytest.fail(f"timed out waiting for {what}")


def bench_module():
    """bench/run.py, for its corpus of N synthetic submissions."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def add_to_value(path: Path, code: str, delta: float) -> None:
    """Add ``delta`` to one figure of a filled workbook, as a clerk correcting it would."""
    import openpyxl

    from village_reports.template import COL_CODE, COL_VALUE, COLUMNS, DATA_SHEET

    workbook = openpyxl.load_workbook(path)
    ws = workbook[DATA_SHEET]
    code_col, value_col = COLUMNS.index(COL_CODE) + 1, COLUMNS.index(COL_VALUE) + 1
    row = next(r for r in range(1, ws.max_row + 1) if ws.cell(row=r, column=code_col).value == code)
    ws.cell(row=row, column=value_col).value = float(ws.cell(row=row, column=value_col).value) + delta
    workbook.save(path)
