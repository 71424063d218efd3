"""make bench: the nightly DAGs as Airflow runs them, against the naive pipeline and the
calamine read floor, on the same files in the same run.

Generates N synthetic submissions from the template (cached under bench/corpus/, which
git ignores), then measures, each in a fresh process:

  dags_test   `airflow dags test village_reports`, then `airflow dags test township_report`
              (one process, SQLite metadata DB), with every output they write: archive,
              warehouse, 回执, validation report, township outputs; then a second
              `dags test village_reports` over the same inbox (nothing new)
  scheduler   api-server, scheduler and dag-processor with LocalExecutor and parallelism 2
              (PostgreSQL metadata DB): the nightly run from unpausing village_reports to
              the end of the township_report run its asset event starts; then a no-op
              night (a triggered run with nothing new, which starts no township_report)
  naive       pandas.read_excel with openpyxl per file, one GX run per file, DataFrame.to_sql
              per file, totals with pandas (measured on --naive-limit files, then scaled)
  floor       python-calamine reading every file, nothing else

Peak RSS is sampled per process (every 0.1 s) and attributed to the task each process
runs. `--stages` times the library functions per stage (a breakdown, not the product's
figure). Usage: python bench/run.py --sizes 18,1000 --databases sqlite
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "bench" / "corpus"
YEAR = 2021
WORKERS = os.cpu_count() or 2  # as many mapped tasks at once as the machine has cores
PG_ADMIN = os.environ.get("VILLAGE_REPORTS_BENCH_PG", "postgresql+psycopg://root@127.0.0.1:5432/postgres")


# ---- corpus ---------------------------------------------------------------------------------


def unit_code(i: int) -> str:
    return f"BV{i:06d}"


def make_corpus(n: int) -> Path:
    """N village workbooks (and a roster naming them), made by editing one template's XML."""
    folder = CORPUS / str(n)
    inbox = folder / "inbox" / str(YEAR)
    if inbox.exists() and len(list(inbox.iterdir())) == n:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    inbox.mkdir(parents=True)
    roster = ["township: {code: BT0000, name: 基准镇本级, kind: 镇本级}", "units:"]
    roster += [f"  - {{code: {unit_code(i)}, name: 基准{i:06d}村, kind: 村}}" for i in range(1, n + 1)]
    (folder / "roster.yaml").write_text("\n".join(roster) + "\n", encoding="utf-8")
    previous = os.environ.get("VILLAGE_REPORTS_ROSTER")
    os.environ["VILLAGE_REPORTS_ROSTER"] = str(folder / "roster.yaml")  # the template names the bench's units
    try:
        _write_corpus(n, inbox)
    finally:  # a test that builds a corpus must not leave its roster to the tests after it
        if previous is None:
            os.environ.pop("VILLAGE_REPORTS_ROSTER", None)
        else:
            os.environ["VILLAGE_REPORTS_ROSTER"] = previous
    return folder


def _write_corpus(n: int, inbox: Path) -> None:
    from village_reports.roster import ROSTER_FILE, Unit, load_roster
    from village_reports.samples import sample_values
    from village_reports.template import build_workbook

    buffer = BytesIO()
    build_workbook(
        Unit(unit_code(1), "基准000001村", "村"),
        YEAR,
        values=sample_values(YEAR, roster=load_roster(ROSTER_FILE))["MT01"],
    ).save(buffer)
    with zipfile.ZipFile(buffer) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    texts = {k: v.decode() for k, v in entries.items() if k.endswith(".xml")}
    # every file differs (its own hash) in figures no audit rule relates to one another
    from village_reports.catalogue import load_catalogue
    from village_reports.template import FIRST_DATA_ROW

    village = [i.code for i in load_catalogue().for_reporter("village")]
    rows = "|".join(str(FIRST_DATA_ROW + village.index(c)) for c in ("REV01", "REV05", "REV19", "LIV10", "EFF18"))
    value_cell = re.compile(rf'(<c r="F(?:{rows})"[^>]*><v>)(\d+)(</v>)')
    for i in range(1, n + 1):
        code, name = unit_code(i), f"基准{i:06d}村"
        parts = dict(entries)
        for part, body in texts.items():
            if unit_code(1) in body or "基准000001村" in body:
                body = body.replace(unit_code(1), code).replace("基准000001村", name)
            if part == "xl/worksheets/sheet1.xml":
                body = value_cell.sub(lambda m, k=i % 7: f"{m[1]}{int(m[2]) + k}{m[3]}", body)
            parts[part] = body.encode()
        with zipfile.ZipFile(inbox / f"{code}_{name}_{YEAR}.xlsx", "w", zipfile.ZIP_DEFLATED) as out:
            for part, data in parts.items():
                out.writestr(part, data)


