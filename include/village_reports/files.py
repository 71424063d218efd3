"""Writing files so that no reader ever sees half of one."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import threading
from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path

_FOLDERS_MADE: set[Path] = set()  # a night writes tens of thousands of 回执 into a few folders


def _make_parent(path: Path, again: bool = False) -> None:
    """Make the folder, once per process; ``again`` after a write found it gone (removed
    by someone else since)."""
    if again or path.parent not in _FOLDERS_MADE:
        path.parent.mkdir(parents=True, exist_ok=True)
        _FOLDERS_MADE.add(path.parent)


def _partial(path: Path) -> Path:
    """A temporary name of the writer's own: the process id (two runs' processes), the
    thread (two writers in one process: ``airflow dags test``, tests) and a random part
    (a process id reused in another container sharing the folder). Two writers of the
    same file never share one, so neither renames or removes the other's."""
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.{secrets.token_hex(4)}.part")


_PARTIAL_NAME = re.compile(r"^\..+\.\d+\.\d+\.[0-9a-f]{8}\.part$")


def is_partial(name: str) -> bool:
    """Whether ``name`` is one of ``_partial``'s temporary names: a file being written
    (the upload page writes into the inbox), which no reader may take for a file."""
    return bool(_PARTIAL_NAME.match(name))


def write_atomically(path: Path, data: bytes | str) -> Path:
    """Write ``data`` to a temporary name beside ``path``, then rename it into place: a
    crash, a full disk or a concurrent reader sees the old file or the new one, never a part."""
    _make_parent(path)
    partial = _partial(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        try:
            partial.write_bytes(payload)
        except FileNotFoundError:
            _make_parent(path, again=True)
            partial.write_bytes(payload)
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return path


def link_atomically(source: Path, path: Path) -> Path:
    """Give ``source`` a second name, replacing whatever ``path`` was; a copy where the
    file system has no hard links. The link is made under a temporary name of this
    writer's own and renamed over ``path`` (``rename(2)`` is atomic): two runs linking
    the same 回执 at once leave one whole file, the last one's."""
    _make_parent(path)
    partial = _partial(path)
    try:
        os.link(source, partial)
    except FileExistsError:  # a name of its own cannot exist; a copy rather than remove another's
        return write_atomically(path, source.read_bytes())
    except FileNotFoundError:
        _make_parent(path, again=True)
        os.link(source, partial)
    except OSError:
        return write_atomically(path, source.read_bytes())
    try:
        partial.replace(path)
    finally:
        # rename(2) does nothing when ``path`` is already a link to the same file (a run
        # linking a 回执 another run linked a moment ago): the name is ours, remove it
        partial.unlink(missing_ok=True)
    return path


def place_new(source: Path, path: Path) -> Path:
    """Copy ``source`` to ``path``, which must not exist yet: written under a temporary name
    of this writer's own beside it, then linked to ``path`` (``link(2)`` is atomic and fails
    rather than replace: ``FileExistsError``), and the temporary name removed. A reader of
    the folder sees the whole file or none; nothing is left behind when it fails."""
    _make_parent(path)
    partial = _partial(path)
    try:
        with source.open("rb") as copied, partial.open("xb") as copy:  # "x": never through a planted link
            shutil.copyfileobj(copied, copy, 1 << 20)
        os.link(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


@contextmanager
def replacing(path: Path) -> Generator[Path, None, None]:
    """A temporary name of the writer's own beside ``path``, for a writer that streams
    (a CSV, a workbook), renamed onto ``path`` once written: a full disk or a crash leaves
    the previous file, never a truncated one, and the temporary name is always removed."""
    _make_parent(path)
    partial = _partial(path)
    try:
        yield partial
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
