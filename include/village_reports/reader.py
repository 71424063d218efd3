"""Read one submitted workbook into tidy records and a list of problems.

Tolerant by design: villages re-save the template in WPS or LibreOffice, type numbers as
text ('1,137', '１１３７', '约2000'), insert rows, merge cells and rename sheets. Whatever
cannot be read becomes a Problem with a Chinese message; this module never raises for a
bad file, so one village's file never stops the others.
"""

from __future__ import annotations

import io
import re
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import python_calamine

from village_reports import template as layout
from village_reports.catalogue import Catalogue, Indicator, load_catalogue
from village_reports.model import Grid, ReadResult, Record, Severity
from village_reports.roster import load_roster

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
HEADER_SEARCH_ROWS = 30
# A percentage cell holding at most this is read through openpyxl to see whether it is
# %-formatted (85% is stored as 0.85); a larger number is a number of percent either way,
# and checking every file's formats would open each workbook twice.
PERCENT_FRACTION_MAX = 1.5

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")

CODE_HEADINGS = {"指标代码", "代码", "指标编码"}
VALUE_HEADINGS = {"数值", "数量", "本年数值", "填报数值", "本年数"}
NOTE_HEADINGS = {"说明（备注）", "说明(备注)", "说明", "备注", "上报说明"}
TOTAL_WORDS = ("合计", "总计", "小计")
EXCEL_ERRORS = {"#REF!", "#DIV/0!", "#VALUE!", "#N/A", "#NAME?", "#NUM!", "#NULL!", "#SPILL!", "#CALC!"}

