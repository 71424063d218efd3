"""What the upload page does with the files it is given, without the web framework.

Each file is refused at the door (its name, its extension, its content: the zip or OLE
signature and ``file_safety``'s checks, the reader's own defences) or received: checked
at once with the nightly run's own checks (``village_reports.checks``), put into
``inbox/<year>/`` for the nightly run to load, and answered with its 回执, written into
a folder of this upload's own (``<output>/uploads/<id>/``). The page never writes the
warehouse: it reads it to find duplicates, locked years and peers, and the night loads.

All or nothing: every file of an upload is refused before anything is written, and a
failure while writing removes whatever this upload wrote (回执, inbox files).
"""

from __future__ import annotations

import csv
import fcntl
import io
import os
import re
import secrets
import shutil
import unicodedata
from collections.abc import Generator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from village_reports import checks, file_safety, settings, signoff, warehouse
from village_reports.feedback import VERDICTS, Standing, feedback_bytes, feedback_paths, held_advice
from village_reports.files import is_partial, place_new, write_atomically
from village_reports.intake import REGISTER_NAME, file_sha256
from village_reports.model import HELD, REJECTED, Problem, ReadResult, status_of
from village_reports.pages.dashboard import read
from village_reports.problems import REQUIRED_MISSING
from village_reports.roster import load_roster
from village_reports.rules import load_rules

MAX_FILES = 30  # per upload: a stack from a WeChat group is one township's units at most
NAME_CHARS, NAME_BYTES = 100, 180  # the file system allows 255 bytes; the temporary name adds ~40
SUFFIXES = file_safety.WORKBOOK_SUFFIXES  # what the reader reads: .xlsx .xlsm .xls .ods
_SIGNATURE = {".xlsx": b"PK\x03\x04", ".xlsm": b"PK\x03\x04", ".ods": b"PK\x03\x04", ".xls": bytes.fromhex("D0CF11E0")}
_UNSAFE = re.compile(r'[<>:"|?*]')  # not allowed in Windows names: the office copies the inbox there
UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
WRONG_UNIT_CODES = {"file.other_unit", "value.unknown_unit", "meta.unit_code_missing"}

# data-status of each verdict, as the page and its tests read it
ACCEPTED, WARNINGS, REJECTED_PAGE = "accepted", "accepted_with_warnings", "rejected"
DUPLICATE, LOCKED, WRONG_UNIT = "duplicate", "locked", "wrong_unit"


