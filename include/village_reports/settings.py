"""Where things live: inbox, archive, outputs, SQL files, and the warehouse.

Every path has a default under the project folder and one environment variable to move
it; the warehouse is an Airflow connection (``AIRFLOW_CONN_VILLAGE_WAREHOUSE``, or one
named ``village_warehouse`` in Airflow's metadata), falling back to an embedded SQLite file.
"""

from __future__ import annotations

import hashlib
import marshal
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from village_reports.files import write_atomically

PROJECT_DIR = Path(__file__).resolve().parents[2]
WAREHOUSE_CONN_ID = "village_warehouse"
# Reporting years and schedules follow the township's clock.
REPORTING_TIMEZONE = "Asia/Shanghai"
LOCAL_ZONE = ZoneInfo(REPORTING_TIMEZONE)


def local_time(iso_utc: str | None) -> str:
    """An ISO 8601 UTC time as the township reads it: 'YYYY-MM-DD HH:MM', Beijing time."""
    return datetime.fromisoformat(iso_utc).astimezone(LOCAL_ZONE).strftime("%Y-%m-%d %H:%M") if iso_utc else ""


# The sign-off's two answers, as the approver reads them on the Required Actions page
# (the HITL form's options; village_reports.signoff records them).
SIGNOFF_APPROVE, SIGNOFF_SEND_BACK = "审核通过", "退回"
SIGNOFF_OPTIONS = (SIGNOFF_APPROVE, SIGNOFF_SEND_BACK)


def signoff_response_timeout() -> timedelta:
    """How long a sign-off waits for its approver before the default answer is taken:
    ``VILLAGE_REPORTS_SIGNOFF_TIMEOUT_HOURS`` (default a week), an operations setting."""
    hours = float(os.environ.get("VILLAGE_REPORTS_SIGNOFF_TIMEOUT_HOURS") or 168)
    if hours <= 0:
        raise ValueError(f"VILLAGE_REPORTS_SIGNOFF_TIMEOUT_HOURS must be positive, not {hours}")
    return timedelta(hours=hours)


def signoff_on_timeout() -> str:
    """The answer recorded when nobody answers in time: ``VILLAGE_REPORTS_SIGNOFF_ON_TIMEOUT``,
    by default 退回, so that silence never locks a year."""
    answer = os.environ.get("VILLAGE_REPORTS_SIGNOFF_ON_TIMEOUT") or SIGNOFF_SEND_BACK
    if answer not in SIGNOFF_OPTIONS:
        raise ValueError(
            f"VILLAGE_REPORTS_SIGNOFF_ON_TIMEOUT must be one of {'、'.join(SIGNOFF_OPTIONS)}, not {answer!r}"
        )
    return answer


# The nightly run starts at 02:00 and took 3.5 minutes for 24,000 files (docs/benchmarks.md);
# two retries of a failed step add ten. Four hours: a night not done by 06:00 is alerted.
NIGHTLY_LATE_MINUTES = 240


def nightly_late_after() -> timedelta:
    """How long after it is queued a nightly run may go unfinished before the deadline
    alert fires; ``VILLAGE_REPORTS_NIGHTLY_LATE_MINUTES`` changes it (read when the DAG is parsed)."""
    return timedelta(minutes=float(os.environ.get("VILLAGE_REPORTS_NIGHTLY_LATE_MINUTES") or NIGHTLY_LATE_MINUTES))


def _path(variable: str, default: Path) -> Path:
    return Path(os.environ.get(variable) or default)


def data_dir() -> Path:
    return _path("VILLAGE_REPORTS_DATA_DIR", PROJECT_DIR / "data")


def inbox_dir() -> Path:
    """Villages' files arrive under ``<inbox>/<year>/``."""
    return _path("VILLAGE_REPORTS_INBOX", data_dir() / "inbox")


def archive_dir() -> Path:
    """Every received file, content-addressed and read-only."""
    return _path("VILLAGE_REPORTS_ARCHIVE", data_dir() / "archive")