# ---- the three ways, each run in its own process ---------------------------------------------------


def _environment(folder: Path, db_url: str, work: Path) -> None:
    os.environ.update(
        {
            "VILLAGE_REPORTS_ROSTER": str(folder / "roster.yaml"),
            "VILLAGE_REPORTS_INBOX": str(folder / "inbox"),
            "VILLAGE_REPORTS_DATA_DIR": str(work / "data"),
            "VILLAGE_REPORTS_OUTPUT_DIR": str(work / "output"),
            "AIRFLOW_CONN_VILLAGE_WAREHOUSE": db_url,
        }
    )


class _LoadTimes(logging.Handler):
    """The two figures load_files logs per batch: seconds to load, seconds for the 回执."""

    PATTERN = re.compile(r"^(loaded|wrote|kept) \d+ (?:file\(s\)|回执|sheet\(s\) for the 回执) in ([0-9.]+) s$")

    def __init__(self) -> None:
        super().__init__()
        self.seconds = {"loaded": 0.0, "wrote": 0.0, "kept": 0.0}

    def emit(self, record: logging.LogRecord) -> None:
        match = self.PATTERN.match(record.getMessage())
        if match:
            self.seconds[match[1]] += float(match[2])


def run_ours(folder: Path, db_url: str, work: Path, timings: dict | None = None) -> dict:
    """The library functions the DAGs' tasks call, one after another in this process:
    a breakdown of the product's run, not its figure. ``timings`` is filled with the
    seconds each stage took."""
    _environment(folder, db_url, work)
    from village_reports import pipeline

    def timed(stage: str, step, *args):  # type: ignore[no-untyped-def]
        begun = time.perf_counter()
        value = step(*args)
        if timings is not None:
            timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - begun
        return value

    loads = _LoadTimes()
    logging.getLogger("village_reports.pipeline").addHandler(loads)
    logging.getLogger("village_reports.pipeline").setLevel(logging.INFO)
    start = time.perf_counter()
    timed("prepare", pipeline.prepare_warehouse)
    run = timed("discover and archive", pipeline.discover_and_archive)
    files = 0
    for batch in timed("plan (batches, peer sample)", pipeline.plan_batches, run):
        read = timed("read", pipeline.read_batch, batch)
        checked = timed("validate", pipeline.validate_batch, read)
        files += len(timed("load and 回执", pipeline.load_files, checked))
    timed("publish", pipeline.finish_run, [], run["run"])
    if timings is not None:
        timings["read"] -= loads.seconds["kept"]
        timings["load and 回执"] -= loads.seconds["wrote"]
        timings["回执 (kept at read, written at load)"] = loads.seconds["wrote"] + loads.seconds["kept"]
    timed("totals", pipeline.compute_year_totals, YEAR)
    full = time.perf_counter() - start
    assert files == run["files"]
    return {"seconds": full, "files": files}


def run_naive(folder: Path, db_url: str, work: Path, limit: int) -> dict:
    """The tutorial pipeline: read_excel(openpyxl), one GX run per file, to_sql per file."""
    _environment(folder, db_url, work)
    import pandas as pd
    from sqlalchemy import create_engine

    from village_reports.model import ReadResult, Record
    from village_reports.validation import run_expectations

    engine = create_engine(db_url)
    paths = sorted((folder / "inbox" / str(YEAR)).iterdir())[:limit]
    start = time.perf_counter()
    frames = []
    for path in paths:
        table = pd.read_excel(path, sheet_name=0, header=4, engine="openpyxl")
        table = table[table["指标代码"].notna()]
        code = path.name.split("_")[0]
        records = [
            Record(code, YEAR, str(c), float(v) if pd.notna(v) else None, str(v), "填报表", "")
            for c, v in zip(table["指标代码"], table["数值"], strict=True)
        ]
        run_expectations([ReadResult(source=path.name, unit_code=code, year=YEAR, records=records)])
        frame = pd.DataFrame({"unit_code": code, "indicator_code": table["指标代码"], "value": table["数值"]})
        frame.to_sql("naive_fact", engine, if_exists="append", index=False)
        frames.append(frame)
    pd.read_sql("SELECT indicator_code, SUM(value) AS total FROM naive_fact GROUP BY indicator_code", engine)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "files": len(paths)}


