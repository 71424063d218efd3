"""Intake judges every inbox entry on its own (issue 15): none of them stops the others."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from village_reports import intake

GOOD = b"PK\x03\x04 a village's workbook"


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    (folder / "2021").mkdir(parents=True)
    (folder / "2021" / "鸣山村.xlsx").write_bytes(GOOD)
    return folder


def names(arrivals: list[intake.Arrival]) -> list[str]:
    return [Path(a.path).name for a in arrivals]


def messages(caplog: pytest.LogCaptureFixture, level: int = logging.DEBUG) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.levelno >= level)


def test_a_dangling_link_is_logged_and_the_others_are_read(inbox: Path, caplog) -> None:
    (inbox / "2021" / "坏链接.xlsx").symlink_to(inbox / "2021" / "不存在.xlsx")
    with caplog.at_level(logging.INFO):
        arrivals = intake.discover(inbox, set(), {})
    assert names(arrivals) == ["鸣山村.xlsx"]
    assert "inbox/2021/坏链接.xlsx 是失效的链接" in messages(caplog, logging.WARNING)


def test_a_link_leaving_the_inbox_is_never_followed_nor_archived(inbox: Path, tmp_path: Path, caplog) -> None:
    (inbox / "2021" / "passwd.xlsx").symlink_to("/etc/passwd")
    with caplog.at_level(logging.INFO):
        arrivals = intake.discover(inbox, set(), {})
    assert names(arrivals) == ["鸣山村.xlsx"]
    assert "inbox/2021/passwd.xlsx 是指向收件箱以外（/etc/passwd）的链接" in messages(caplog, logging.ERROR)
    archived = [intake.archive(a, tmp_path / "archive") for a in arrivals]
    assert [Path(a.archive_path).read_bytes() for a in archived] == [GOOD]


def test_a_file_swapped_for_a_link_after_the_listing_is_not_followed(inbox: Path, tmp_path: Path) -> None:
    (arrival,) = intake.discover(inbox, set(), {})
    Path(arrival.path).unlink()
    Path(arrival.path).symlink_to("/etc/passwd")
    with pytest.raises(intake.SourceChanged):
        intake.archive(arrival, tmp_path / "archive")
    assert not list((tmp_path / "archive").rglob("*.xlsx"))


def test_a_file_in_a_subfolder_of_a_year_is_received_for_that_year(inbox: Path, caplog) -> None:
    (inbox / "2021" / "东村").mkdir()
    (inbox / "2021" / "东村" / "东村报表.xlsx").write_bytes(GOOD + b" east")
    with caplog.at_level(logging.INFO):
        arrivals = intake.discover(inbox, set(), {})
    east = next(a for a in arrivals if a.file_name == "东村报表.xlsx")
    assert (east.year, east.duplicate) == (2021, False)
    assert east.receipt_id == intake.receipt_id("2021/东村/东村报表.xlsx", east.sha256)
    assert "按 2021 年度接收子文件夹中的文件：inbox/2021/东村/东村报表.xlsx" in messages(caplog)


def test_files_outside_the_year_folders_are_logged_by_name(inbox: Path, caplog) -> None:
    (inbox / "2021年").mkdir()
    (inbox / "2021年" / "x.xlsx").write_bytes(GOOD + b" x")
    (inbox / "根目录.xlsx").write_bytes(GOOD + b" root")
    with caplog.at_level(logging.INFO):
        arrivals = intake.discover(inbox, set(), {})
    assert names(arrivals) == ["鸣山村.xlsx"]
    logged = messages(caplog, logging.WARNING)
    assert "未处理：inbox/2021年/x.xlsx 不在 inbox/<年度>/ 下" in logged
    assert "未处理：inbox/根目录.xlsx 不在 inbox/<年度>/ 下" in logged


def test_a_file_that_vanishes_before_it_is_read_is_logged(inbox: Path, monkeypatch, caplog) -> None:
    (inbox / "2021" / "东村.xlsx").write_bytes(GOOD + b" east")
    real_open = intake._open_nofollow

    def vanish_first(path: Path) -> int:
        if path.name == "东村.xlsx":
            path.unlink()
        return real_open(path)

    monkeypatch.setattr(intake, "_open_nofollow", vanish_first)
    with caplog.at_level(logging.INFO):
        found = intake.scan(inbox, set(), {})
    assert names(found.arrivals) == ["鸣山村.xlsx"]
    assert [(s.path, s.kind) for s in found.skipped] == [("2021/东村.xlsx", "vanished")]
    assert "inbox/2021/东村.xlsx 在列出后、读取前消失了" in messages(caplog, logging.WARNING)


def test_an_unreadable_file_is_logged_loudly(inbox: Path, monkeypatch, caplog) -> None:
    """Tests run as root, where chmod 000 does not stop reading: open is made to refuse."""
    (inbox / "2021" / "东村.xlsx").write_bytes(GOOD + b" east")
    real_open = intake._open_nofollow

    def refuse(path: Path) -> int:
        if path.name == "东村.xlsx":
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path)

    monkeypatch.setattr(intake, "_open_nofollow", refuse)
    with caplog.at_level(logging.INFO):
        found = intake.scan(inbox, set(), {})
    assert names(found.arrivals) == ["鸣山村.xlsx"]
    assert [(s.path, s.kind) for s in found.skipped] == [("2021/东村.xlsx", "unreadable")]
    assert "无法读取：inbox/2021/东村.xlsx（Permission denied）" in messages(caplog, logging.ERROR)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a chmod 000 file; the monkeypatched test covers it")
def test_a_chmod_000_file_is_logged_loudly(inbox: Path, caplog) -> None:
    locked = inbox / "2021" / "东村.xlsx"
    locked.write_bytes(GOOD + b" east")
    locked.chmod(0)
    with caplog.at_level(logging.INFO):
        arrivals = intake.discover(inbox, set(), {})
    assert names(arrivals) == ["鸣山村.xlsx"]
    assert "无法读取：inbox/2021/东村.xlsx" in messages(caplog, logging.ERROR)


def test_lock_files_are_skipped_with_a_log_line(inbox: Path, caplog) -> None:
    (inbox / "2021" / "~$鸣山村.xlsx").write_bytes(b"lock")
    (inbox / "2021" / ".~lock.鸣山村.xlsx#").write_bytes(b"lock")
    with caplog.at_level(logging.INFO):
        found = intake.scan(inbox, set(), {})
    assert names(found.arrivals) == ["鸣山村.xlsx"]
    assert "inbox/2021/~$鸣山村.xlsx 是 Office 锁文件或系统文件" in messages(caplog)
    assert found.summary()["skipped_total"] == 0  # noise, not news


def test_a_file_being_written_under_a_temporary_name_is_left_alone(inbox: Path, caplog) -> None:
    """The upload page writes into the inbox under files' temporary name, then links the
    whole file to its name: the night takes the file, never the temporary name."""
    from village_reports.files import _partial

    partial = _partial(inbox / "2021" / "白若村.xlsx")
    partial.write_bytes(GOOD[:6])
    with caplog.at_level(logging.INFO):
        found = intake.scan(inbox, set(), {})
    assert names(found.arrivals) == ["鸣山村.xlsx"]
    assert "正在写入的临时文件" in messages(caplog)
    assert found.summary()["skipped_total"] == 0


def test_an_empty_file_still_being_copied_waits_for_the_next_run(inbox: Path, monkeypatch, caplog) -> None:
    copying = inbox / "2021" / "东村.xlsx"
    copying.write_bytes(b"")
    monkeypatch.setattr(intake, "_pause", lambda: copying.write_bytes(GOOD + b" east"))
    with caplog.at_level(logging.INFO):
        arrivals = intake.discover(inbox, set(), {})
    assert names(arrivals) == ["鸣山村.xlsx"]
    assert "暂缓：inbox/2021/东村.xlsx 还在写入" in messages(caplog)


def test_an_empty_file_that_stays_empty_is_received_for_the_reader_to_reject(inbox: Path, monkeypatch) -> None:
    (inbox / "2021" / "东村.xlsx").write_bytes(b"")
    monkeypatch.setattr(intake, "_pause", lambda: None)
    arrivals = intake.discover(inbox, set(), {})
    assert sorted((a.file_name, a.size) for a in arrivals) == [("东村.xlsx", 0), ("鸣山村.xlsx", len(GOOD))]


def test_a_file_growing_between_listing_and_reading_waits(inbox: Path, monkeypatch, caplog) -> None:
    growing = inbox / "2021" / "东村.xlsx"
    growing.write_bytes(GOOD)
    real_open = intake._open_nofollow

    def grow_first(path: Path) -> int:
        if path.name == "东村.xlsx":
            with path.open("ab") as handle:
                handle.write(b" more")
        return real_open(path)

    monkeypatch.setattr(intake, "_open_nofollow", grow_first)
    with caplog.at_level(logging.INFO):
        found = intake.scan(inbox, set(), {})
    assert names(found.arrivals) == ["鸣山村.xlsx"]
    assert [(s.path, s.kind) for s in found.skipped] == [("2021/东村.xlsx", "in_transit")]


def test_the_same_bytes_in_two_year_folders_are_a_submission_for_each(inbox: Path, caplog) -> None:
    """A submission is one content for one year: the 2021 copy of a 2020 file is read for
    2021 under an id of its own; a third copy in 2021 is that one's duplicate."""
    (inbox / "2020").mkdir()
    first = inbox / "2020" / "东村.xlsx"
    first.write_bytes(GOOD + b" east")
    os.utime(first, (1_600_000_000, 1_600_000_000))
    (inbox / "2021" / "东村.xlsx").write_bytes(GOOD + b" east")
    (inbox / "2021" / "东村（副本）.xlsx").write_bytes(GOOD + b" east")
    with caplog.at_level(logging.INFO):
        found = intake.scan(inbox, set(), {})
    by_name = {(a.year, a.file_name): a for a in found.arrivals}
    in_2020, in_2021, copy = by_name[2020, "东村.xlsx"], by_name[2021, "东村.xlsx"], by_name[2021, "东村（副本）.xlsx"]
    assert not in_2020.duplicate and in_2020.submission_id == in_2020.sha256
    assert not in_2021.duplicate and in_2021.submission_id not in (in_2020.submission_id, in_2021.sha256)
    assert copy.duplicate and copy.submission_id == in_2021.submission_id
    assert found.moved == ["2021/东村.xlsx"]
    assert "inbox/2021/东村.xlsx 与已收到的 2020 年度文件内容相同：按 2021 年度作为新的报送读取" in messages(
        caplog, logging.WARNING
    )


