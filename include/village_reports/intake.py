"""Intake: find what villages sent, by content hash, and archive it before anything else.

Two identities: a *receipt* is one file at one inbox path with one content (every file
ever received is exactly one receipt); a *submission* is one distinct content received
for one year (``submission_id``). The same bytes received again for the same year are a
duplicate receipt of an existing submission; an edited file is a new submission, and so
are the same bytes moved to another year folder: a clerk who put a 2021 workbook into
``2022/`` and then moved it gets it read for 2021. The archive is content-addressed per
year and read-only, so nothing a village sends is ever lost or overwritten.

Every inbox entry is judged on its own; none of them stops the others (issue 15):

* A regular file under ``inbox/<year>/`` is received for that year, also from a subfolder
  at any depth (a clerk's ``2021/鸣山村/x.xlsx`` is plainly a 2021 file; its receipt is
  keyed by ``2021/鸣山村/x.xlsx``, and the subfolder is logged). A file the reader cannot
  use (empty, not a workbook, …) is received and rejected by the reader with its message.
* Symbolic links are never followed, read or archived: a link leaving the inbox is logged
  as an error, a dangling or inner link as a warning. Files are opened with
  ``O_NOFOLLOW``, so a file swapped for a link after the listing is not followed either.
* Files outside ``inbox/<year>/`` (the inbox root, ``2021年/``, …) are not received: each
  is logged by name every night (``未处理：inbox/2021年/x.xlsx 不在 inbox/<年度>/ 下``).
* Skipped and logged, tried again next run, since there is nothing to hash: a file that
  vanishes between listing and reading, a file that cannot be opened (permissions: an
  operator's matter, not the village's), a file still being written (its size or mtime
  changes while it is read, or an empty file grows during a short pause), and anything
  that is not a regular file (a FIFO, a device).
* Skipped with an info line: Office/LibreOffice lock files (``~$x.xlsx``,
  ``.~lock.x.xlsx#``) and OS artefacts (``Thumbs.db``, ``.DS_Store``, ``desktop.ini``,
  ``._x``). Folders are walked, not received.

The time a file was received is ours: when this scan first found it (files found in
one scan are a microsecond apart, in the order of their file times, so a village's two
files of one night keep their order). A file's own time is set by the clerk's PC and
copied with the file, so it cannot say when the township got it. For files received
before the pipeline saw them (an import of past years, the sample data), the office's
register of received files (收件登记), ``inbox/<year>/收件登记.csv`` with the columns
文件名 and 收到时间 (Beijing time, ``YYYY-MM-DD HH:MM``), gives their times; the register
itself is not a submission. Its time applies to the first file of a name only: a file
that replaces one already received under that name is ours (received now).

A submission's id is the content's SHA-256 for the first year that content arrived for
(every id stored before the identity became per year is one), and SHA-256 of
``<content>/<year>`` for any other year (``submission_id``). A file whose content was
received before for another year is logged with both years and listed in the scan's
``moved``.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import logging
import os
import shutil
import stat
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from village_reports import settings
from village_reports.file_safety import WORKBOOK_SUFFIXES
from village_reports.files import is_partial

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
EMPTY_FILE_PAUSE = 0.5  # seconds: an empty file that grows meanwhile is still being copied
_SYSTEM_FILES = {"thumbs.db", "desktop.ini", ".ds_store"}
# Kinds of skipped entries that are noise, not news: logged at info, left out of summaries.
QUIET_KINDS = frozenset({"lock_file", "system_file", "register", "partial"})
SUMMARY_LISTED, SUMMARY_PATH_CHARS = 10, 60  # a run's reference stays one small XCom


@dataclass(frozen=True)
class Arrival:
    """One file found in the inbox."""

    path: str
    year: int
    sha256: str  # the content's
    submission_id: str  # the content's, for this year (see ``submission_id``)
    size: int
    file_name: str
    received_at: str  # ISO 8601, UTC: when we received it (first found, or the office's register)
    receipt_id: str
    duplicate: bool = False  # its content was already received for this year, under another name or earlier
    archive_path: str = ""

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Skipped:
    """An inbox entry that was not received this run, and why (``kind``, ``message``)."""

    path: str  # relative to the inbox, with "/"
    kind: str  # symlink_outside | symlink_dangling | symlink | not_in_year_folder | vanished | unreadable
    #            | in_transit | not_regular | lock_file | system_file | partial | changed_before_archive
    message: str  # Chinese, for the operator's log

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class Scan:
    """What one look at the inbox found: the arrivals, the entries skipped, and the new
    submissions whose content was received before for another year."""

    arrivals: list[Arrival] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)  # inbox-relative paths

    root: Path | None = None  # the inbox, resolved

    def skip(self, path: str, kind: str, message: str, level: int = logging.WARNING) -> None:
        self.skipped.append(Skipped(path, kind, message))
        log.log(logging.INFO if kind in QUIET_KINDS else level, "%s", message)

    def not_archived(self, arrival: Arrival, exc: SourceChanged) -> None:
        """An arrival that vanished or changed between its reading and its archiving."""
        path = Path(arrival.path)
        rel = path.relative_to(self.root).as_posix() if self.root and path.is_relative_to(self.root) else path.name
        reason = exc.strerror or exc
        message = f"暂缓：inbox/{rel} 在归档前消失或被改动（{reason}），下次运行再接收。"
        self.skip(rel, "changed_before_archive", message)

    def summary(self) -> dict[str, object]:
        """For the run's reference (XCom): the first few skipped entries that are news
        (not lock files), how many there were, and the first few moved files."""
        news = [s for s in self.skipped if s.kind not in QUIET_KINDS]
        return {
            "skipped": [{"path": s.path[:SUMMARY_PATH_CHARS], "kind": s.kind} for s in news[:SUMMARY_LISTED]],
            "skipped_total": len(news),
            "moved": [path[:SUMMARY_PATH_CHARS] for path in self.moved[:SUMMARY_LISTED]],
        }


class SourceChanged(OSError):
    """An inbox file vanished, or changed, or became a link, between its reading and its
    archiving: nothing is archived, and the next run takes the file as it then is."""


def _open_nofollow(path: Path) -> int:
    """A descriptor on the file itself, never on what a symbolic link points to."""
    return os.open(path, _OPEN_FLAGS)


def _pause() -> None:
    time.sleep(EMPTY_FILE_PAUSE)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with os.fdopen(_open_nofollow(path), "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def receipt_id(relative_path: str, sha256: str) -> str:
    return hashlib.sha256(f"{relative_path}\0{sha256}".encode()).hexdigest()


def submission_id(sha256: str, year: int, first_year: int) -> str:
    """A submission's id: the content's SHA-256 for the first year the content arrived
    for, else SHA-256 of ``<content>/<year>``."""
    return sha256 if year == first_year else hashlib.sha256(f"{sha256}/{year}".encode()).hexdigest()


REGISTER_NAME = "收件登记.csv"
_REGISTER_ZONE = settings.LOCAL_ZONE


def read_register(folder: Path) -> dict[str, datetime]:
    """The office's register of received files in ``folder``: file name -> when it came.
    Rows whose time does not parse are logged and left out (the file is then ours: now)."""
    path = folder / REGISTER_NAME
    if not path.is_file() or path.is_symlink():
        return {}
    found = {}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            name, when = (row.get("文件名") or "").strip(), (row.get("收到时间") or "").strip()
            try:
                found[name] = datetime.strptime(when, "%Y-%m-%d %H:%M").replace(tzinfo=_REGISTER_ZONE)
            except ValueError:
                log.warning("%s：“%s”的收到时间“%s”无法识别（应为 YYYY-MM-DD HH:MM），按收到时记", path, name, when)
    return found


def write_register(folder: Path, received: dict[str, datetime]) -> Path:
    """Write ``folder``'s register (the sample data's arrival times)."""
    path = folder / REGISTER_NAME
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["文件名", "收到时间"])
        for name, when in sorted(received.items(), key=lambda item: item[1]):
            writer.writerow([name, when.astimezone(_REGISTER_ZONE).strftime("%Y-%m-%d %H:%M")])
    return path


def _received_at(registered: datetime | None, now: datetime, order: int) -> str:
    """Ours: the register's time if it has one (never later than now), else now, plus
    ``order`` microseconds for the files one scan takes in."""
    if registered is not None:
        return min(registered.astimezone(UTC), now).isoformat(timespec="seconds")
    return (now + timedelta(microseconds=order)).isoformat(timespec="microseconds")


def _is_year(name: str) -> bool:
    return name.isascii() and name.isdigit()


def inbox_years(inbox: Path) -> list[int]:
    if not inbox.exists():
        return []
    return sorted(int(p.name) for p in inbox.iterdir() if _is_year(p.name) and p.is_dir() and not p.is_symlink())


def _walk(folder: Path, scan: Scan, rel: str) -> Iterator[tuple[Path, str]]:
    """Every entry below ``folder`` but its folders, with its inbox-relative path;
    symbolic links are listed, never followed."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except FileNotFoundError:
        scan.skip(rel, "vanished", f"跳过：inbox/{rel} 在列出后消失了（可能被移走或改名），下次运行再看。")
        return
    except OSError as exc:
        scan.skip(rel, "unreadable", f"无法读取文件夹 inbox/{rel}：{exc.strerror or exc}；请检查权限。", logging.ERROR)
        return
    for entry in entries:
        child = f"{rel}/{entry.name}"
        try:
            is_folder = entry.is_dir(follow_symlinks=False)
        except OSError:
            is_folder = False
        if is_folder:
            yield from _walk(Path(entry.path), scan, child)
        else:
            yield Path(entry.path), child


