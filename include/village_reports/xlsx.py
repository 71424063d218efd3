"""A small, fast .xlsx writer: what the 回执 needs and nothing else.

openpyxl builds a cell object per cell and took 15–30 ms per 回执; a county's night writes
24,000 of them. This writes the SpreadsheetML parts as text instead: inline strings (no
shared-string table), a fixed style sheet, comments with their VML shapes, page setup,
and one zip. About 1 ms per 回执. Text is only ever written as text, never as a formula.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import lru_cache
from typing import Any

from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import column_index_from_string, coordinate_from_string

FONT = "宋体"  # on every office PC that opens a 回执, and it prints Chinese
FOOTER = "第 &P 页，共 &N 页　&A"  # page, pages, sheet: a loose sheet of paper says where it belongs

# Named cell styles, in the order of cellXfs below.
STYLES = (
    "normal",
    "title",
    "verdict_green",
    "verdict_orange",
    "verdict_red",
    "wrap",
    "header",
    "error",
    "warning",
    "label",
    "value",
    "integer",  # numbers in the catalogue's places, thousands separated: 1,137 / 784.5 / 6.52 / 0.725
    "decimal1",
    "decimal2",
    "decimal3",
)
STYLE = {name: index for index, name in enumerate(STYLES)}
NUMBER_STYLES = ("integer", "decimal1", "decimal2", "decimal3")  # by the catalogue's decimal places


def number_style(decimals: int) -> int:
    """The style of a figure kept to ``decimals`` places (a 回执 shows 80.0 万元 as the template does)."""
    return STYLE[NUMBER_STYLES[min(max(decimals, 0), len(NUMBER_STYLES) - 1)]]


_STYLES_XML = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
<numFmts count="3"><numFmt numFmtId="164" formatCode="#,##0.0"/><numFmt numFmtId="165" formatCode="#,##0.00"/>\
<numFmt numFmtId="166" formatCode="#,##0.000"/></numFmts>
<fonts count="6">
<font><sz val="11"/><name val="{FONT}"/><family val="3"/><charset val="134"/></font>
<font><b/><sz val="14"/><name val="{FONT}"/><family val="3"/><charset val="134"/></font>
<font><b/><sz val="16"/><color rgb="FF00A65A"/><name val="{FONT}"/><family val="3"/><charset val="134"/></font>
<font><b/><sz val="16"/><color rgb="FFF39C12"/><name val="{FONT}"/><family val="3"/><charset val="134"/></font>
<font><b/><sz val="16"/><color rgb="FFDD4B39"/><name val="{FONT}"/><family val="3"/><charset val="134"/></font>
<font><b/><sz val="11"/><name val="{FONT}"/><family val="3"/><charset val="134"/></font>
</fonts>
<fills count="5">
<fill><patternFill patternType="none"/></fill>
<fill><patternFill patternType="gray125"/></fill>
<fill><patternFill patternType="solid"><fgColor rgb="FFDDEBF7"/><bgColor indexed="64"/></patternFill></fill>
<fill><patternFill patternType="solid"><fgColor rgb="FFF4CCCC"/><bgColor indexed="64"/></patternFill></fill>
<fill><patternFill patternType="solid"><fgColor rgb="FFFFF2CC"/><bgColor indexed="64"/></patternFill></fill>
</fills>
<borders count="2">
<border><left/><right/><top/><bottom/><diagonal/></border>
<border><left style="thin"><color rgb="FFBFBFBF"/></left><right style="thin"><color rgb="FFBFBFBF"/></right>\
<top style="thin"><color rgb="FFBFBFBF"/></top><bottom style="thin"><color rgb="FFBFBFBF"/></bottom><diagonal/></border>
</borders>
<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>
<cellXfs count="{len(STYLES)}">
<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>
<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>
<xf numFmtId="0" fontId="2" fillId="0" borderId="0" xfId="0" applyFont="1"/>
<xf numFmtId="0" fontId="3" fillId="0" borderId="0" xfId="0" applyFont="1"/>
<xf numFmtId="0" fontId="4" fillId="0" borderId="0" xfId="0" applyFont="1"/>
<xf numFmtId="0" fontId="0" fillId="0" borderId="1" xfId="0" applyBorder="1" applyAlignment="1">\
<alignment vertical="top" wrapText="1"/></xf>
<xf numFmtId="0" fontId="5" fillId="2" borderId="1" xfId="0" applyFont="1" applyFill="1" applyBorder="1" \
applyAlignment="1"><alignment vertical="center" wrapText="1"/></xf>
<xf numFmtId="0" fontId="0" fillId="3" borderId="1" xfId="0" applyFill="1" applyBorder="1" applyAlignment="1">\
<alignment vertical="top" wrapText="1"/></xf>
<xf numFmtId="0" fontId="0" fillId="4" borderId="1" xfId="0" applyFill="1" applyBorder="1" applyAlignment="1">\
<alignment vertical="top" wrapText="1"/></xf>
<xf numFmtId="0" fontId="5" fillId="0" borderId="0" xfId="0" applyFont="1" applyAlignment="1">\
<alignment vertical="top"/></xf>
<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" applyAlignment="1">\
<alignment horizontal="left" vertical="top" wrapText="1"/></xf>
<xf numFmtId="3" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
<xf numFmtId="166" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
</cellXfs>
<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>
</styleSheet>"""

