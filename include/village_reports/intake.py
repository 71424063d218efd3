"""Intake: find what villages sent, by content hash, and archive it before anything else.

Two identities: a *receipt* is one file at one inbox path with one content (every file
ever received is exactly one receipt); a *submission* is one distinct content (its
SHA-256). The same bytes received again are a duplicate receipt of an existing
submission; an edited file is a new submission. The archive is content-addressed and
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
    received_at: str  # ISO 8601, UTC: when the file landed in the inbox (its mtime), never later than now
    receipt_id: str
    duplicate: bool = False  # its content was already received under another name or earlier
    archive_path: str = ""

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def receipt_id(relative_path: str, sha256: str) -> str:
    return hashlib.sha256(f"{relative_path}\0{sha256}".encode()).hexdigest()


def _received_at(path: Path, now: datetime) -> str:
    landed = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    return min(landed, now).isoformat(timespec="seconds")


def inbox_years(inbox: Path) -> list[int]:
    return sorted(int(p.name) for p in inbox.iterdir() if p.is_dir() and p.name.isdigit()) if inbox.exists() else []


def discover(
    inbox: Path,
    known_receipts: set[str],
    known_contents: set[str],
    years: Iterable[int] | None = None,
) -> list[Arrival]:
    """Files under ``inbox/<year>/`` not yet received at that path with that content.

    Files whose content is already known (or seen earlier in this scan) come back marked
    ``duplicate``: they are accounted for, never read twice.
    """
    found: list[Arrival] = []
    seen: set[str] = set(known_contents)
    now = datetime.now(UTC)
    for year in years if years is not None else inbox_years(inbox):
        folder = inbox / str(year)
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir(), key=lambda p: (p.stat().st_mtime, p.name)):
            if not path.is_file() or path.name.startswith("~$"):
                continue  # Excel's lock files (~$name.xlsx) are not submissions
            sha = file_sha256(path)
            receipt = receipt_id(f"{year}/{path.name}", sha)
            if receipt in known_receipts:
                continue
            found.append(
                Arrival(
                    str(path), year, sha, path.stat().st_size, path.name, _received_at(path, now), receipt, sha in seen
                )
            )
            seen.add(sha)
    return found


def archive(arrival: Arrival, archive_root: Path) -> Arrival:
    """Copy the file into the archive once, read-only; returns the arrival with its archive path."""
    suffix = Path(arrival.file_name).suffix.lower()
    suffix = suffix if suffix in WORKBOOK_SUFFIXES else ".bin"
    target = archive_root / str(arrival.year) / arrival.sha256[:2] / f"{arrival.sha256}{suffix}"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        if arrival.size <= _CHUNK * 20:
            data = Path(arrival.path).read_bytes()  # one read, checked, then written
            intact = hashlib.sha256(data).hexdigest() == arrival.sha256
            if intact:
                partial.write_bytes(data)
        else:  # an oversized file (kept, then rejected by the reader) is streamed
            shutil.copyfile(arrival.path, partial)
            intact = file_sha256(partial) == arrival.sha256
            if not intact:
                partial.unlink()
        if not intact:
            raise OSError(f"{arrival.path} changed while it was archived")
        partial.chmod(0o444)
        partial.replace(target)
    return Arrival(**{**arrival.to_dict(), "archive_path": str(target)})