class Refused(Exception):
    """A file, or the whole upload, refused before anything was written."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Staged:
    """One uploaded file, held in a private temporary folder under its cleaned name."""

    name: str
    path: Path


@dataclass
class Verdict:
    """What the page says about one file."""

    file_name: str
    status: str  # ACCEPTED … WRONG_UNIT
    title: str  # 已接收, 退回, …
    unit: str  # which unit and year the file is for
    summary: str
    problems: list[Problem] = field(default_factory=list)
    saved_as: str | None = None  # inbox/<year>/<name>
    receipt: str | None = None  # the 回执's name in the upload's folder


def clean_name(raw: str) -> str:
    """A file name safe to put into the inbox: its last path part only, no control or
    format characters, none that Windows refuses, no leading dot, bounded length, a
    workbook extension; Chinese kept. ``Refused`` when nothing usable is left."""
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[\\/]", name)[-1]  # a browser may send a path: only the name counts
    name = "".join(ch for ch in name if not unicodedata.category(ch).startswith("C"))
    name = _UNSAFE.sub("_", name).strip().lstrip(".").strip()
    stem, suffix = Path(name).stem if name else "", Path(name).suffix if name else ""
    if suffix.lower() not in SUFFIXES:
        raise Refused(415, f"“{name or raw}”不是 Excel 工作簿：只接收 {'、'.join(SUFFIXES)} 文件。")
    stem = stem.strip()
    if not stem:
        raise Refused(400, f"文件名“{raw}”不可用，请改名后再上传。")
    stem = stem[:NAME_CHARS]
    while len((stem + suffix).encode()) > NAME_BYTES:
        stem = stem[:-1]
    return stem + suffix.lower()


def content_problem(path: Path) -> str | None:
    """Why the file must not be received (in Chinese), or None: its first bytes must be
    its extension's (a zip for .xlsx, OLE for .xls), then ``file_safety``'s checks."""
    with path.open("rb") as handle:
        head = handle.read(8)
    if not head:
        return "文件是空的。"
    if not head.startswith(_SIGNATURE[path.suffix.lower()]):
        return "文件内容不是 Excel 工作簿（扩展名与内容不符），未接收。"
    problem = file_safety.check_file(path)
    return problem.message if problem else None


def check_at_door(staged: Sequence[Staged]) -> None:
    """Refuse the upload if any file must not be received; nothing is written yet."""
    if not staged:
        raise Refused(400, "没有选择文件。")
    for item in staged:
        if (why := content_problem(item.path)) is not None:
            raise Refused(415, f"“{item.name}”：{why}")


def year_folder(year: int) -> Path:
    """``inbox/<year>/``; refused when it is a link, which the nightly run never follows."""
    folder = settings.inbox_dir() / str(year)
    if folder.is_symlink():
        raise Refused(409, f"收件箱的 {year} 年度文件夹是链接，夜间运行不会读取；请联系管理员。")
    return folder


def _same_bytes_in(folder: Path, size: int, sha: str) -> str | None:
    """The name of a file under ``folder`` with these bytes (links are not followed)."""
    if not folder.is_dir():
        return None
    for root, _, names in os.walk(folder):
        for name in names:
            path = Path(root) / name
            try:
                if is_partial(name) or path.is_symlink() or path.stat().st_size != size:
                    continue
                if file_sha256(path) == sha:
                    return path.relative_to(folder).as_posix()
            except OSError:
                continue  # vanished or unreadable: not ours to judge here
    return None


def _free_name(name: str, taken: set[str]) -> str:
    """``name``, or ``name（2）`` …: a name never used in the year's folder, so an upload
    never replaces a file waiting there, and the register's time is this file's."""
    stem, suffix = Path(name).stem, Path(name).suffix
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{stem}（{n}）{suffix}"
    return candidate


def _unit_text(result: ReadResult, year: int) -> str:
    unit = load_roster().get(result.unit_code or "")
    if unit is None:
        return f"未能识别报送单位（表内单位：{result.unit_name or result.unit_code or '空'}），报告年度 {year} 年"
    return f"{unit.name}（{unit.code}）{result.year or year} 年度报表"


def _page_status(result: ReadResult, status: str) -> str:
    if status == HELD:
        return LOCKED
    wrong = any(p.code in WRONG_UNIT_CODES and p.severity == "error" for p in result.problems)
    if status == REJECTED and wrong:
        return WRONG_UNIT
    return status


def _summary(result: ReadResult, status: str, year: int, standing: Standing) -> str:
    errors = sum(p.severity == "error" for p in result.problems)
    blank = sum(p.code == REQUIRED_MISSING for p in result.problems)
    warnings = sum(p.severity == "warning" for p in result.problems) - blank
    filled = sum(r.value is not None for r in result.records)
    advice = held_advice(year, standing, errors) if status == HELD else VERDICTS[status][2]
    blanks = f"、{blank} 项未填" if blank else ""
    return f"共读取 {filled} 项数据{blanks}，发现 {errors} 个错误、{warnings} 个提示。{advice}"


@dataclass
class _Plan:
    staged: Staged
    name: str  # in the inbox
    verdict: Verdict
    receipt: bytes


def _duplicate(item: Staged, year: int, sha: str, known: dict[tuple[str, int], str], folder: Path) -> Verdict | None:
    where = "已入库" if (sha, year) in known else None
    where = where or (
        f"收件箱中的“{same}”" if (same := _same_bytes_in(folder, item.path.stat().st_size, sha)) else None
    )
    if where is None:
        return None
    return Verdict(
        item.name,
        DUPLICATE,
        "重复文件（未保存）",
        f"{year} 年度",
        f"与{where}的文件内容完全相同，本次未重复保存；以前的审核结论和回执仍然有效。",
    )


def _plan(
    item: Staged, year: int, name: str, engine: Engine | None, locked: signoff.SignoffState | None, now: datetime
) -> _Plan:
    """Check one file and prepare its verdict and 回执; nothing written."""
    result, grid = checks.check_file(item.path, year, name, engine)
    status = HELD if locked is not None and locked.locked else status_of(result.problems)
    sha = file_sha256(item.path)
    approved = {"approved_by": locked.approved_by, "approved_at": locked.approved_at} if status == HELD else {}
    standing = Standing(load_rules().deadline(year), **approved)  # type: ignore[arg-type]
    arrival = {
        "year": year,
        "file_name": name,
        "received_at": now.isoformat(timespec="seconds"),
        "archive_path": str(item.path),
        "submission_id": sha,
    }
    receipt_name = feedback_paths(Path(), year, result.unit_code, sha, load_roster())[-1].name
    verdict = Verdict(
        item.name,  # as sent: the clerk knows the file by it; ``saved_as`` says if it was renamed
        _page_status(result, status),
        VERDICTS[status][0],
        _unit_text(result, year),
        _summary(result, status, year, standing),
        problems=list(result.problems),
        saved_as=f"inbox/{year}/{name}",
        receipt=receipt_name,
    )
    data = feedback_bytes(arrival, result, status, grid=grid, standing=standing)
    return _Plan(item, name, verdict, data)


def receive(
    staged: Sequence[Staged], year: int, engine: Engine | None, now: datetime | None = None
) -> tuple[str, list[Verdict]]:
    """Check every file, then save those that are not duplicates into the inbox with their
    回执; the upload's id (its folder under ``settings.uploads_dir()``) and the verdicts."""
    check_at_door(staged)
    now = now or datetime.now(UTC)
    folder = year_folder(year)
    known = read(engine, {}, warehouse.known_submissions)
    locked = read(engine, None, lambda e: signoff.state(e, year))
    taken = {n for y, n in read(engine, set(), warehouse.received_names) if y == year}
    taken |= {p.name for p in folder.iterdir()} if folder.is_dir() else set()
    verdicts: list[Verdict] = []
    plans: list[_Plan] = []
    seen: dict[str, str] = {}
    for item in staged:
        sha = file_sha256(item.path)
        duplicate = _duplicate(item, year, sha, known, folder)
        if duplicate is None and sha in seen:
            duplicate = Verdict(
                item.name,
                DUPLICATE,
                "重复文件（未保存）",
                f"{year} 年度",
                f"与本次上传的“{seen[sha]}”内容完全相同，未重复保存。",
            )
        if duplicate is not None:
            verdicts.append(duplicate)
            continue
        seen[sha] = item.name
        name = _free_name(item.name, taken)
        taken.add(name)
        plan = _plan(item, year, name, engine, locked, now)
        plans.append(plan)
        verdicts.append(plan.verdict)
    upload_id = secrets.token_hex(16)
    if plans:
        _commit(plans, settings.uploads_dir() / upload_id, folder, now)
    return upload_id, verdicts