_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_NS_R = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument"

# XML 1.0 cannot hold these control characters; a workbook with them does not open.
_DROP = dict.fromkeys([*range(0, 9), 11, 12, *range(14, 32)])
_ESCAPE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", **_DROP})


def escape(text: str) -> str:
    return text.translate(_ESCAPE)


@dataclass
class Sheet:
    """One worksheet: rows of (value, style name) or plain values, and its layout."""

    name: str
    rows: list[Sequence[Any]] = field(default_factory=list)
    widths: Sequence[float] = ()
    heights: dict[int, float] = field(default_factory=dict)  # 1-based row -> points
    merges: Sequence[str] = ()
    freeze_row: int = 0  # rows above this stay in view (and repeat on every printed page)
    comments: dict[str, str] = field(default_factory=dict)  # "F7" -> text
    landscape: bool = False


_STYLE_ATTRS = ["", *(f' s="{index}"' for index in range(1, len(STYLES)))]


def _cell_xml(ref: str, value: Any, style: int) -> str:
    s = f' s="{style}"' if style else ""
    if isinstance(value, bool):
        return f'<c r="{ref}"{s} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int | float):
        return f'<c r="{ref}"{s}><v>{value!r}</v></c>'
    if isinstance(value, datetime | date | time):
        value = value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return f'<c r="{ref}"{s} t="inlineStr"><is><t xml:space="preserve">{escape(str(value))}</t></is></c>'


_LETTERS = [get_column_letter(i) for i in range(1, 16_385)]  # every column a sheet can have