_CODE_PATTERN = re.compile(r"^[A-Z]{2,4}\d{2,3}$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_APPROX_PREFIXES = ("大约", "约", "近", "超过", "逾", "过")
_APPROX_SUFFIXES = ("以上", "左右", "上下", "余", "多")


# ---------------------------------------------------------------------------------------
# Text -> number


class ParsedValue(NamedTuple):
    value: float | None
    problems: tuple[tuple[str, Severity, str], ...] = ()


def _normalise(text: str) -> str:
    """NFKC folds full-width digits and punctuation ('１，１３７' -> '1,137')."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return "".join(text.split())


def _format_number(value: float) -> str:
    return f"{value:.10g}"


def _strip_unit(text: str, unit: str) -> tuple[str, float]:
    """Remove a trailing unit; returns the rest and the factor that converts to ``unit``."""
    unit = _normalise(unit)
    if unit and text.endswith(unit):
        return text[: -len(unit)], 1.0
    if unit.startswith("万") and text.endswith(unit[1:]) and len(unit) > 1:
        return text[: -len(unit) + 1], 1e-4  # '7845000元' in a 万元 cell
    return text, 1.0


def parse_number(raw: Any, indicator: Indicator) -> ParsedValue:
    """One cell's content as a number in the indicator's unit, with what was tolerated."""
    if type(raw) is float or type(raw) is int:  # the common case first: a number cell (bool is an int)
        return ParsedValue(round(float(raw), 10))
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return ParsedValue(None)
    name = f"“{indicator.name}”"
    if isinstance(raw, bool | date | datetime | time | timedelta):
        return ParsedValue(None, (("cell.not_a_number", "error", f"{name}应填数字，实际是“{raw}”。"),))
    if isinstance(raw, int | float):
        return ParsedValue(round(float(raw), 10))

    text = _normalise(str(raw))
    if text.upper() in EXCEL_ERRORS:
        return ParsedValue(
            None,
            (("cell.formula_error", "error", f"{name}的公式出错（{text}），请改正公式或直接填写数字。"),),
        )
    notes: list[tuple[str, Severity, str]] = []
    body = text.replace(",", "")
    body, factor = _strip_unit(body, indicator.unit)
    percent = body.endswith("%")
    if percent:
        body = body[:-1]
    approx = ""
    for prefix in _APPROX_PREFIXES:
        if body.startswith(prefix):
            approx, body = prefix, body[len(prefix) :]
            break
    for suffix in _APPROX_SUFFIXES:
        if body.endswith(suffix):
            approx, body = approx + suffix, body[: -len(suffix)]
            break
    body, unit_factor = _strip_unit(body, indicator.unit)
    factor *= unit_factor
    if body.endswith("万") and not indicator.unit.startswith("万"):
        body, factor = body[:-1], factor * 10_000
    if not _NUMBER.match(body):
        return ParsedValue(
            None,
            (("cell.not_a_number", "error", f"{name}填的是“{raw}”，无法识别为数字，请只填数字。"),),
        )
    if percent and indicator.type != "percentage":
        return ParsedValue(
            None,
            (("cell.not_a_number", "error", f"{name}不是百分比指标，请填写{indicator.unit}数，不要带“%”。"),),
        )
    value = round(float(body) * factor, 10)
    if approx:
        notes.append(
            (
                "cell.approximate",
                "warning",
                f"{name}填的是约数“{raw}”，已按 {_format_number(value)} 读取；请填写准确数字。",
            )
        )
    else:
        notes.append(
            (
                "cell.text_number",
                "info",
                f"{name}以文本形式填写“{raw}”，已按 {_format_number(value)}{indicator.unit} 读取。",
            )
        )
    return ParsedValue(value, tuple(notes))


# ---------------------------------------------------------------------------------------
# File checks before any parser sees the bytes


def _sniff(path: Path, result: ReadResult) -> bytes | None:
    """Cheap checks on the raw file; its bytes, or None when it must not be parsed at all."""
    try:
        size = path.stat().st_size
        data = path.read_bytes() if 0 < size <= MAX_FILE_BYTES else b""
    except OSError as exc:
        result.add("file.unreadable", "error", f"文件无法打开：{exc.strerror or exc}。")
        return None
    if size == 0:
        result.add("file.empty", "error", "文件是空的（0 字节），请重新保存后报送。")
        return None
    if size > MAX_FILE_BYTES:
        result.add(
            "file.too_large",
            "error",
            f"文件有 {size / 1024 / 1024:.1f} MB，超过 {MAX_FILE_BYTES // 1024 // 1024} MB 的上限；"
            "请只保留填报表后重新保存。",
        )
        return None
    if data.startswith(_ZIP_MAGIC):
        return data if _check_zip(data, result) else None
    if data.startswith(_OLE_MAGIC):
        return data  # legacy .xls, or an encrypted .xlsx: calamine tells them apart
    result.add(
        "file.not_a_workbook",
        "error",
        "这个文件不是 Excel 工作簿（可能是改了扩展名的其他文件），请用镇里下发的模板填写后另存为 .xlsx。",
    )
    return None


def _check_zip(data: bytes, result: ReadResult) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
        return _check_zip_members(data, infos, result)
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, struct.error):
        result.add("file.corrupt", "error", "文件已损坏，无法打开；请在电脑上重新打开、保存后再报送。")
        return False


def _check_zip_members(data: bytes, infos: list[zipfile.ZipInfo], result: ReadResult) -> bool:
    unzipped = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos) or 1
    if unzipped > MAX_UNZIPPED_BYTES or unzipped / packed > MAX_COMPRESSION_RATIO:
        result.add(
            "file.zip_bomb",
            "error",
            "文件解压后异常巨大（疑似压缩炸弹），已拒收；请用镇里下发的模板重新填写。",
        )
        return False
    names = {i.filename for i in infos}
    if "xl/workbook.xml" not in names and "content.xml" not in names:
        result.add("file.not_a_workbook", "error", "这个压缩文件不是 Excel 工作簿，请用镇里下发的模板填写。")
        return False
    if any(name.lower().endswith("vbaproject.bin") for name in names):
        result.add(
            "file.macros",
            "error",
            "文件含有宏（.xlsm），为安全起见不予读取；请在 Excel 中“另存为”普通的 .xlsx 工作簿后重新报送。",
        )
        return False
    heads = {i.filename: _member_head(data, i) for i in infos if i.filename.endswith((".xml", ".rels"))}
    if any(b"<!DOCTYPE" in head or b"<!ENTITY" in head for head in heads.values()):
        # Office never declares a DOCTYPE or ENTITY, attacks do; only the prolog can, so the
        # first 4 KiB of each part are enough
        result.add(
            "file.xml_entities",
            "error",
            "文件内部结构异常（含 XML 实体声明），为安全起见不予读取；请用镇里下发的模板重新填写。",
        )
        return False
    for info in infos:
        head = heads.get(info.filename)
        if head is None or not _WORKSHEET_ROOT.search(head):
            continue
        rows, cols = _sheet_extent(data, info)
        if rows > MAX_SHEET_ROWS or rows * cols > MAX_SHEET_CELLS:
            result.add(
                "file.too_large_area",
                "error",
                f"工作表的内容一直延伸到 {cell_ref(rows - 1, cols - 1)}（{rows} 行 × {cols} 列），远超填报表的范围，"
                "无法读取，已拒收；请删除表格下方和右侧多余的内容（选中多余的行、列后删除），保存后重新报送。",
            )
            return False
    return True


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


# ---------------------------------------------------------------------------------------
# Locating the table


def cell_ref(row: int, col: int) -> str:
    """0-based grid position -> 'F12'."""
    letters = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return f"{letters}{row + 1}"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if type(value) is str:  # the common case, checked first: this runs for every cell
        return value.strip()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _label(value: Any) -> str:
    return _normalise(_text(value)).rstrip(":")


@dataclass
class _Table:
    sheet: str
    grid: list[list[Any]]
    header_row: int
    code_col: int
    value_col: int
    note_col: int | None


def _find_header(grid: list[list[Any]]) -> tuple[int, int, int, int | None] | None:
    for r, row in enumerate(grid[:HEADER_SEARCH_ROWS]):
        labels = [_label(v) for v in row]
        code_col = next((c for c, t in enumerate(labels) if t in CODE_HEADINGS), None)
        value_col = next((c for c, t in enumerate(labels) if t in VALUE_HEADINGS), None)
        if code_col is not None and value_col is not None:
            note_col = next((c for c, t in enumerate(labels) if t in {_normalise(h) for h in NOTE_HEADINGS}), None)
            return r, code_col, value_col, note_col
    return None


def _sheets(workbook: python_calamine.CalamineWorkbook) -> Iterator[tuple[str, list[list[Any]]]]:
    """Worksheets, visible ones first (a clerk's renamed copy beats a hidden leftover)."""
    metas = sorted(workbook.sheets_metadata, key=lambda m: str(m.visible) != "SheetVisibleEnum.Visible")
    for meta in metas:
        if str(meta.typ) != "SheetTypeEnum.WorkSheet":
            continue
        sheet = workbook.get_sheet_by_name(meta.name)
        grid = [list(row) for row in sheet.to_python(skip_empty_area=False)]
        yield meta.name, grid


def _locate_table(workbook: python_calamine.CalamineWorkbook) -> _Table | None:
    # Merged cells are not filled in: a code merged over an inserted row would read twice.
    for name, grid in _sheets(workbook):
        found = _find_header(grid)
        if found:
            header_row, code_col, value_col, note_col = found
            return _Table(name, grid, header_row, code_col, value_col, note_col)
    return None


# ---------------------------------------------------------------------------------------
# Header block: unit, year, template version


def _header_values(table: _Table) -> dict[str, str]:
    """Label -> value from the rows above the table ('单位代码：' | 'MT01', or in one cell)."""
    wanted = {layout.LABEL_UNIT_NAME, layout.LABEL_UNIT_CODE, layout.LABEL_YEAR, layout.LABEL_VERSION}
    found: dict[str, str] = {}
    for row in table.grid[: table.header_row]:
        for c, value in enumerate(row):
            text = _normalise(_text(value))
            label, _, inline = text.partition(":")
            if label not in wanted or label in found:
                continue
            if inline:
                found[label] = inline
                continue
            following = next((_text(v) for v in row[c + 1 :] if _text(v)), "")
            if following:
                found[label] = following
    return found


def _read_header(
    table: _Table, result: ReadResult, catalogue: Catalogue, file_name: str, default_year: int | None
) -> None:
    header = _header_values(table)
    result.unit_name = header.get(layout.LABEL_UNIT_NAME)
    code = _normalise(header.get(layout.LABEL_UNIT_CODE, "")).upper() or None
    if code is None:
        guess = re.match(r"^([A-Z]{2}\d{2})[_\-\s]", unicodedata.normalize("NFKC", file_name).upper())
        if guess:
            code = guess.group(1)
            result.add(
                "meta.unit_code_missing",
                "warning",
                f"表头缺少单位代码，已按文件名认定为 {code}；请使用镇里下发的模板。",
                sheet=table.sheet,
            )
        else:
            result.add(
                "meta.unit_code_missing", "error", "表头缺少单位代码，无法确认是哪个村（居）的报表。", sheet=table.sheet
            )
    result.unit_code = code

    year_text = _normalise(header.get(layout.LABEL_YEAR, "")).removesuffix("年")
    if year_text.isdigit():
        result.year = int(year_text)
    elif default_year is not None:
        result.year = default_year
        result.add("meta.year_missing", "warning", f"表头缺少报告年度，已按 {default_year} 年读取。", sheet=table.sheet)
    else:
        result.add("meta.year_missing", "error", "表头缺少报告年度，无法确认是哪一年的报表。", sheet=table.sheet)

    version = header.get(layout.LABEL_VERSION)
    result.template_version = version
    # the version follows the report year: a 2022 report is filled in the 2022.1 template
    current = f"（{catalogue.template_version_for(result.year)}版）" if result.year else ""
    status = catalogue.template_status(version, result.year) if version is not None else None
    if version is None:
        result.add(
            "template.version_missing",
            "warning",
            f"表中没有模板版本号，可能不是镇里下发的模板；请下载最新模板{current}填写。",
            sheet=table.sheet,
        )
    elif status == "old":
        result.add(
            "template.version_old",
            "warning",
            f"使用的是旧版模板（{version}版），已尽量读取；下次请使用最新模板{current}。",
            sheet=table.sheet,
        )
    elif status == "unknown":
        result.add(
            "template.version_unknown",
            "warning",
            f"模板版本“{version}”无法识别；请使用镇里下发的最新模板{current}。",
            sheet=table.sheet,
        )


# ---------------------------------------------------------------------------------------
# Rows


def _unit_reporter(unit_code: str | None) -> str | None:
    unit = load_roster().get(unit_code or "")
    return unit.reporter if unit else None


def _read_rows(table: _Table, result: ReadResult, catalogue: Catalogue) -> list[str]:
    """Records and problems for the table's rows; returns the cells of percentage indicators
    that hold a small number (0.85), which may be a %-formatted cell showing 85%."""
    percent_suspects: list[str] = []
    reporter = _unit_reporter(result.unit_code)
    seen: dict[str, str] = {}
    for r in range(table.header_row + 1, len(table.grid)):
        row = table.grid[r]
        code_raw = row[table.code_col] if table.code_col < len(row) else ""
        value_raw = row[table.value_col] if table.value_col < len(row) else ""
        code = _normalise(_text(code_raw)).upper()
        value_ref = cell_ref(r, table.value_col)
        where = {"sheet": table.sheet, "cell": value_ref}
        if not code:
            row_text = "".join(_text(v) for v in row)
            if any(word in row_text for word in TOTAL_WORDS):
                result.add("row.total_ignored", "info", f"第{r + 1}行是合计行，镇里自行汇总，此行不读取。", **where)
            elif _text(value_raw):
                result.add(
                    "row.value_without_code",
                    "warning",
                    f"第{r + 1}行填了数值“{_text(value_raw)}”但没有指标代码，未读取；请不要插入新行。",
                    **where,
                )
            continue
        if code not in catalogue:
            if _CODE_PATTERN.match(code):
                result.add(
                    "row.unknown_code", "warning", f"第{r + 1}行的指标代码“{code}”不在指标目录中，未读取。", **where
                )
            elif _text(value_raw):
                result.add(
                    "row.value_without_code",
                    "warning",
                    f"第{r + 1}行“{_text(code_raw)}”不是指标代码，该行数值未读取。",
                    **where,
                )
            continue
        indicator = catalogue[code]
        if not indicator.is_filled_in or (reporter is not None and indicator.reporter != reporter):
            result.add(
                "row.not_for_this_unit",
                "warning",
                f"指标“{indicator.name}”（{code}）不由本单位填报，该行未读取。",
                indicator_code=code,
                **where,
            )
            continue
        if code in seen:
            result.add(
                "row.duplicate_code",
                "error",
                f"指标“{indicator.name}”（{code}）在{seen[code]}和{value_ref}出现了两次，请删除重复的一行。",
                indicator_code=code,
                **where,
            )
            continue
        seen[code] = value_ref
        parsed = parse_number(value_raw, indicator)
        if (
            indicator.type == "percentage"
            and (type(value_raw) is float or type(value_raw) is int)
            and 0 < abs(value_raw) <= PERCENT_FRACTION_MAX
        ):
            percent_suspects.append(value_ref)
        for problem_code, severity, message in parsed.problems:
            result.add(problem_code, severity, message, indicator_code=code, **where)
        note = _text(row[table.note_col]) if table.note_col is not None and table.note_col < len(row) else ""
        result.records.append(
            Record(
                unit_code=result.unit_code,
                year=result.year,
                indicator_code=code,
                value=parsed.value,
                raw_text=_text(value_raw),
                sheet=table.sheet,
                cell=value_ref,
                note=note,
            )
        )
    expected = catalogue.for_reporter(reporter) if reporter else ()
    for indicator in expected:
        if indicator.code not in seen:
            result.add(
                "row.missing_indicator",
                "warning",
                f"表中找不到指标“{indicator.name}”（{indicator.code}）这一行，视为未报告；请不要删除指标行。",
                sheet=table.sheet,
                indicator_code=indicator.code,
            )
    return percent_suspects


def _is_percent_format(number_format: str) -> bool:
    """'0%', '0.0%', '[Red]0.00%': a % outside quoted text, escapes and [..] sections."""
    bare = re.sub(r'"[^"]*"|\\.|\[[^\]]*\]', "", number_format)
    return "%" in bare


def _percent_formatted(path: Path, sheet: str, refs: list[str]) -> set[str]:
    """Which of ``refs`` have a percent number format (calamine does not read formats)."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True)
        try:
            worksheet = workbook[sheet]
            return {ref for ref in refs if _is_percent_format(str(worksheet[ref].number_format or ""))}
        finally:
            workbook.close()
    except Exception:  # ruff: ignore[blind-except] - best effort; the value stays as calamine read it
        return set()


def _read_percent_formats(path: Path, result: ReadResult, catalogue: Catalogue, suspects: list[str]) -> None:
    """A percentage typed as 85% is stored as 0.85 in a %-formatted cell; the catalogue's
    percentages are numbers of percent (72.5 means 72.5%), so read it as 85. openpyxl opens
    the file only when a percentage cell holds such a small number, a few files a night."""
    if not suspects or result.sheet is None or path.suffix.lower() not in (".xlsx", ".xlsm"):
        return
    formatted = _percent_formatted(path, result.sheet, suspects)
    for index, record in enumerate(result.records):
        if record.cell not in formatted or record.value is None:
            continue
        value = round(record.value * 100, 10)
        shown = f"{_format_number(value)}%"
        result.records[index] = record._replace(value=value, raw_text=shown)
        name = catalogue[record.indicator_code].name
        result.add(
            "cell.percent_format",
            "info",
            f"“{name}”是百分比格式的单元格（存为 {_format_number(record.value)}，显示为 {shown}），已按 {shown} 读取。",
            sheet=result.sheet,
            cell=record.cell,
            indicator_code=record.indicator_code,
        )


def _blank_cell_contents(path: Path, sheet: str, refs: set[str]) -> dict[str, tuple[str, str]]:
    """What calamine shows as blank in ``refs``: ref -> (formula, cached value) where either is set.

    calamine reads an error value (#REF!) and a never-calculated formula as an empty cell;
    openpyxl tells them apart. Only opened when an .xlsx has blank value cells.
    """
    from openpyxl import load_workbook

    found: dict[str, tuple[str, str]] = {}
    try:
        formulas = load_workbook(path, read_only=True, data_only=False)
        cached = load_workbook(path, read_only=True, data_only=True)
        try:
            for ref in refs:
                formula = formulas[sheet][ref].value
                value = cached[sheet][ref].value
                if formula is not None or value is not None:
                    found[ref] = (str(formula or ""), str(value or ""))
        finally:
            formulas.close()
            cached.close()
    except Exception:  # ruff: ignore[blind-except] - a best-effort explanation; the blank is already recorded
        return {}
    return found


def _explain_blank_cells(path: Path, result: ReadResult, catalogue: Catalogue) -> None:
    blanks = {r.cell: r for r in result.records if r.value is None}
    if not blanks or result.sheet is None or path.suffix.lower() not in (".xlsx", ".xlsm"):
        return
    contents = _blank_cell_contents(path, result.sheet, set(blanks))
    for ref, (formula, cached) in sorted(contents.items()):
        record = blanks[ref]
        where = {"sheet": result.sheet, "cell": ref, "indicator_code": record.indicator_code}
        name = f"“{catalogue[record.indicator_code].name}”"
        if cached.upper() in EXCEL_ERRORS:
            result.add(
                "cell.formula_error", "error", f"{name}的公式出错（{cached}），请改正公式或直接填写数字。", **where
            )
        elif formula.startswith("="):
            result.add(
                "cell.formula_not_calculated",
                "error",
                f"{name}是没有计算结果的公式（{formula}），请在 Excel 或 WPS 中打开、确认数值后重新保存。",
                **where,
            )
        index = result.records.index(record)
        result.records[index] = record._replace(raw_text=cached or formula)


# ---------------------------------------------------------------------------------------


def read_workbook(path: Path | str, catalogue: Catalogue | None = None, default_year: int | None = None) -> ReadResult:
    """Read one submitted workbook. Never raises for a bad file: problems say what went wrong."""
    return read_workbook_and_grid(path, catalogue, default_year)[0]


def read_workbook_and_grid(
    path: Path | str, catalogue: Catalogue | None = None, default_year: int | None = None
) -> tuple[ReadResult, Grid | None]:
    """``read_workbook``, and the cells of the sheet it read (None when it found no
    table): the 回执 shows them to the clerk, and reading the file again costs more than
    keeping them."""
    path = Path(path)
    catalogue = catalogue or load_catalogue()
    result = ReadResult(source=str(path))
    if _sniff(path, result) is None:
        return result, None
    try:
        # by path: calamine picks its parser from the extension, which is how it tells an
        # encrypted .xlsx (PasswordError) from a legacy .xls
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
    except python_calamine.PasswordError:
        result.add("file.password_protected", "error", "文件设置了打开密码，无法读取；请取消密码后重新报送。")
        return result, None
    except Exception as exc:  # ruff: ignore[blind-except] - any parser failure is this file's problem only
        result.add("file.unreadable", "error", f"文件无法读取（{type(exc).__name__}），请重新保存为 .xlsx 后报送。")
        return result, None
    try:
        table = _locate_table(workbook)
    except Exception as exc:  # ruff: ignore[blind-except]
        result.add("file.unreadable", "error", f"文件内容无法读取（{type(exc).__name__}），请重新保存为 .xlsx 后报送。")
        return result, None
    finally:
        workbook.close()
    if table is None:
        result.add(
            "sheet.table_not_found",
            "error",
            "找不到填报表：没有同时含“指标代码”和“数值”表头的工作表。请使用镇里下发的模板，不要改动表头。",
        )
        return result, None
    result.sheet = table.sheet
    _read_header(table, result, catalogue, path.name, default_year)
    percent_suspects = _read_rows(table, result, catalogue)
    _read_percent_formats(path, result, catalogue, percent_suspects)
    _explain_blank_cells(path, result, catalogue)
    return result, table.grid


def read_grid(path: Path, sheet: str) -> Grid:
    """One sheet's cells from A1, as calamine reads them (for the marked-up copy in feedback)."""
    workbook = python_calamine.CalamineWorkbook.from_path(str(path))
    try:
        return [list(row) for row in workbook.get_sheet_by_name(sheet).to_python(skip_empty_area=False)]
    finally:
        workbook.close()