def _commit(plans: Sequence[_Plan], receipts: Path, inbox: Path, now: datetime) -> None:
    """Write the 回执, then the inbox files, then their times in the office's register;
    on any failure remove what was written, so that a failed upload leaves nothing."""
    placed: list[Path] = []
    try:
        for plan in plans:
            write_atomically(receipts / plan.verdict.receipt, plan.receipt)  # type: ignore[operator]
        with _register_lock():
            for plan in plans:
                placed.append(place_new(plan.staged.path, inbox / plan.name))
            _register(inbox, [plan.name for plan in plans], now)
    except BaseException:
        for path in placed:
            path.unlink(missing_ok=True)
        shutil.rmtree(receipts, ignore_errors=True)
        raise


@contextmanager
def _register_lock() -> Generator[None]:
    """One upload at a time picks names and writes the register (several api-server
    workers may take uploads at once). The lock file lives outside the inbox."""
    lock = settings.data_dir() / "upload.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _register(folder: Path, names: Sequence[str], now: datetime) -> None:
    """Add the files' upload times to the year's 收件登记: the nightly run then counts a
    file uploaded before the deadline as on time, though it finds it hours later. The
    office's own rows are kept as they are; the register is replaced whole, never half."""
    path = folder / REGISTER_NAME
    kept = path.read_text(encoding="utf-8-sig") if path.is_file() and not path.is_symlink() else "文件名,收到时间\n"
    added = io.StringIO()
    writer = csv.writer(added, lineterminator="\n")
    for name in names:
        writer.writerow([name, now.astimezone(settings.LOCAL_ZONE).strftime("%Y-%m-%d %H:%M")])
    write_atomically(path, "\ufeff" + kept + ("" if kept.endswith("\n") else "\n") + added.getvalue())


def receipt_path(upload_id: str, name: str) -> Path | None:
    """A 回执 of an upload, only from that upload's folder; None for anything else."""
    if not UPLOAD_ID.match(upload_id) or name != Path(name).name or name.startswith(".") or is_partial(name):
        return None
    folder = settings.uploads_dir() / upload_id
    path = folder / name
    if path.is_symlink() or not path.is_file() or path.resolve().parent != folder.resolve():
        return None
    return path
