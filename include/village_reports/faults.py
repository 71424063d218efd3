"""Resource faults in one line: a full disk, a read-only warehouse, a database that is down.

A step that hits one fails with a single clear line for the operator, in Chinese, rather
than a traceback per file and per retry::

    with faults.one_line("load", run_key):
        pipeline.load_batch(batch)

``one_line`` turns an exception it recognises (``describe``) into a ``ResourceFault``
whose text is that line, logs the line once at ERROR (the traceback at DEBUG) and, given
the run's key, keeps it in the run's staging folder (``faults.json``), where
``recorded`` finds it for the run's summary. A step that completes clears its own line,
so a retry after the fix leaves no stale line behind. Anything else passes through
unchanged. Nothing here imports Airflow: the DAGs turn a ``ResourceFault`` into a failure
without retries, since retrying against a full disk only repeats the failure.
"""

from __future__ import annotations

import errno
import logging
import shutil
import sqlite3
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

FAULTS_FILE = "faults.json"

_NO_SPACE = {errno.ENOSPC, errno.EDQUOT}
_READ_ONLY = {errno.EROFS}
_NO_PERMISSION = {errno.EACCES, errno.EPERM}
# PostgreSQL's SQLSTATEs: read-only transaction (a standby, default_transaction_read_only),
# disk full, out of memory, too many connections, the server starting or shutting down
_PG_READ_ONLY = {"25006"}
_PG_NO_SPACE = {"53100"}
_PG_UNREACHABLE = {"57P01", "57P02", "57P03", "53300"}
_PG_UNREACHABLE_TEXT = (
    "connection refused",
    "could not connect",
    "connection failed",
    "server closed the connection",
    "connection timeout",
    "timeout expired",
    "could not translate host name",
    "name or service not known",
    "no route to host",
    "the database system is",
    "terminating connection",
    "consuming input failed",
    "connection is lost",
    "connection is closed",
)


class ResourceFault(RuntimeError):
    """A step failed for want of a resource; ``str()`` is the operator's one line."""

    def __init__(self, message: str, step: str = "") -> None:
        super().__init__(message)
        self.message, self.step = message, step

    def __str__(self) -> str:
        return self.message


class Refusal(RuntimeError):
    """A step refused for a reason that a retry cannot change (a sign-off form gone stale,
    an approved year whose totals would change): it fails at once, its text the line."""


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, the DBAPI error SQLAlchemy wraps, and its causes, each once."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        todo += [orig if isinstance(orig, BaseException) else None, current.__cause__, current.__context__]