def _artefact(name: str) -> str | None:
    if name == REGISTER_NAME:
        return "register"
    if is_partial(name):  # the upload page writing a file into the inbox: taken once renamed
        return "partial"
    if name.startswith("~$") or (name.startswith(".~lock.") and name.endswith("#")):
        return "lock_file"
    if name.lower() in _SYSTEM_FILES or name.startswith("._"):
        return "system_file"
    return None


def _judge_link(path: Path, rel: str, inbox: Path, scan: Scan) -> None:
    try:
        target = str(path.readlink())
    except OSError:  # gone since the listing
        scan.skip(rel, "vanished", f"跳过：inbox/{rel} 在列出后消失了（可能被移走或改名），下次运行再看。")
        return
    resolved = Path(os.path.realpath(path))
    if not resolved.is_relative_to(inbox):
        scan.skip(
            rel,
            "symlink_outside",
            f"拒绝：inbox/{rel} 是指向收件箱以外（{target}）的链接，未读取、未归档；请查明是谁放的。",
            logging.ERROR,
        )
    elif not resolved.exists():
        scan.skip(rel, "symlink_dangling", f"跳过：inbox/{rel} 是失效的链接（指向 {target}），未读取。")
    else:
        scan.skip(rel, "symlink", f"跳过：inbox/{rel} 是链接（指向 {target}），链接不被跟随；请放入文件本身。")