def test_a_file_moved_since_an_earlier_night_is_read_for_its_new_year(inbox: Path, tmp_path: Path, caplog) -> None:
    (inbox / "2020").mkdir()
    (inbox / "2020" / "东村.xlsx").write_bytes(GOOD + b" east")
    night_one = intake.scan(inbox, set(), {}, [2020])
    (done,) = [intake.archive(a, tmp_path / "archive") for a in night_one.arrivals]
    stored = {(done.sha256, 2020): done.submission_id}
    (inbox / "2020" / "东村.xlsx").rename(inbox / "2021" / "东村.xlsx")
    with caplog.at_level(logging.INFO):
        night_two = intake.scan(inbox, {done.receipt_id}, stored)
    (moved,) = [a for a in night_two.arrivals if a.file_name == "东村.xlsx"]
    assert (moved.year, moved.duplicate) == (2021, False)
    assert moved.submission_id == intake.submission_id(done.sha256, 2021, first_year=2020)
    assert night_two.summary()["moved"] == ["2021/东村.xlsx"]
    # moved back: known for 2020 under its first id, so a duplicate, never read twice
    (inbox / "2021" / "东村.xlsx").rename(inbox / "2020" / "东村（找回）.xlsx")
    stored[done.sha256, 2021] = moved.submission_id
    night_three = intake.scan(inbox, {done.receipt_id, moved.receipt_id}, stored)
    (back,) = [a for a in night_three.arrivals if a.file_name == "东村（找回）.xlsx"]
    assert back.duplicate and back.submission_id == done.submission_id
    assert night_three.moved == []