def _sheet_xml(sheet: Sheet, index: int) -> str:
    parts = [f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet {_NS} {_NS_R}>']
    parts.append('<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>')
    selected = ' tabSelected="1"' if index == 1 else ""
    parts.append(f'<sheetViews><sheetView workbookViewId="0"{selected}>')
    if sheet.freeze_row:
        top = f"A{sheet.freeze_row + 1}"
        parts.append(f'<pane ySplit="{sheet.freeze_row}" topLeftCell="{top}" activePane="bottomLeft" state="frozen"/>')
    parts.append("</sheetView></sheetViews>")
    if sheet.widths:
        parts.append("<cols>")
        parts += [f'<col min="{i}" max="{i}" width="{w}" customWidth="1"/>' for i, w in enumerate(sheet.widths, 1)]
        parts.append("</cols>")
    parts.append("<sheetData>")
    letters, attrs = _LETTERS, _STYLE_ATTRS
    for number, row in enumerate(sheet.rows, 1):
        height = sheet.heights.get(number)
        cells: list[str] = []
        append = cells.append
        for column, item in enumerate(row):
            # the hot loop of a 回执: hundreds of cells a file, so the common kinds inline
            value, style = item if item.__class__ is tuple else (item, 0)
            if value is None or value == "":
                if style:
                    append(f'<c r="{letters[column]}{number}"{attrs[style]}/>')
                continue
            kind = value.__class__
            if kind is str:
                append(
                    f'<c r="{letters[column]}{number}"{attrs[style]} t="inlineStr"><is><t xml:space="preserve">'
                    f"{value.translate(_ESCAPE)}</t></is></c>"
                )
            elif kind is float or kind is int:
                append(f'<c r="{letters[column]}{number}"{attrs[style]}><v>{value!r}</v></c>')
            else:
                append(_cell_xml(f"{letters[column]}{number}", value, style))
        if cells or height:
            row_attrs = f' ht="{height}" customHeight="1"' if height else ""
            parts.append(f'<row r="{number}"{row_attrs}>{"".join(cells)}</row>')
    parts.append("</sheetData>")
    if sheet.merges:
        parts.append(f'<mergeCells count="{len(sheet.merges)}">')
        parts += [f'<mergeCell ref="{m}"/>' for m in sheet.merges]
        parts.append("</mergeCells>")
    parts.append('<printOptions horizontalCentered="1"/>')
    parts.append('<pageMargins left="0.5" right="0.5" top="0.6" bottom="0.6" header="0.3" footer="0.3"/>')
    orientation = "landscape" if sheet.landscape else "portrait"
    parts.append(f'<pageSetup paperSize="9" orientation="{orientation}" fitToWidth="1" fitToHeight="0"/>')
    parts.append(f"<headerFooter><oddFooter>&amp;C{escape(FOOTER)}</oddFooter></headerFooter>")
    if sheet.comments:
        parts.append(f'<legacyDrawing r:id="rId{index}"/>')
    parts.append("</worksheet>")
    return "".join(parts)


def _comments_xml(comments: dict[str, str], author: str) -> str:
    items = "".join(
        f'<comment ref="{ref}" authorId="0"><text><r><t xml:space="preserve">{escape(text)}</t></r></text></comment>'
        for ref, text in comments.items()
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<comments {_NS}>'
        f"<authors><author>{escape(author)}</author></authors><commentList>{items}</commentList></comments>"
    )


def _vml(comments: dict[str, str]) -> str:
    """The shapes Excel and LibreOffice need to show comments (hidden until hovered)."""
    shapes = []
    for n, ref in enumerate(comments, 1):
        letters, row = coordinate_from_string(ref)
        column = column_index_from_string(letters)
        shapes.append(
            f'<v:shape id="_x0000_s{1024 + n}" type="#_x0000_t202" '
            'style="position:absolute;margin-left:59.25pt;margin-top:1.5pt;width:225pt;height:90pt;'
            'z-index:1;visibility:hidden" fillcolor="#ffffe1" o:insetmode="auto">'
            '<v:fill color2="#ffffe1"/><v:shadow on="t" color="black" obscured="t"/>'
            '<v:path o:connecttype="none"/><v:textbox style="mso-direction-alt:auto"><div style="text-align:left"/>'
            '</v:textbox><x:ClientData ObjectType="Note"><x:MoveWithCells/><x:SizeWithCells/>'
            f"<x:Anchor>{column}, 15, {row - 1}, 2, {column + 3}, 15, {row + 4}, 16</x:Anchor>"
            f"<x:AutoFill>False</x:AutoFill><x:Row>{row - 1}</x:Row><x:Column>{column - 1}</x:Column>"
            "</x:ClientData></v:shape>"
        )
    return (
        '<xml xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" '
        'xmlns:x="urn:schemas-microsoft-com:office:excel"><o:shapelayout v:ext="edit">'
        '<o:idmap v:ext="edit" data="1"/></o:shapelayout>'
        '<v:shapetype id="_x0000_t202" coordsize="21600,21600" o:spt="202" path="m,l,21600r21600,l21600,xe">'
        '<v:stroke joinstyle="miter"/><v:path gradientshapeok="t" o:connecttype="rect"/></v:shapetype>'
        f"{''.join(shapes)}</xml>"
    )


def workbook_bytes(sheets: Sequence[Sheet], author: str = "", title_rows: bool = True) -> bytes:
    """The workbook as the bytes of an .xlsx file."""
    overrides = [
        f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.spreadsheetml.sheet.main+xml"/>',
        f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.spreadsheetml.styles+xml"/>',
    ]
    parts: dict[str, str] = {"xl/styles.xml": _STYLES_XML}
    sheet_entries, workbook_rels, names = [], [], []
    for index, sheet in enumerate(sheets, 1):
        parts[f"xl/worksheets/sheet{index}.xml"] = _sheet_xml(sheet, index)
        overrides.append(
            f'<Override PartName="/xl/worksheets/sheet{index}.xml" ContentType="{_CT}.spreadsheetml.worksheet+xml"/>'
        )
        sheet_entries.append(f'<sheet name="{escape(sheet.name)}" sheetId="{index}" r:id="rId{index}"/>')
        workbook_rels.append(
            f'<Relationship Id="rId{index}" Type="{_REL}/worksheet" Target="worksheets/sheet{index}.xml"/>'
        )
        quoted = "'" + escape(sheet.name).replace("'", "''") + "'"
        if title_rows and sheet.freeze_row:
            names.append(
                f'<definedName name="_xlnm.Print_Titles" localSheetId="{index - 1}">'
                f"{quoted}!$1:${sheet.freeze_row}</definedName>"
            )
        width = max(len(sheet.widths), *(len(row) for row in sheet.rows), 1)
        names.append(
            f'<definedName name="_xlnm.Print_Area" localSheetId="{index - 1}">'
            f"{quoted}!$A$1:${_LETTERS[width - 1]}${max(len(sheet.rows), 1)}</definedName>"
        )
        if sheet.comments:
            parts[f"xl/comments{index}.xml"] = _comments_xml(sheet.comments, author)
            parts[f"xl/drawings/vmlDrawing{index}.vml"] = _vml(sheet.comments)
            overrides.append(
                f'<Override PartName="/xl/comments{index}.xml" ContentType="{_CT}.spreadsheetml.comments+xml"/>'
            )
            parts[f"xl/worksheets/_rels/sheet{index}.xml.rels"] = (
                f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{_PKG_REL}">'
                f'<Relationship Id="rId{index}" Type="{_REL}/vmlDrawing" Target="../drawings/vmlDrawing{index}.vml"/>'
                f'<Relationship Id="rIdc{index}" Type="{_REL}/comments" Target="../comments{index}.xml"/>'
                "</Relationships>"
            )
    styles_rel = len(sheets) + 1
    workbook_rels.append(f'<Relationship Id="rId{styles_rel}" Type="{_REL}/styles" Target="styles.xml"/>')
    parts["xl/workbook.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook {_NS} {_NS_R}>'
        f"<bookViews><workbookView/></bookViews><sheets>{''.join(sheet_entries)}</sheets>"
        + f"<definedNames>{''.join(names)}</definedNames>"
        + "</workbook>"
    )
    parts["xl/_rels/workbook.xml.rels"] = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{_PKG_REL}">'
        f"{''.join(workbook_rels)}</Relationships>"
    )
    parts["_rels/.rels"] = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{_PKG_REL}">'
        f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    )
    content_types = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Default Extension="vml" ContentType="{_CT}.vmlDrawing"/>'
        f"{''.join(overrides)}</Types>"
    )
    return zip_parts([("[Content_Types].xml", content_types), *parts.items()])


