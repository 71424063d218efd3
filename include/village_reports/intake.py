"""Intake: find what villages sent, by content hash, and archive it before anything else.

A file's identity is the SHA-256 of its bytes: the same file sent twice is one
submission, and an edited file is a new one. The archive is content-addressed and
read-only, so nothing a village sends is ever lost or overwritten.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from village_reports.reader import WORKBOOK_SUFFIXES

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Arrival:
    """One file found in the inbox."""

    path: str
    year: int
    sha256: str
    size: int
    file_name: str
    received_at: str  # ISO 8601, UTC
    archive_path: str = ""

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def inbox_years(inbox: Path) -> list[int]:
    return sorted(int(p.name) for p in inbox.iterdir() if p.is_dir() and p.name.isdigit()) if inbox.exists() else []


def discover(inbox: Path, known: set[str], years: Iterable[int] | None = None) -> list[Arrival]:
    """Files under ``inbox/<year>/`` whose content is not yet in ``known`` (hashes)."""
    found: list[Arrival] = []
    seen: set[str] = set()
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for year in years if years is not None else inbox_years(inbox):
        folder = inbox / str(year)
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if not path.is_file() or path.name.startswith((".", "~$")):
                continue  # Excel's lock files (~$name.xlsx) are not submissions
            sha = file_sha256(path)
            if sha in known or sha in seen:
                continue
            seen.add(sha)
            found.append(Arrival(str(path), year, sha, path.stat().st_size, path.name, now))
    return found


def archive(arrival: Arrival, archive_root: Path) -> Arrival:
    """Copy the file into the archive once, read-only; returns the arrival with its archive path."""
    suffix = Path(arrival.file_name).suffix.lower()
    suffix = suffix if suffix in WORKBOOK_SUFFIXES else ".bin"
    target = archive_root / str(arrival.year) / arrival.sha256[:2] / f"{arrival.sha256}{suffix}"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        shutil.copyfile(arrival.path, partial)
        if file_sha256(partial) != arrival.sha256:
            partial.unlink()
            raise OSError(f"{arrival.path} changed while it was archived")
        Path(partial).chmod(0o444)
        partial.replace(target)
    return Arrival(**{**arrival.to_dict(), "archive_path": str(target)})