def _mb(path: Path) -> str:
    """Free space where ``path`` is (or would be), in whole MB; "?" when unknowable."""
    for folder in (path, *path.parents):
        try:
            return str(shutil.disk_usage(folder).free // (1024 * 1024))
        except OSError:
            continue
    return "?"


def _fullest() -> Path:
    """The folder with the least free space among those the pipeline writes: where an
    ENOSPC without a file name (a failed write() rather than open()) most likely came from."""
    from village_reports import settings

    candidates = [settings.output_dir(), settings.data_dir()]
    url = settings.warehouse_url()
    if url.startswith("sqlite:///"):
        candidates.append(Path(url.removeprefix("sqlite:///").split("?", 1)[0]).parent)

    def free(folder: Path) -> float:
        for where in (folder, *folder.parents):
            try:
                return shutil.disk_usage(where).free
            except OSError:
                continue
        return float("inf")

    return min(candidates, key=free)


def _shown(path: Path) -> str:
    """A folder as the operator knows it: ``output/`` for the outputs' folder, else its path."""
    from village_reports import settings

    for name, base in (("output", settings.output_dir()), ("data", settings.data_dir())):
        try:
            inside = path.resolve().relative_to(base.resolve())
        except (OSError, ValueError):
            continue
        return f"{name}/{inside.as_posix()}/".replace("/./", "/") if str(inside) != "." else f"{name}/"
    return f"{path}/"


def _warehouse_where() -> str:
    """The warehouse's host and port (PostgreSQL) or file (SQLite), never a password."""
    from sqlalchemy.engine import make_url

    from village_reports import settings

    try:
        url = make_url(settings.warehouse_url())
    except Exception:  # ruff: ignore[blind-except] - only for the message
        return "?"
    if url.get_backend_name() == "sqlite":
        return str(url.database or "")
    return f"{url.host or 'localhost'}:{url.port or 5432}"


def _os_line(exc: OSError) -> str | None:
    name = exc.filename if isinstance(exc.filename, str | Path) else None
    if exc.errno in _NO_SPACE:
        folder = Path(name).parent if name else _fullest()
        return f"磁盘空间不足：{_shown(folder)} 剩余 {_mb(folder)} MB"
    if name is None:
        return None
    if exc.errno in _READ_ONLY:
        return f"文件系统只读，无法写入：{_shown(Path(name).parent)}"
    if exc.errno in _NO_PERMISSION:
        return f"没有写入权限：{name}"
    return None


def _sqlite_line(exc: sqlite3.Error) -> str | None:
    text = str(exc).lower()
    if "readonly database" in text or "read-only" in text:
        return "数据仓库只读"
    if "disk is full" in text:
        folder = _fullest()
        return f"磁盘空间不足：{_shown(folder)} 剩余 {_mb(folder)} MB"
    if "unable to open database file" in text:
        return f"数据仓库无法打开：{_warehouse_where()}"
    if "database is locked" in text:
        return "数据仓库被其他进程锁住，等待超时"
    return None


def _postgres_line(exc: BaseException) -> str | None:
    sqlstate = getattr(exc, "sqlstate", None)
    text = str(exc).lower()
    if sqlstate in _PG_READ_ONLY or "read-only transaction" in text:
        return "数据仓库只读"
    if sqlstate in _PG_NO_SPACE:
        return f"数据仓库磁盘空间不足：{_warehouse_where()}"
    if sqlstate in _PG_UNREACHABLE or (
        sqlstate is None and type(exc).__name__ == "OperationalError" and any(t in text for t in _PG_UNREACHABLE_TEXT)
    ):
        return f"数据仓库无法连接：{_warehouse_where()}"
    return None


def describe(exc: BaseException) -> str | None:
    """The operator's one line for a resource fault anywhere in ``exc``'s chain; None for
    any other error (a bug, a bad file: those keep their traceback)."""
    for current in _chain(exc):
        if isinstance(current, ResourceFault):
            return current.message
        line = None
        if isinstance(current, sqlite3.Error):
            line = _sqlite_line(current)
        elif isinstance(current, OSError):
            line = _os_line(current)
        elif type(current).__module__.split(".")[0] == "psycopg":
            line = _postgres_line(current)
        if line:
            return line
    return None


def _faults_file(run_key: str) -> Path:
    from village_reports import staging

    return staging.run_dir(run_key) / FAULTS_FILE


def _read(run_key: str) -> dict[str, str]:
    from village_reports import staging

    try:
        return dict(staging.read_json(_faults_file(run_key)))
    except (OSError, ValueError, TypeError):
        return {}


def _keep(run_key: str, step: str, line: str | None) -> None:
    """Best effort: the disk that is full may be this one too; the log line still says it."""
    from village_reports import staging

    try:
        kept = _read(run_key)
        if line is None and step not in kept:
            return
        if line is None:
            kept.pop(step)
        else:
            kept[step] = line
        staging.write_json(_faults_file(run_key), kept)
    except OSError as exc:
        log.debug("could not keep the fault line of %s: %s", step, exc)


def forget(run_key: str) -> None:
    """A run starts afresh: no line of an earlier attempt under the same key (the local
    runs outside Airflow share one) speaks for it."""
    _faults_file(run_key).unlink(missing_ok=True)


def recorded(run_key: str) -> list[str]:
    """The one-line faults of the run's steps that failed and have not since completed,
    as ``<step>：<line>``."""
    return [f"{step}：{line}" for step, line in sorted(_read(run_key).items())]


@contextmanager
def one_line(step: str, run_key: str | None = None) -> Generator[None, None, None]:
    """Run a step; a resource fault in it ends it as a ``ResourceFault`` with one ERROR
    line (see the module's doc). ``run_key``: keep the line for the run's summary, and
    clear this step's line when it completes. Usable as a decorator."""
    try:
        yield
    except ResourceFault:
        raise  # said once already, by an inner step
    except Exception as exc:
        line = describe(exc)
        if line is None:
            raise
        log.debug("%s failed for want of a resource", step, exc_info=exc)
        log.error("%s", line)
        if run_key is not None:
            _keep(run_key, step, line)
        raise ResourceFault(line, step) from exc
    if run_key is not None:
        _keep(run_key, step, None)


@contextmanager
def in_task() -> Generator[None, None, None]:
    """``one_line`` around an Airflow task's body, named as Airflow names the task (with
    ``_<n>`` for a mapped one, as ``failed_steps_message`` reads them). The fault, or a
    ``Refusal``, fails the task at once: retrying a full disk, a read-only warehouse or a
    stale sign-off form only fails again. Airflow is imported here, inside a running
    task, never by the pipeline's modules."""
    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowFailException

    context = get_current_context()
    ti = context["ti"]
    index = ti.map_index if ti.map_index is not None else -1
    step = ti.task_id + (f"_{index}" if index >= 0 else "")
    try:
        with one_line(step, context["run_id"]):
            yield
    except (ResourceFault, Refusal) as fault:
        raise AirflowFailException(str(fault)) from fault