def test_reprocessing_keeps_the_stored_ids(inbox: Path) -> None:
    """Read again after a rule change, every file keeps the id it was stored under, in
    whatever order the folders are listed."""
    (inbox / "2020").mkdir()
    (inbox / "2020" / "东村.xlsx").write_bytes(GOOD + b" east")
    sha = intake.file_sha256(inbox / "2020" / "东村.xlsx")
    stored = {(sha, 2021): sha, (sha, 2020): intake.submission_id(sha, 2020, first_year=2021)}
    (inbox / "2021" / "东村.xlsx").write_bytes(GOOD + b" east")
    found = intake.scan(inbox, set(), stored, reprocess=True)
    ids = {(a.year, a.file_name): (a.submission_id, a.duplicate) for a in found.arrivals}
    assert ids[2020, "东村.xlsx"] == (stored[sha, 2020], False)
    assert ids[2021, "东村.xlsx"] == (sha, False)


def test_no_entry_stops_the_others(inbox: Path, caplog) -> None:
    year = inbox / "2021"
    (year / "坏链接.xlsx").symlink_to(year / "不存在.xlsx")
    (year / "passwd.xlsx").symlink_to("/etc/passwd")
    (year / "~$鸣山村.xlsx").write_bytes(b"lock")
    os.mkfifo(year / "管道")
    (year / "空文件夹").mkdir()
    (inbox / "2021年").mkdir()
    (inbox / "2021年" / "x.xlsx").write_bytes(b"x")
    with caplog.at_level(logging.INFO):
        found = intake.scan(inbox, set(), {})
    assert names(found.arrivals) == ["鸣山村.xlsx"]
    assert sorted(s.kind for s in found.skipped) == sorted(
        ["symlink_dangling", "symlink_outside", "lock_file", "not_regular", "not_in_year_folder"]
    )
    summary = found.summary()
    assert summary["skipped_total"] == 4 and len(str(summary)) < 1_000


def test_the_receipt_time_is_ours_or_the_registers(inbox: Path) -> None:
    """A file's own time is the clerk's PC's: the receipt time is when we found it, unless
    the office's register (收件登记.csv) says when it came."""
    from datetime import UTC, datetime, timedelta

    old, registered = inbox / "2021" / "旧时间.xlsx", inbox / "2021" / "登记过.xlsx"
    old.write_bytes(GOOD + b" old")
    registered.write_bytes(GOOD + b" registered")
    os.utime(old, (1_500_000_000, 1_500_000_000))  # 2017, as a PC with a wrong clock says
    (inbox / "2021" / intake.REGISTER_NAME).write_text(
        "文件名,收到时间\n登记过.xlsx,2022-03-01 09:30\n", encoding="utf-8-sig"
    )
    before = datetime.now(UTC)
    found = {a.file_name: a for a in intake.discover(inbox, set(), {})}
    assert intake.REGISTER_NAME not in found  # the register is not a submission
    assert before <= datetime.fromisoformat(found["旧时间.xlsx"].received_at) <= before + timedelta(minutes=1)
    assert found["登记过.xlsx"].received_at == "2022-03-01T01:30:00+00:00"