def _judge(path: Path, rel: str, inbox: Path, scan: Scan) -> os.stat_result | None:
    """The entry's status when it is a candidate file, else None (and it is logged)."""
    try:
        listed = path.lstat()
    except FileNotFoundError:
        scan.skip(rel, "vanished", f"跳过：inbox/{rel} 在列出后、读取前消失了（可能被移走或改名），下次运行再看。")
        return None
    if stat.S_ISLNK(listed.st_mode):
        _judge_link(path, rel, inbox, scan)
        return None
    if not stat.S_ISREG(listed.st_mode):
        scan.skip(rel, "not_regular", f"跳过：inbox/{rel} 不是普通文件，未读取。")
        return None
    if kind := _artefact(path.name):
        what = {"register": "收件登记", "partial": "正在写入的临时文件"}.get(kind, " Office 锁文件或系统文件")
        scan.skip(rel, kind, f"跳过：inbox/{rel} 是{what}，不是报送。")
        return None
    return listed


def _read(path: Path, rel: str, listed: os.stat_result, inbox: Path, scan: Scan) -> tuple[str, os.stat_result] | None:
    """The file's SHA-256 and its status, read through one descriptor; None when it
    cannot be read now (and it is logged)."""
    try:
        fd = _open_nofollow(path)
    except FileNotFoundError:
        scan.skip(rel, "vanished", f"跳过：inbox/{rel} 在列出后、读取前消失了（可能被移走或改名），下次运行再看。")
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # swapped for a link since the listing
            _judge_link(path, rel, inbox, scan)
            return None
        scan.skip(
            rel,
            "unreadable",
            f"无法读取：inbox/{rel}（{exc.strerror or exc}），请检查文件权限；修好后下次运行会接收。",
            logging.ERROR,
        )
        return None
    in_transit = f"暂缓：inbox/{rel} 还在写入（大小或修改时间在读取时变了），下次运行再接收。"
    try:
        with os.fdopen(fd, "rb") as handle:
            before = os.fstat(handle.fileno())
            if not stat.S_ISREG(before.st_mode):
                scan.skip(rel, "not_regular", f"跳过：inbox/{rel} 不是普通文件，未读取。")
                return None
            if before.st_size == 0:
                _pause()
            digest = hashlib.sha256()
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
            after = os.fstat(handle.fileno())
    except OSError as exc:
        scan.skip(rel, "unreadable", f"无法读取：inbox/{rel}（{exc.strerror or exc}），下次运行再试。", logging.ERROR)
        return None
    shapes = {(s.st_size, s.st_mtime_ns) for s in (listed, before, after)}
    if len(shapes) > 1:
        scan.skip(rel, "in_transit", in_transit, logging.INFO)
        return None
    return digest.hexdigest(), after


