"""Shared fixtures: every workbook a test reads is built inside the test session."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from village_reports.catalogue import Catalogue, load_catalogue
from village_reports.model import ReadResult, Record
from village_reports.roster import Roster, load_roster
from village_reports.samples import sample_values
from village_reports.template import build_workbook
from village_reports.totals import TownshipTotal

# Airflow reads its settings at import: keep tests away from ~/airflow and the examples.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="airflow-home-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

SEED_REPORT = Path(__file__).parent / "data" / "maotian_2021_report.txt"
IN_CI = bool(os.environ.get("CI"))


def require_tool(name: str) -> str:
    """A system tool's path; skipped locally when missing, a failure in CI."""
    path = shutil.which(name)
    if path is None:
        if IN_CI:
            pytest.fail(f"{name} is required in CI (make system-deps installs it)")
        pytest.skip(f"{name} not installed (make system-deps)")
    return path


WRITER_LIBRARY = Path("/usr/lib/libreoffice/program/libswlo.so")  # what Writer adds to LibreOffice


def require_writer() -> str:
    """soffice with Writer (a .docx to PDF needs it; Calc alone converts nothing, silently);
    skipped locally when missing, a failure in CI."""
    soffice = require_tool("soffice")
    if not WRITER_LIBRARY.exists():
        if IN_CI:
            pytest.fail("LibreOffice Writer is required in CI (make system-deps installs libreoffice-writer-nogui)")
        pytest.skip("LibreOffice Writer not installed (make system-deps)")
    return soffice


def libreoffice_convert(source: Path, target: str, out_dir: Path) -> Path:
    """``source`` saved by LibreOffice as ``target`` (xlsx, ods, pdf…) into ``out_dir``,
    with a profile of its own under ``out_dir``; the converted file's path."""
    import subprocess

    soffice = require_tool("soffice")
    subprocess.run(
        [
            soffice,
            "--headless",
            f"-env:UserInstallation=file://{out_dir}/lo-profile",
            "--convert-to",
            target,
            "--outdir",
            str(out_dir),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out_dir / f"{source.stem}.{target.split(':')[0]}"


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="session")
def roster() -> Roster:
    return load_roster()


@pytest.fixture(scope="session")
def seed_text() -> str:
    """The 2021 report with white space and bold markers removed, for quote look-ups."""
    return re.sub(r"\s+", "", SEED_REPORT.read_text(encoding="utf-8")).replace("**", "")


@pytest.fixture(scope="session")
def sample_2021() -> dict[str, dict[str, float]]:
    return sample_values(2021)


WorkbookFactory = Callable[..., Path]


@pytest.fixture
def make_workbook(tmp_path: Path, roster: Roster, sample_2021: dict[str, dict[str, float]]) -> WorkbookFactory:
    """Build a filled template for one unit, let the test mutate it, save it, return the path."""

    def factory(
        unit_code: str = "MT01",
        year: int = 2021,
        values: dict[str, object] | None = None,
        mutate: Callable[[Workbook], None] | None = None,
        name: str | None = None,
    ) -> Path:
        unit = roster[unit_code]
        filled = dict(sample_2021[unit_code]) if values is None else values
        workbook = build_workbook(unit, year, values=filled)
        if mutate:
            mutate(workbook)
        path = tmp_path / (name or f"{unit_code}_{year}.xlsx")
        workbook.save(path)
        return path

    return factory


def totals_in_a_warehouse(
    records: Iterable[Record],
    url: str,
    year: int,
    catalogue: Catalogue | None = None,
    roster: Roster | None = None,
) -> tuple[dict[str, TownshipTotal], list[dict[str, Any]]]:
    """What the pipeline computes from ``records``: loaded into a new warehouse at ``url``
    as one accepted file per unit, then ``totals.compute_year``. The year's totals, and the
    cells behind them as ``township_total_source`` holds them."""
    from village_reports import totals, warehouse
    from village_reports.intake import Arrival

    engine = warehouse.get_engine(url)
    warehouse.create_schema(engine, catalogue, roster)
    by_unit: dict[str, list[Record]] = {}
    for record in records:
        by_unit.setdefault(record.unit_code or "", []).append(record)
    files = []
    for n, (unit, unit_records) in enumerate(sorted(by_unit.items())):
        name = f"{unit}_{year}.xlsx"
        ids = f"{year}-{n}"  # several years may share one warehouse
        arrival = Arrival(
            name,
            year,
            f"content-{ids}",
            f"submission-{ids}",
            1,
            name,
            f"{year + 1}-01-05T02:00:00+00:00",
            f"receipt-{ids}",
        )
        files.append(
            (arrival, ReadResult(name, unit_code=unit, year=year, sheet=unit_records[0].sheet, records=unit_records))
        )
    warehouse.load_submissions(engine, files)
    computed = totals.compute_year(engine, year, catalogue, roster)
    return computed, [dict(row) for row in totals.sources(engine, year)]


class Receiver:
    """An HTTP server on 127.0.0.1 that keeps what Apprise's ``json://`` target posts: a
    channel of the notification connection that a test can read."""

    def __init__(self) -> None:
        import http.server
        import json
        import threading

        self.messages: list[dict[str, Any]] = []
        received = self.messages

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.append(json.loads(body.decode("utf-8")))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:  # no access log on stderr
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def connection(self, *extra_urls: str) -> str:
        """``AIRFLOW_CONN_VILLAGE_REPORTS_NOTIFY``'s value: an Apprise connection to this server."""
        import json

        config = [{"path": url} for url in (self.url, *extra_urls)]
        return json.dumps({"conn_type": "apprise", "extra": {"config": config}})

    def titled(self, fragment: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if fragment in m.get("title", "")]


@pytest.fixture
def receiver() -> Iterable[Receiver]:
    server = Receiver()
    yield server
    server.server.shutdown()
    server.server.server_close()