# ---- the zip container: each part deflated once, the constant ones once per process -------

_DOS_DATE = (1 << 5) | 1  # 1980-01-01: a 回执's bytes depend on its content only
_ZipEntry = tuple[bytes, int, bytes, int]  # name, CRC-32, deflated bytes, size


@lru_cache(maxsize=256)
def _deflated(name: str, body: str) -> _ZipEntry:
    return _deflate(name, body)


def _deflate(name: str, body: str) -> _ZipEntry:
    data = body.encode("utf-8")
    packer = zlib.compressobj(1, zlib.DEFLATED, -15)
    return name.encode("utf-8"), zlib.crc32(data), packer.compress(data) + packer.flush(), len(data)


def zip_parts(parts: Sequence[tuple[str, str]], constant: frozenset[str] = frozenset()) -> bytes:
    """A zip archive of text parts, deflated. zipfile's per-entry bookkeeping cost more
    than the compression of a 回执's small parts; parts named in ``constant`` (or equal to
    an earlier call's) are compressed once per process."""
    chunks, directory, offset = [], [], 0
    for name, body in parts:
        entry = _deflated(name, body) if name in constant or len(body) < 4096 else _deflate(name, body)
        raw_name, crc, packed, size = entry
        header = struct.pack(
            "<4s5H3L2H", b"PK\x03\x04", 20, 0x0800, 8, 0, _DOS_DATE, crc, len(packed), size, len(raw_name), 0
        )
        chunks += [header, raw_name, packed]
        directory.append(
            struct.pack(
                "<4s6H3L5H2L",
                b"PK\x01\x02",
                20,
                20,
                0x0800,
                8,
                0,
                _DOS_DATE,
                crc,
                len(packed),
                size,
                len(raw_name),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + raw_name
        )
        offset += len(header) + len(raw_name) + len(packed)
    central = b"".join(directory)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(directory), len(directory), len(central), offset, 0)
    return b"".join([*chunks, central, end])


# ---- the same font and page setup for the workbooks openpyxl writes (template, totals) ------


def font(**kwargs: Any) -> Any:
    """An openpyxl font in FONT, whatever else it sets (bold, size, colour)."""
    from openpyxl.styles import Font

    return Font(name=FONT, charset=134, family=3, **{"sz": 11, **kwargs})


def use_font(workbook: Any) -> None:
    """Make FONT the workbook's default: openpyxl's is Calibri, which has no Chinese and
    which an office PC swaps for whatever it finds. Call before writing any cell."""
    from copy import copy

    from openpyxl.utils.indexed_list import IndexedList

    default = font()
    workbook._fonts = IndexedList([default])
    workbook._named_styles["Normal"].font = copy(default)


def print_setup(
    ws: Any,
    *,
    landscape: bool = False,
    title_rows: str | None = None,
    title_cols: str | None = None,
    area: str | None = None,
    fit_width: bool = True,
) -> None:
    """A4, one page wide (as many tall as it takes), the title rows on every page, and a
    footer naming the page and sheet. A write-only sheet takes this before its first row."""
    ws.page_setup.paperSize = 9  # A4
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    if fit_width:
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.5
    ws.page_margins.top = ws.page_margins.bottom = 0.6
    ws.page_margins.header = ws.page_margins.footer = 0.3
    ws.oddFooter.center.text = FOOTER
    if title_rows:
        ws.print_title_rows = title_rows
    if title_cols:
        ws.print_title_cols = title_cols
    if area:
        ws.print_area = area