def _stray(inbox: Path, scan: Scan) -> None:
    """Log every file at the inbox root or in a folder that is not a year."""
    for entry in sorted(inbox.iterdir()):
        if _is_year(entry.name) and entry.is_dir() and not entry.is_symlink():
            continue
        if entry.is_dir() and not entry.is_symlink():
            files = list(_walk(entry, scan, entry.name))
        else:
            files = [(entry, entry.name)]
        for path, rel in files:
            if _artefact(path.name):
                continue
            if path.is_symlink():
                _judge_link(path, rel, inbox, scan)
            else:
                message = f"未处理：inbox/{rel} 不在 inbox/<年度>/ 下；请移入对应年度的文件夹。"
                scan.skip(rel, "not_in_year_folder", message)


def scan(
    inbox: Path,
    known_receipts: set[str],
    known_submissions: Mapping[tuple[str, int], str],
    years: Iterable[int] | None = None,
    received_names: set[tuple[int, str]] = frozenset(),  # type: ignore[assignment]
    reprocess: bool = False,
    waiting: Mapping[str, str] | None = None,
    frozen_years: Iterable[int] = (),
) -> Scan:
    """Look at the inbox once: files under ``inbox/<year>/`` (and its subfolders) not yet
    received at that path with that content, and every entry skipped, each logged.

    ``known_submissions`` maps each stored (content SHA-256, year) to its submission id.
    A file whose content was already received for its year (stored, or seen earlier in
    this scan) comes back marked ``duplicate``: accounted for, never read twice. With
    ``reprocess``, stored submissions are read again (keeping their ids) and only the
    duplicates within this scan are marked, except in ``frozen_years`` (signed off),
    whose stored submissions count as received, as without ``reprocess``. A file whose
    content was received before for another year only is a new submission, logged and
    listed in ``moved``.

    ``waiting`` maps the receipts of files held while their year was signed off, and
    since reopened, to when they were received: each is read again as a new file (not a
    duplicate of its stored submission, whose id it keeps), received when it first came.
    """
    waiting = waiting or {}
    if not inbox.is_dir():
        return Scan()
    inbox = Path(os.path.realpath(inbox))
    result = Scan(root=inbox)
    _stray(inbox, result)
    ids = dict(known_submissions)
    first_year = {sha: year for (sha, year), sid in ids.items() if sid == sha}
    years_of: dict[str, set[int]] = {}
    for sha, year in ids:
        years_of.setdefault(sha, set()).add(year)
    frozen = set(frozen_years)
    seen = {key for key in ids if key[1] in frozen} if reprocess else set(ids)
    now = datetime.now(UTC)
    for year in years if years is not None else inbox_years(inbox):
        folder = inbox / str(year)
        if folder.is_symlink() or not folder.is_dir():  # a linked year folder is logged with the strays
            continue
        register = read_register(folder)
        candidates = []
        for path, rel in _walk(folder, result, str(year)):
            if (listed := _judge(path, rel, inbox, result)) is not None:
                candidates.append((listed.st_mtime, rel, path, listed))
        for _, rel, path, listed in sorted(candidates, key=lambda c: (c[0], c[1])):
            read = _read(path, rel, listed, inbox, result)
            if read is None:
                continue
            sha, status = read
            receipt = receipt_id(rel, sha)
            if receipt in known_receipts:
                continue
            if "/" in rel.removeprefix(f"{year}/"):
                log.info("按 %d 年度接收子文件夹中的文件：inbox/%s", year, rel)
            key = (sha, year)
            duplicate = key in seen and receipt not in waiting
            sid = ids.setdefault(key, submission_id(sha, year, first_year.setdefault(sha, year)))
            earlier = years_of.setdefault(sha, set()) - {year}
            if not duplicate and earlier:
                result.moved.append(rel)
                log.warning(
                    "inbox/%s 与已收到的 %s 年度文件内容相同：按 %d 年度作为新的报送读取",
                    rel,
                    "、".join(map(str, sorted(earlier))),
                    year,
                )
            result.arrivals.append(
                Arrival(
                    str(path),
                    year,
                    sha,
                    sid,
                    status.st_size,
                    path.name,
                    waiting.get(receipt)
                    or _received_at(
                        # a register names a file's first arrival: a later file of that name is ours
                        None if (year, path.name) in received_names else register.get(path.name),
                        now,
                        len(result.arrivals),
                    ),
                    receipt,
                    duplicate,
                )
            )
            seen.add(key)
            years_of[sha].add(year)
    return result