def output_dir() -> Path:
    return _path("VILLAGE_REPORTS_OUTPUT_DIR", PROJECT_DIR / "output")


UPLOAD_MAX_BYTES = 20 * 1024 * 1024  # a filled template is ~30 KiB; the reader refuses more than 20 MiB


def upload_max_bytes() -> int:
    """The largest file the upload page takes (``VILLAGE_REPORTS_UPLOAD_MAX_BYTES``, bytes);
    a larger one is refused while it streams in, before it is kept anywhere."""
    value = int(os.environ.get("VILLAGE_REPORTS_UPLOAD_MAX_BYTES") or UPLOAD_MAX_BYTES)
    if value <= 0:
        raise ValueError(f"VILLAGE_REPORTS_UPLOAD_MAX_BYTES must be positive, not {value}")
    return value


def uploads_dir() -> Path:
    """The upload page's 回执, one folder per upload: ``<output>/uploads/<id>/``."""
    return output_dir() / "uploads"


def report_template() -> Path | None:
    """The office's own Word template for annual_report.docx (``VILLAGE_REPORTS_REPORT_TEMPLATE``);
    none: the default that ``village_reports.docx_template`` builds."""
    value = os.environ.get("VILLAGE_REPORTS_REPORT_TEMPLATE")
    return Path(value) if value else None


def sql_dir() -> Path:
    return _path("VILLAGE_REPORTS_SQL_DIR", PROJECT_DIR / "sql")


def migrations_dir() -> Path:
    """The warehouse's Alembic revisions (a test points it at a copy with one more)."""
    return _path("VILLAGE_REPORTS_MIGRATIONS", Path(__file__).parent / "migrations")


def warehouse_url() -> str:
    """SQLAlchemy URL of the warehouse: the Airflow connection if set, else data/warehouse.sqlite."""
    uri = os.environ.get(f"AIRFLOW_CONN_{WAREHOUSE_CONN_ID.upper()}")
    if not uri:
        uri = _airflow_connection_uri()
    if not uri:
        return f"sqlite:///{data_dir() / 'warehouse.sqlite'}"
    for prefix in ("postgres://", "postgresql://"):
        if uri.startswith(prefix):
            return "postgresql+psycopg://" + uri[len(prefix) :]
    return uri


def _airflow_connection_uri() -> str | None:
    """The connection from Airflow's metadata, when running inside Airflow and it exists."""
    if "AIRFLOW_HOME" not in os.environ and "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" not in os.environ:
        return None
    try:
        from airflow.sdk import Connection

        return Connection.get(WAREHOUSE_CONN_ID).get_uri()
    except Exception:  # ruff: ignore[blind-except] - no such connection, or not inside a task
        return None


PARSED_CACHE_FROM = 256 * 1024  # bytes: a county's roster; the packaged files are far smaller


def read_yaml(path: Path) -> Any:
    """A configuration file, with libyaml's safe loader when present.

    A large file (a county's roster of 24,000 units takes 1.7 s to parse) is parsed once
    and kept, parsed, under ``<data>/cache/``: every task process reads it, and the kept
    copy loads in milliseconds. The copy is keyed by the file's path, size and time, so
    an edited file is parsed again. ``marshal`` keeps exactly the types it can hold (a
    date, which it cannot, means the file is simply parsed every time)."""
    stat = path.stat()
    if stat.st_size < PARSED_CACHE_FROM:
        return _parse_yaml(path)
    key = hashlib.sha256(f"{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()[:24]
    cached = data_dir() / "cache" / f"{path.stem}-{key}.marshal"
    try:
        return marshal.loads(cached.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        pass  # not parsed yet, or unreadable: parse it
    data = _parse_yaml(path)
    try:
        payload = marshal.dumps(data)
    except ValueError:
        return data
    write_atomically(cached, payload)
    return data


def _parse_yaml(path: Path) -> Any:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=loader)
