"""Scale-out: the nightly DAG over 1,000 submissions on CeleryExecutor with two workers
(Redis broker, PostgreSQL metadata DB), a real scheduler, DAG processor and api-server.
Batches run on both workers, and the warehouse equals a single-process run's."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from ..conftest import IN_CI
from .conftest import AIRFLOW, ROOT, airflow_env, airflow_processes, bench_module, free_port, scheduler_settings

PG = os.environ.get("VILLAGE_REPORTS_TEST_PG", "postgresql+psycopg://root@127.0.0.1:5432/postgres")
N = 1000
COMPARED = {
    "village_indicator_values": "year, unit_code, indicator_code, value, sheet, cell, submission_id",
    "submission_status": "year, unit_code, status, file_name, error_count, warning_count",
    "file_accounting": "*",
}


def _snapshot(url: str) -> dict[str, list[tuple]]:
    engine = create_engine(url)
    with engine.connect() as connection:
        views = {
            name: [tuple(r) for r in connection.execute(text(f"SELECT {cols} FROM {name} ORDER BY 1, 2, 3"))]
            for name, cols in COMPARED.items()
        }
    engine.dispose()
    return views


@pytest.fixture
def celery_stack(tmp_path: Path) -> Iterator[dict]:
    if (
        subprocess.run(["redis-cli", "-h", "127.0.0.1", "ping"], capture_output=True, text=True).stdout.strip()
        != "PONG"
    ):
        if IN_CI:
            pytest.fail("Redis is required in CI (.ci/run starts it)")
        pytest.skip("Redis not running on 127.0.0.1:6379")
    admin = create_engine(PG, isolation_level="AUTOCOMMIT")
    meta_db = f"airflow_celery_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{meta_db}"'))
    bench = bench_module()
    bench.CORPUS = tmp_path / "corpus"
    corpus = bench.make_corpus(N)
    port = free_port()
    env = airflow_env(
        tmp_path,
        tmp_path / "celery",
        AIRFLOW__CORE__PLUGINS_FOLDER=str(ROOT / "plugins"),
        AIRFLOW__CORE__EXECUTOR="CeleryExecutor",
        AIRFLOW__CORE__HOSTNAME_CALLABLE="worker_identity.hostname",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"postgresql+psycopg2://root@127.0.0.1:5432/{meta_db}",
        AIRFLOW__CELERY__BROKER_URL=f"redis://127.0.0.1:6379/{7 + os.getpid() % 8}",
        AIRFLOW__CELERY__RESULT_BACKEND=f"db+postgresql://root@127.0.0.1:5432/{meta_db}",
        **scheduler_settings(port, "celery-test-secret"),
        VILLAGE_REPORTS_ROSTER=str(corpus / "roster.yaml"),
        VILLAGE_REPORTS_INBOX=str(corpus / "inbox"),
        VILLAGE_REPORTS_BATCH_SIZE="100",  # ten batches, so that both workers get some
    )
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    commands = {
        "api-server": ["api-server", "--port", str(port)],
        "scheduler": ["scheduler"],
        "dag-processor": ["dag-processor"],
        "worker1": ["celery", "worker", "--celery-hostname", "worker1@%h", "--concurrency", "1"],
        "worker2": ["celery", "worker", "--celery-hostname", "worker2@%h", "--concurrency", "1"],
    }
    try:
        with airflow_processes(commands, env, tmp_path / "logs"):
            yield {"env": env, "corpus": corpus, "meta_db": meta_db, "tmp": tmp_path}
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{meta_db}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.slow
@pytest.mark.postgres
def test_batches_run_on_two_celery_workers_with_the_single_process_result(celery_stack: dict, monkeypatch) -> None:
    env, tmp = celery_stack["env"], celery_stack["tmp"]
    # the single-process reference, first: same files, its own warehouse
    reference = f"sqlite:///{tmp / 'single' / 'warehouse.sqlite'}"
    for key in ("VILLAGE_REPORTS_ROSTER", "VILLAGE_REPORTS_INBOX"):
        monkeypatch.setenv(key, env[key])
    monkeypatch.setenv("VILLAGE_REPORTS_DATA_DIR", str(tmp / "single"))
    monkeypatch.setenv("VILLAGE_REPORTS_OUTPUT_DIR", str(tmp / "single" / "output"))
    monkeypatch.setenv("AIRFLOW_CONN_VILLAGE_WAREHOUSE", reference)
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from village_reports import pipeline; pipeline.run_ingest(feedback=False)",
        ],
        env=dict(os.environ),
        check=True,
        timeout=600,
    )

    meta = create_engine(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].replace("psycopg2", "psycopg"))
    deadline = time.monotonic() + 180
    while (
        "village_reports"
        not in subprocess.run([AIRFLOW, "dags", "list", "-o", "plain"], env=env, capture_output=True, text=True).stdout
    ):
        assert time.monotonic() < deadline, "the DAG processor never parsed the DAGs"
        time.sleep(3)
    subprocess.run([AIRFLOW, "dags", "unpause", "village_reports"], env=env, check=True, capture_output=True)

    def runs() -> list[tuple[str, str]]:
        with meta.connect() as connection:
            return [
                tuple(r)
                for r in connection.execute(text("SELECT run_id, state FROM dag_run WHERE dag_id = 'village_reports'"))
            ]

    deadline = time.monotonic() + 900
    while not runs() or any(state not in ("success", "failed") for _, state in runs()):
        assert time.monotonic() < deadline, f"runs did not finish: {runs()}"
        time.sleep(5)
    assert {state for _, state in runs()} == {"success"}
    with meta.connect() as connection:
        hosts = {
            r[0]
            for r in connection.execute(
                text(
                    "SELECT DISTINCT hostname FROM task_instance "
                    "WHERE dag_id = 'village_reports' AND task_id IN ('batch.read', 'batch.validate', 'batch.load')"
                )
            )
        }
        mapped = connection.execute(
            text("SELECT COUNT(*) FROM task_instance WHERE dag_id = 'village_reports' AND task_id = 'batch.load'")
        ).scalar()
    meta.dispose()
    assert hosts == {"worker1", "worker2"}
    assert mapped <= 10 + 1  # batches, not 1,000 tasks (+1: an empty scheduled run)
    assert _snapshot(env["AIRFLOW_CONN_VILLAGE_WAREHOUSE"]) == _snapshot(reference)