def discover(
    inbox: Path,
    known_receipts: set[str],
    known_submissions: Mapping[tuple[str, int], str],
    years: Iterable[int] | None = None,
) -> list[Arrival]:
    """The arrivals of ``scan``: files under ``inbox/<year>/`` not yet received at that
    path with that content; duplicates marked."""
    return scan(inbox, known_receipts, known_submissions, years).arrivals


def archive(arrival: Arrival, archive_root: Path) -> Arrival:
    """Copy the file into the archive once, read-only; returns the arrival with its archive path."""
    suffix = Path(arrival.file_name).suffix.lower()
    suffix = suffix if suffix in WORKBOOK_SUFFIXES else ".bin"
    target = archive_root / str(arrival.year) / arrival.sha256[:2] / f"{arrival.sha256}{suffix}"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        try:
            fd = _open_nofollow(Path(arrival.path))
        except OSError as exc:
            if isinstance(exc, FileNotFoundError) or exc.errno == errno.ELOOP:
                raise SourceChanged(exc.errno, exc.strerror, arrival.path) from exc
            raise  # the inbox itself is failing: that stops the run
        with os.fdopen(fd, "rb") as source:
            if arrival.size <= _CHUNK * 20:
                data = source.read()  # one read, checked, then written
                intact = hashlib.sha256(data).hexdigest() == arrival.sha256
                if intact:
                    partial.write_bytes(data)
            else:  # an oversized file (kept, then rejected by the reader) is streamed
                with partial.open("wb") as copy:
                    shutil.copyfileobj(source, copy, _CHUNK)
                intact = file_sha256(partial) == arrival.sha256
                if not intact:
                    partial.unlink()
        if not intact:
            raise SourceChanged(f"{arrival.path} changed while it was archived")
        partial.chmod(0o444)
        partial.replace(target)
    return Arrival(**{**arrival.to_dict(), "archive_path": str(target)})
