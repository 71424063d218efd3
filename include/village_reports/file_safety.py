"""Checks on a submitted file's bytes before any parser sees them.

A file from the inbox may be anything: empty, renamed, corrupt, encrypted, a zip bomb,
XML with entity declarations, a workbook with macros, or a sheet with one stray value at
XFD1048576 that would make the parser build a grid of 17 G cells. Each is refused here,
with the problem the clerk reads, so that the reader only ever parses what it can read
safely. The checks read the zip's central directory and scan the worksheet parts as
bytes (inflated a chunk at a time); none of them parses XML.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from village_reports import problems
from village_reports.model import Problem
from village_reports.table import cell_ref

MAX_FILE_BYTES = 20 * 1024 * 1024
# A workbook that unzips to more than this is treated as a zip bomb and never parsed.
MAX_UNZIPPED_BYTES = 200 * 1024 * 1024
MAX_COMPRESSION_RATIO = 200
# calamine builds each worksheet it loads as a dense grid from A1 to the farthest cell that
# holds a value (about 40 bytes a cell, before Python copies it into lists): one stray value
# at XFD1048576 asks for 17 G cells (512 GiB) and aborts the process, one at Z1048576 takes
# 27 M cells, seconds and GBs. The templates are about 200 rows by 6 columns, so a sheet
# whose cells reach beyond either bound is not a filled template: refuse it unread.
# MAX_SHEET_ROWS leaves room for a pasted list of thousands of lines; MAX_SHEET_CELLS
# (rows x columns) keeps one sheet under ~40 MB, so a stray value at, say, XFD5 still reads.
MAX_SHEET_ROWS = 10_000
MAX_SHEET_CELLS = 1_000_000

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")


def check_file(path: Path) -> Problem | None:
    """Why the file must not be parsed at all, or None when a parser may read it."""
    try:
        size = path.stat().st_size
        data = path.read_bytes() if 0 < size <= MAX_FILE_BYTES else b""
    except OSError as exc:
        return problems.make("file.unreadable", "open", reason=exc.strerror or exc)
    if size == 0:
        return problems.make("file.empty")
    if size > MAX_FILE_BYTES:
        return problems.make("file.too_large", size_mb=size / 1024 / 1024, limit_mb=MAX_FILE_BYTES // 1024 // 1024)
    if data.startswith(_ZIP_MAGIC):
        return _zip_problem(data)
    if data.startswith(_OLE_MAGIC):
        return None  # legacy .xls, or an encrypted .xlsx: calamine tells them apart
    return problems.make("file.not_a_workbook", "renamed")


def _zip_problem(data: bytes) -> Problem | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
        return _zip_members_problem(data, infos)
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, struct.error):
        return problems.make("file.corrupt")


def _zip_members_problem(data: bytes, infos: list[zipfile.ZipInfo]) -> Problem | None:
    unzipped = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos) or 1
    if unzipped > MAX_UNZIPPED_BYTES or unzipped / packed > MAX_COMPRESSION_RATIO:
        return problems.make("file.zip_bomb")
    names = {i.filename for i in infos}
    if "xl/workbook.xml" not in names and "content.xml" not in names:
        return problems.make("file.not_a_workbook", "archive")
    if any(name.lower().endswith("vbaproject.bin") for name in names):
        return problems.make("file.macros")
    heads = {i.filename: _member_head(data, i) for i in infos if i.filename.endswith((".xml", ".rels"))}
    if any(b"<!DOCTYPE" in head or b"<!ENTITY" in head for head in heads.values()):
        # Office never declares a DOCTYPE or ENTITY, attacks do; only the prolog can, so the
        # first 4 KiB of each part are enough
        return problems.make("file.xml_entities")
    for info in infos:
        head = heads.get(info.filename)
        if head is None or not _WORKSHEET_ROOT.search(head):
            continue
        rows, cols = _sheet_extent(data, info)
        if rows > MAX_SHEET_ROWS or rows * cols > MAX_SHEET_CELLS:
            return problems.make("file.too_large_area", last_cell=cell_ref(rows - 1, cols - 1), rows=rows, cols=cols)
    return None


_PROLOG_BYTES = 4096
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature ... file name length, extra field length


def _member_packed(data: bytes, info: zipfile.ZipInfo) -> bytes:
    """One member's bytes as stored (compressed), found through its local header."""
    signature, name_length, extra_length = _LOCAL_HEADER.unpack_from(data, info.header_offset)
    if signature != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"bad local header for {info.filename}")
    start = info.header_offset + _LOCAL_HEADER.size + name_length + extra_length
    return data[start : start + info.compress_size]


