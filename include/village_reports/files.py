"""Writing files so that no reader ever sees half of one."""

from __future__ import annotations

import os
from pathlib import Path

_FOLDERS_MADE: set[Path] = set()  # a night writes tens of thousands of 回执 into a few folders


def _make_parent(path: Path, again: bool = False) -> None:
    """Make the folder, once per process; ``again`` after a write found it gone (removed
    by someone else since)."""
    if again or path.parent not in _FOLDERS_MADE:
        path.parent.mkdir(parents=True, exist_ok=True)
        _FOLDERS_MADE.add(path.parent)


def _partial(path: Path) -> Path:
    # the process id: two writers of the same file never share a temporary name
    return path.with_name(f".{path.name}.{os.getpid()}.part")


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
    file system has no hard links."""
    _make_parent(path)
    partial = _partial(path)
    try:
        os.link(source, partial)
    except FileExistsError:  # left by a killed writer of this process id
        partial.unlink()
        os.link(source, partial)
    except FileNotFoundError:
        _make_parent(path, again=True)
        os.link(source, partial)
    except OSError:
        return write_atomically(path, source.read_bytes())
    try:
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return path