def run_floor(folder: Path) -> dict:
    import python_calamine

    paths = sorted((folder / "inbox" / str(YEAR)).iterdir())
    start = time.perf_counter()
    for path in paths:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
        workbook.get_sheet_by_index(0).to_python()
        workbook.close()
    return {"seconds": time.perf_counter() - start, "files": len(paths)}


def _airflow_env(folder: Path, db_url: str, work: Path, **settings: str) -> dict[str, str]:
    return {
        **os.environ,
        "AIRFLOW_HOME": str(work / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "VILLAGE_REPORTS_ROSTER": str(folder / "roster.yaml"),
        "VILLAGE_REPORTS_INBOX": str(folder / "inbox"),
        "VILLAGE_REPORTS_DATA_DIR": str(work / "data"),
        "VILLAGE_REPORTS_OUTPUT_DIR": str(work / "output"),
        "AIRFLOW_CONN_VILLAGE_WAREHOUSE": db_url,
        **settings,
    }


AIRFLOW = str(Path(sys.executable).with_name("airflow"))
REPORT_TASKS = (
    "changed_years",
    "report_year",
    "later_years",
    "report_later_year",
)  # township_report's; the rest are the ingest's
_LOGGED = re.compile(r"(loaded|wrote|kept) \d+ (?:file\(s\)|回执|sheet\(s\) for the 回执) in ([0-9.]+) s")


def _logged_seconds(text: str) -> dict[str, float]:
    """The 回执's share of a run, from what its tasks log: sheets kept at read, 回执
    written at load; and the loads' own seconds."""
    seconds = {"loaded": 0.0, "wrote": 0.0, "kept": 0.0}
    for kind, value in _LOGGED.findall(text):
        seconds[kind] += float(value)
    return seconds


def _dags_test(env: dict[str, str], dag_id: str, log: Path) -> float:
    start = time.perf_counter()
    with log.open("a") as out:
        run = subprocess.run([AIRFLOW, "dags", "test", dag_id], env=env, stdout=out, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - start
    marker = f"DagRun Finished: dag_id={dag_id},"
    finished = [line for line in log.read_text(errors="replace").splitlines() if marker in line]
    if run.returncode != 0 or not finished or "state=success" not in finished[-1]:
        raise RuntimeError(f"airflow dags test {dag_id} failed: see {log}")
    return seconds


def run_dags_test(folder: Path, db_url: str, work: Path) -> dict:
    """Both DAGs under `airflow dags test` (one process each, as make run does)."""
    env = _airflow_env(folder, db_url, work)
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True)
    sampler = TreeRss()
    logs = work / "dags-test.log"
    ingest = _dags_test(env, "village_reports", logs)
    receipts = _logged_seconds(logs.read_text(errors="replace"))
    report = _dags_test(env, "township_report", logs)
    sampler.stop()
    noop = _dags_test(env, "village_reports", work / "dags-test-noop.log")
    shutil.copy(logs, CORPUS / "work" / f"last-dags-test-{Path(work).name}.log")
    return {
        "seconds": ingest + report,
        "ingest_seconds": ingest,
        "report_seconds": report,
        "receipt_seconds": receipts["wrote"] + receipts["kept"],
        "load_seconds": receipts["loaded"],
        "noop_seconds": noop,
        "peak_task_rss_mib": max(peak for peak, _ in sampler.processes.values()) / 1024**2,
        "peak_task": "airflow dags test (every task in one process)",
    }


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_scheduler(folder: Path, db_url: str, work: Path, parallelism: int = WORKERS) -> dict:
    """The nightly run as a deployment runs it: scheduler, dag-processor and api-server,
    LocalExecutor with ``parallelism`` task processes, PostgreSQL metadata DB."""
    from sqlalchemy import create_engine, text

    meta_url, drop = _postgres_database("bench_meta")
    port = _free_port()
    env = _airflow_env(
        folder,
        db_url,
        work,
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__PARALLELISM=str(parallelism),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=meta_url.replace("+psycopg", "+psycopg2"),
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__API__BASE_URL=f"http://127.0.0.1:{port}",
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
        AIRFLOW__API_AUTH__JWT_SECRET="bench-secret",
        AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="1",
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
    )
    meta = create_engine(meta_url)
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    processes = []
    try:
        subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True)
        for name, command in {
            "api-server": ["api-server", "--port", str(port)],
            "scheduler": ["scheduler"],
            "dag-processor": ["dag-processor"],
        }.items():
            processes.append(
                subprocess.Popen(
                    [AIRFLOW, *command],
                    env=env,
                    stdout=(logs / f"{name}.log").open("w"),
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )

        def query(sql: str, **params: object) -> list:
            with meta.connect() as connection:
                return list(connection.execute(text(sql), params))

        def wait(what: str, predicate, timeout: float = 7200):  # type: ignore[no-untyped-def]
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                value = predicate()
                if value:
                    return value
                time.sleep(0.5)
            raise RuntimeError(f"timed out waiting for {what}; logs in {logs}")

        wait("the DAGs to be parsed", lambda: len(query("SELECT dag_id FROM dag WHERE NOT is_stale")) >= 3, 300)

        def finished_run(dag_id: str, after: object = None) -> tuple | None:
            rows = query(
                "SELECT run_id, state, start_date, end_date FROM dag_run WHERE dag_id = :dag_id "
                "AND (CAST(:after AS TIMESTAMPTZ) IS NULL OR start_date > :after) ORDER BY start_date",
                dag_id=dag_id,
                after=after,
            )
            if any(r.state == "failed" for r in rows):
                raise RuntimeError(f"{dag_id} failed: logs in {logs}")
            done = [r for r in rows if r.state == "success"]
            return done[-1] if done else None

        sampler = TreeRss()
        for dag_id in ("township_report", "village_reports"):  # unpausing the nightly DAG starts its run
            subprocess.run([AIRFLOW, "dags", "unpause", dag_id], env=env, check=True, capture_output=True)
        ingest = wait("the nightly run", lambda: finished_run("village_reports"))
        report = wait("the township report", lambda: finished_run("township_report"))
        sampler.stop()
        subprocess.run([AIRFLOW, "dags", "trigger", "village_reports"], env=env, check=True, capture_output=True)
        noop = wait("the no-op night", lambda: finished_run("village_reports", ingest.end_date))
        time.sleep(15)  # time enough for the scheduler to start a township_report, which it must not
        if (
            finished_run("township_report", report.end_date)
            or len(query("SELECT run_id FROM dag_run WHERE dag_id = 'township_report'")) > 1
        ):
            raise RuntimeError("a night with nothing new started township_report")
        instances = query("SELECT id, dag_id, run_id, task_id, map_index, start_date, end_date FROM task_instance")
        tasks = {str(r.id): f"{r.task_id}[{r.map_index}]" if r.map_index >= 0 else r.task_id for r in instances}
        task_seconds: dict[str, float] = {}  # the nightly run's, per task, summed over its mapped instances
        for r in instances:
            if r.run_id in (ingest.run_id, report.run_id) and r.start_date and r.end_date:
                task_seconds[r.task_id] = task_seconds.get(r.task_id, 0.0) + (r.end_date - r.start_date).total_seconds()
        per_task: dict[str, float] = {}
        for peak, title in sampler.processes.values():
            match = re.search(r"airflow worker -- ([0-9a-f-]{36})", title)
            if match and match[1] in tasks:
                name = tasks[match[1]].split("[")[0]
                per_task[name] = max(per_task.get(name, 0), peak / 1024**2)
        receipts = {"loaded": 0.0, "wrote": 0.0, "kept": 0.0}
        for path in (work / "airflow" / "logs").rglob("*.log"):
            for kind, value in _logged_seconds(path.read_text(errors="replace")).items():
                receipts[kind] += value
        worst = max(per_task, key=per_task.get) if per_task else "?"
        return {
            "seconds": (report.end_date - ingest.start_date).total_seconds(),
            "ingest_seconds": (ingest.end_date - ingest.start_date).total_seconds(),
            "report_seconds": (report.end_date - report.start_date).total_seconds(),
            "noop_seconds": (noop.end_date - noop.start_date).total_seconds(),
            "receipt_seconds": receipts["wrote"] + receipts["kept"],
            "load_seconds": receipts["loaded"],
            "peak_task_rss_mib": per_task.get(worst, 0.0),
            "peak_task": worst,
            "per_task_rss_mib": per_task,
            "task_seconds": task_seconds,
        }
    finally:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        meta.dispose()
        drop()


# ---- driver ------------------------------------------------------------------------------------


def _database(kind: str, work: Path) -> tuple[str, callable]:  # type: ignore[valid-type]
    if kind == "sqlite":
        return f"sqlite:///{work / 'data' / 'warehouse.sqlite'}", lambda: None
    return _postgres_database("bench")


def _postgres_database(prefix: str) -> tuple[str, callable]:  # type: ignore[valid-type]
    """A new PostgreSQL database, and the function that drops it."""
    from sqlalchemy import create_engine, text

    name = f"{prefix}_{os.getpid()}_{int(time.time())}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", drop


def measure(way: str, n: int, database: str, naive_limit: int) -> dict:
    """Run one way in a child process; returns its figures and its peak RSS."""
    command = [
        sys.executable,
        __file__,
        "--child",
        way,
        "--sizes",
        str(n),
        "--databases",
        database,
        "--naive-limit",
        str(naive_limit),
    ]
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"{way} {n} {database}: {run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


class TreeRss(threading.Thread):
    """Peak resident memory of this process and its children: of the whole tree together
    (``peak``), and of each process with the title it last had (``processes``), which
    names the task an Airflow task process runs ("airflow worker -- <task instance id>")."""

    def __init__(self, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.interval, self.peak, self._done = interval, 0, threading.Event()
        self.processes: dict[int, tuple[int, str]] = {}
        self.start()

    def run(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._done.wait(self.interval):
            total = 0
            for process in [me, *me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    rss = process.memory_info().rss
                    title = " ".join(process.cmdline())
                    total += rss
                    peak, _ = self.processes.get(process.pid, (0, ""))
                    self.processes[process.pid] = (max(peak, rss), title)
            self.peak = max(self.peak, total)

    def stop(self) -> None:
        self._done.set()
        self.join()


WAYS = {
    "dags_test": lambda folder, url, work, limit: run_dags_test(folder, url, work),
    "scheduler": lambda folder, url, work, limit: run_scheduler(folder, url, work),
    "naive": lambda folder, url, work, limit: run_naive(folder, url, work, limit),
    "floor": lambda folder, url, work, limit: run_floor(folder),
}


def child(way: str, n: int, database: str, naive_limit: int) -> None:
    sampler = TreeRss()
    folder = make_corpus(n)
    work = CORPUS / "work" / f"{way}-{n}-{database}"
    shutil.rmtree(work, ignore_errors=True)
    (work / "data").mkdir(parents=True)
    url, drop = _database(database, work)
    try:
        figures = WAYS[way](folder, url, work, naive_limit)
    finally:
        drop()
        shutil.rmtree(work, ignore_errors=True)
    sampler.stop()
    figures["peak_tree_rss_mib"] = sampler.peak / 1024**2
    print(json.dumps(figures))


def profile(n: int, database: str, out: Path) -> None:
    """Where 'ours' spends its time: a pyinstrument profile, as text and HTML."""
    from pyinstrument import Profiler

    folder = make_corpus(n)
    work = CORPUS / "work" / f"profile-{n}-{database}"
    shutil.rmtree(work, ignore_errors=True)
    (work / "data").mkdir(parents=True)
    url, drop = _database(database, work)
    profiler = Profiler(interval=0.005)
    try:
        with profiler:
            run_ours(folder, url, work)
    finally:
        drop()
        shutil.rmtree(work, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".txt").write_text(profiler.output_text(unicode=True, show_all=False), encoding="utf-8")
    out.with_suffix(".html").write_text(profiler.output_html(), encoding="utf-8")
    print(profiler.output_text(unicode=True))


def stages(n: int, database: str) -> None:
    """Seconds per stage of the library path in one process, and the township outputs."""
    folder = make_corpus(n)
    work = CORPUS / "work" / f"stages-{n}-{database}"
    shutil.rmtree(work, ignore_errors=True)
    (work / "data").mkdir(parents=True)
    url, drop = _database(database, work)
    seconds: dict[str, float] = {}
    try:
        run_ours(folder, url, work, timings=seconds)
        from village_reports import pipeline

        start = time.perf_counter()
        pipeline.report_year(YEAR, work / "output")
        seconds["township outputs"] = time.perf_counter() - start
    finally:
        drop()
        shutil.rmtree(work, ignore_errors=True)
    print("| stage | s | ms/file |\n|---|---:|---:|")
    for stage, value in seconds.items():
        print(f"| {stage} | {value:.1f} | {1000 * value / n:.2f} |")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


def _fmt_s(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 100 else f"{seconds / 60:.1f} min"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="18,1000,24000")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--naive-limit", type=int, default=1000, help="files the naive pipeline reads; scaled beyond")
    parser.add_argument("--ways", default="dags_test,scheduler,naive,floor", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help="write the Markdown table here")
    parser.add_argument("--profile", type=Path, help="profile the library path at the first size, to here")
    parser.add_argument("--stages", action="store_true", help="time each stage of the library path at the first size")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    databases = args.databases.split(",")
    ways = args.ways.split(",")
    if args.profile:
        profile(sizes[0], databases[0], args.profile)
        return
    if args.stages:
        stages(sizes[0], databases[0])
        return
    if args.child:
        child(args.child, sizes[0], databases[0], args.naive_limit)
        return

    rows = [
        "| N | database | DAGs, 1 process (`dags test`) | DAGs, scheduler (LocalExecutor, parallelism "
        f"{WORKERS}) | naive | floor (calamine) | DAGs vs naive (1 process / scheduler) | of which 回执 "
        "(1 process / scheduler) | no-op night (scheduler) | peak RSS of a task process (scheduler) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    details = []
    for n in sizes:
        make_corpus(n)
        floor = measure("floor", n, "sqlite", args.naive_limit) if "floor" in ways else None
        for database in databases:
            got = {way: measure(way, n, database, args.naive_limit) for way in ways if way != "floor"}
            one, many, naive = got.get("dags_test"), got.get("scheduler"), got.get("naive")
            naive_total = naive["seconds"] * n / naive["files"] if naive else float("nan")
            scaled = f" (scaled from {naive['files']:,})" if naive and naive["files"] != n else ""

            def share(figures: dict | None) -> str:
                """The 回执's seconds, and what they add to the rest of the ingest: its wall
                time in one process; its tasks' seconds added up under the scheduler,
                where two tasks run at once."""
                if not figures:
                    return "–"
                ingest = figures["ingest_seconds"]
                if "task_seconds" in figures:
                    ingest = sum(v for k, v in figures["task_seconds"].items() if k not in REPORT_TASKS)
                rest = ingest - figures["receipt_seconds"]
                return f"{_fmt_s(figures['receipt_seconds'])} (+{100 * figures['receipt_seconds'] / rest:.0f}%)"

            rows.append(
                f"| {n:,} | {database} | {_fmt_s(one['seconds']) if one else '–'} | "
                f"{_fmt_s(many['seconds']) if many else '–'} | {_fmt_s(naive_total)}{scaled} | "
                f"{_fmt_s(floor['seconds']) if floor else '–'} | "
                f"{naive_total / one['seconds'] if one else float('nan'):.0f}× / "
                f"{naive_total / many['seconds'] if many else float('nan'):.0f}× | {share(one)} / {share(many)} | "
                + (
                    f"{_fmt_s(many['noop_seconds'])} ({100 * many['noop_seconds'] / many['seconds']:.1f}%) | "
                    f"{many['peak_task_rss_mib']:.0f} MiB ({many['peak_task']}) |"
                    if many
                    else "– | – |"
                )
            )
            print(rows[-1], flush=True)
            details.append(f"{n:,} {database}: " + json.dumps(got, ensure_ascii=False, default=str))
    machine = (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    text = "\n".join(
        [
            f"Machine: {machine}. Command: `python bench/run.py --sizes {args.sizes} --databases {args.databases}`.",
            "",
            *rows,
            "",
            "Raw figures (seconds, MiB):",
            "",
            *(f"    {line}" for line in details),
            "",
        ]
    )
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "include"))
    main()