def _member_head(data: bytes, info: zipfile.ZipInfo) -> bytes:
    """The first bytes of one member, inflated straight from the file's bytes (zipfile's
    streaming reader costs ten times more per member, on every file every night)."""
    packed = _member_packed(data, info)
    if info.compress_type == zipfile.ZIP_STORED:
        return packed[:_PROLOG_BYTES]
    if info.compress_type == zipfile.ZIP_DEFLATED:
        return zlib.decompressobj(-zlib.MAX_WBITS).decompress(packed, _PROLOG_BYTES)
    with zipfile.ZipFile(io.BytesIO(data)) as archive, archive.open(info) as part:
        return part.read(_PROLOG_BYTES)


# A worksheet part, wherever workbook.xml.rels puts it (calamine follows the rels, not the
# usual xl/worksheets/sheetN.xml name).
_WORKSHEET_ROOT = re.compile(rb"<(?:\w+:)?worksheet[\s>]")
# A cell with r="B12" first (as Excel, WPS, LibreOffice and openpyxl write it) and content:
# not self-closing, since calamine skips the empty, styled-only <c r=".." s="3"/> cells.
# The literal start lets the regex engine skip from candidate to candidate.
_FILLED_CELL = re.compile(rb'<c r="([A-Z]{1,3})([0-9]{1,7})"[^>]*(?<!/)>')
_CELL_WITHOUT_R_FIRST = re.compile(rb'<c(?:[>/\t\n\r]| (?!r="))')
_PREFIXED_CELL = re.compile(rb":c[\s>/]")  # <x:c ..>: calamine goes by the local name
_CELL_OR_ROW = re.compile(rb"<(?:\w+:)?(row|c)(?=[\s>/])([^>]*)>")
_R_ATTRIBUTE = re.compile(rb'\br="([A-Z]{0,3})([0-9]{0,7})"')
_SCAN_CHUNK = 1 << 20


def _member_chunks(data: bytes, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """One member's bytes, inflated 1 MiB at a time and cut before a '<', so no tag straddles
    two chunks (the zip-bomb check above already bounds the total)."""
    carry = b""
    for piece in _member_pieces(data, info):
        buffer = carry + piece
        cut = buffer.rfind(b"<")
        if cut <= 0:
            cut = len(buffer)
        carry = buffer[cut:]
        yield buffer[:cut]
    if carry:
        yield carry


def _member_pieces(data: bytes, info: zipfile.ZipInfo) -> Iterator[bytes]:
    packed = _member_packed(data, info)
    if info.compress_type == zipfile.ZIP_STORED:
        for offset in range(0, len(packed), _SCAN_CHUNK):
            yield packed[offset : offset + _SCAN_CHUNK]
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        inflate = zlib.decompressobj(-zlib.MAX_WBITS)
        while packed:
            yield inflate.decompress(packed, _SCAN_CHUNK)
            packed = inflate.unconsumed_tail
    else:  # any other method: zipfile's streaming reader
        with zipfile.ZipFile(io.BytesIO(data)) as archive, archive.open(info) as part:
            while piece := part.read(_SCAN_CHUNK):
                yield piece


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + letter - 64
    return number


def _sheet_extent(data: bytes, info: zipfile.ZipInfo) -> tuple[int, int]:
    """(rows, columns) of the grid calamine would build for this worksheet: the farthest row
    and column holding a value. Found from the cells themselves, not <dimension ref=..>:
    calamine ignores that element, and it may be missing or lie. A regex over the part's
    text, no XML parser; a sheet whose cells do not all start with r= (or with a namespace
    prefix) gets a slower pass that also places cells and rows without one."""
    rows = cols = 0
    for chunk in _member_chunks(data, info):
        if _CELL_WITHOUT_R_FIRST.search(chunk) or _PREFIXED_CELL.search(chunk):
            return _sheet_extent_counted(data, info)
        refs = _FILLED_CELL.findall(chunk)
        if refs:
            letters, numbers = zip(*refs, strict=True)
            rows = max(rows, *map(int, set(numbers)))
            cols = max(cols, *map(_column_number, set(letters)))
    return rows, cols


def _sheet_extent_counted(data: bytes, info: zipfile.ZipInfo) -> tuple[int, int]:
    """``_sheet_extent`` for a sheet whose rows or cells leave out r=: a row without one
    follows the previous row, a cell without one the previous cell."""
    rows = cols = row = col = 0
    for chunk in _member_chunks(data, info):
        for match in _CELL_OR_ROW.finditer(chunk):
            tag, attributes = match.groups()
            position = _R_ATTRIBUTE.search(attributes)
            if tag == b"row":
                row = int(position.group(2)) if position and position.group(2) else row + 1
                col = 0
                continue
            if position and position.group(1):
                col = _column_number(position.group(1))
                row = int(position.group(2)) if position.group(2) else row
            else:
                col += 1
            if not attributes.endswith(b"/"):
                rows, cols = max(rows, row), max(cols, col)
    return rows, cols
