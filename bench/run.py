"""make bench: the pipeline against the naive pipeline and the calamine read floor.

Generates N synthetic submissions from the template (cached under bench/corpus/, which
git ignores), then measures, each in a fresh process so that peak RSS is its own:

  ours   discover, archive, read, validate (GX once per batch), load, totals
  naive  pandas.read_excel with openpyxl per file, one GX run per file, DataFrame.to_sql
         per file, totals with pandas (measured on --naive-limit files, then scaled)
  floor  python-calamine reading every file, nothing else
  noop   a second nightly run over the same inbox: nothing new

and writes a Markdown table. Usage: python bench/run.py --sizes 18,1000 --databases sqlite
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import resource
import shutil
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
    os.environ["VILLAGE_REPORTS_ROSTER"] = str(folder / "roster.yaml")

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
    return folder


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


def _ingest(job: tuple[dict, dict]) -> int:
    """One batch through read, validate and load: the work of one mapped task of each."""
    from village_reports import pipeline

    batch, peers = job
    return len(pipeline.load_batch(pipeline.validate_batch(pipeline.read_batch(batch), peers), feedback=False))


def run_ours(folder: Path, db_url: str, work: Path, workers: int = 1, timings: dict | None = None) -> dict:
    """The pipeline's steps as the DAG runs them; with ``workers`` > 1 the batches run in
    that many fresh processes at once, as Airflow runs mapped tasks on a LocalExecutor.
    ``timings``, with one worker: filled with the seconds each stage took."""
    _environment(folder, db_url, work)
    import multiprocessing

    from village_reports import pipeline

    def timed(stage: str, step, *args):  # type: ignore[no-untyped-def]
        begun = time.perf_counter()
        value = step(*args)
        if timings is not None:
            timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - begun
        return value

    start = time.perf_counter()
    timed("prepare", pipeline.prepare_warehouse)
    arrivals = timed("discover and archive", pipeline.discover_and_archive)
    peers = timed("peer sample", pipeline.peer_sample, arrivals)
    batches = pipeline.plan_batches(arrivals)
    if workers == 1:
        files = 0
        for batch in batches:
            read = timed("read", pipeline.read_batch, batch)
            checked = timed("validate", pipeline.validate_batch, read, peers)
            files += len(timed("load", pipeline.load_batch, checked, False))
    else:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            files = sum(pool.imap_unordered(_ingest, [(batch, peers) for batch in batches]))
    timed("totals", pipeline.compute_year_totals, YEAR)
    full = time.perf_counter() - start
    start = time.perf_counter()
    pipeline.prepare_warehouse()
    again = pipeline.discover_and_archive()  # the next night: nothing new
    noop = time.perf_counter() - start
    assert files == len(arrivals) and not again
    return {"seconds": full, "noop_seconds": noop, "files": files}


def run_naive(folder: Path, db_url: str, work: Path, limit: int) -> dict:
    """The tutorial pipeline: read_excel(openpyxl), one GX run per file, to_sql per file."""
    _environment(folder, db_url, work)
    import pandas as pd
    from sqlalchemy import create_engine

    from village_reports.reader import ReadResult, Record
    from village_reports.validation import validate_batch

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
        validate_batch([ReadResult(source=path.name, unit_code=code, year=YEAR, records=records)])
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


def run_dags_test(folder: Path, work: Path) -> dict:
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(work / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "VILLAGE_REPORTS_ROSTER": str(folder / "roster.yaml"),
        "VILLAGE_REPORTS_INBOX": str(folder / "inbox"),
        "VILLAGE_REPORTS_DATA_DIR": str(work / "data"),
        "VILLAGE_REPORTS_OUTPUT_DIR": str(work / "output"),
        "AIRFLOW_CONN_VILLAGE_WAREHOUSE": f"sqlite:///{work / 'data' / 'warehouse.sqlite'}",
    }
    airflow = str(Path(sys.executable).with_name("airflow"))
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True)
    start = time.perf_counter()
    run = subprocess.run([airflow, "dags", "test", "village_reports"], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if run.returncode != 0 or "state=success" not in run.stdout + run.stderr:
        raise RuntimeError(run.stderr[-2000:])
    return {"seconds": seconds}


# ---- driver ------------------------------------------------------------------------------------


def _database(kind: str, work: Path) -> tuple[str, callable]:  # type: ignore[valid-type]
    if kind == "sqlite":
        return f"sqlite:///{work / 'data' / 'warehouse.sqlite'}", lambda: None
    from sqlalchemy import create_engine, text

    name = f"bench_{os.getpid()}_{int(time.time())}"
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
    """Peak resident memory of this process and all its children together, sampled."""

    def __init__(self, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.interval, self.peak, self._done = interval, 0, threading.Event()
        self.start()

    def run(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._done.wait(self.interval):
            total = 0
            for process in [me, *me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += process.memory_info().rss
            self.peak = max(self.peak, total)

    def stop(self) -> None:
        self._done.set()
        self.join()


def child(way: str, n: int, database: str, naive_limit: int) -> None:
    sampler = TreeRss()
    folder = make_corpus(n)
    work = CORPUS / "work" / f"{way}-{n}-{database}"
    shutil.rmtree(work, ignore_errors=True)
    (work / "data").mkdir(parents=True)
    url, drop = _database(database, work)
    try:
        if way == "ours":
            figures = run_ours(folder, url, work)
        elif way == "ours_workers":
            figures = run_ours(folder, url, work, workers=WORKERS)
        elif way == "naive":
            figures = run_naive(folder, url, work, naive_limit)
        elif way == "floor":
            figures = run_floor(folder)
        else:
            figures = run_dags_test(folder, work)
    finally:
        drop()
        shutil.rmtree(work, ignore_errors=True)
    sampler.stop()
    figures["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures["peak_tree_rss_mib"] = max(sampler.peak, figures["peak_rss_mib"] * 1024**2) / 1024**2
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
    """Seconds per stage of 'ours' in one process, and the township outputs after it."""
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
    return f"{seconds:.2f} s" if seconds < 100 else f"{seconds / 60:.1f} min"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="18,1000,24000")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--naive-limit", type=int, default=1000, help="files the naive pipeline reads; scaled beyond")
    parser.add_argument("--dags-test-sizes", default="18,1000")
    parser.add_argument("--out", type=Path, help="write the Markdown table here")
    parser.add_argument("--profile", type=Path, help="profile 'ours' at the first size with pyinstrument, to here")
    parser.add_argument("--stages", action="store_true", help="time each stage of 'ours' at the first size")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    databases = args.databases.split(",")
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
        f"| N | database | ours, 1 process | ours, {WORKERS} workers | naive | floor (calamine) | ours vs naive "
        f"| ours vs floor | no-op run | peak RSS: ours 1 process / all {WORKERS} workers / naive |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in sizes:
        make_corpus(n)
        floor = measure("floor", n, "sqlite", args.naive_limit)
        for database in databases:
            ours = measure("ours", n, database, args.naive_limit)
            spread = measure("ours_workers", n, database, args.naive_limit)
            naive = measure("naive", n, database, args.naive_limit)
            naive_total = naive["seconds"] * n / naive["files"]
            scaled = "" if naive["files"] == n else f" (scaled from {naive['files']:,})"
            one, many = ours["seconds"], spread["seconds"]
            rows.append(
                f"| {n:,} | {database} | {_fmt_s(one)} | {_fmt_s(many)} | {_fmt_s(naive_total)}{scaled} | "
                f"{_fmt_s(floor['seconds'])} | {naive_total / one:.0f}× / {naive_total / many:.0f}× | "
                f"{one / floor['seconds']:.1f}× / {many / floor['seconds']:.1f}× | {_fmt_s(ours['noop_seconds'])} "
                f"({100 * ours['noop_seconds'] / one:.1f}%) | "
                f"{ours['peak_tree_rss_mib']:.0f} / {spread['peak_tree_rss_mib']:.0f} / "
                f"{naive['peak_tree_rss_mib']:.0f} MiB |"
            )
            print(rows[-1], flush=True)
    dags = []
    for n in [int(s) for s in args.dags_test_sizes.split(",") if s]:
        figures = measure("dags_test", n, "sqlite", args.naive_limit)
        dags.append(f"| {n:,} | {_fmt_s(figures['seconds'])} |")
        print(dags[-1], flush=True)
    machine = (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    text = "\n".join(
        [
            f"Machine: {machine}. Command: `python bench/run.py --sizes {args.sizes} --databases {args.databases}`.",
            "",
            *rows,
            "",
            "`airflow dags test village_reports` (SQLite metadata DB and warehouse):",
            "",
            "| N | wall time |",
            "|---:|---:|",
            *dags,
            "",
        ]
    )
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "include"))
    main()
