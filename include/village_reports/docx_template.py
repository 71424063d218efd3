"""The annual report's Word template (工作总结模板): built here with python-docx, filled by docxtpl.

The office edits its own copy in WPS or Word (fonts, margins, wording around the figures,
the order of the blocks) and points ``VILLAGE_REPORTS_REPORT_TEMPLATE`` at it; without
that setting the report is filled from the default built here, which follows the usual
government layout (GB/T 9704): A4, margins 37/35/28/26 mm, title in 方正小标宋简体 二号,
body in 仿宋_GB2312 三号 on a fixed 28.95 pt line (22 lines a page), level-1 headings in
黑体 三号, level-2 in 楷体_GB2312 三号, and the page number centred at the foot.

The placeholders (docxtpl's Jinja tags, ``report.docx_context`` fills them) are listed
in ``PLACEHOLDERS`` and in docs/annual_report_template.md, for the office.

Chinese fonts must be named as East Asian fonts: python-docx's ``font.name`` sets only
``w:ascii``/``w:hAnsi``, and a theme attribute (``w:eastAsiaTheme``) beside them wins,
so Chinese text would print in the theme's font. ``set_fonts`` sets all four names and
removes every theme attribute.
"""

from __future__ import annotations

import io
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.section import WD_SECTION_START
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from docx.styles.style import BaseStyle
from docx.table import Table
from docx.text.paragraph import Paragraph

from village_reports import settings
from village_reports.files import replacing

if TYPE_CHECKING:
    from docxtpl import DocxTemplate

    from village_reports.report import AnnualReport

TEMPLATE_FILE = "annual_report_template.docx"

FONT_TITLE = "方正小标宋简体"
FONT_BODY = "仿宋_GB2312"
FONT_HEADING_1 = "黑体"
FONT_HEADING_2 = "楷体_GB2312"
FONT_PAGE_NUMBER = "宋体"  # GB/T 9704: 4号半角宋体阿拉伯数字

SIZE_TITLE = Pt(22)  # 二号
SIZE_BODY = Pt(16)  # 三号
SIZE_TABLE = Pt(12)  # 小四: a table of four columns on 156 mm
SIZE_APPENDIX_TABLE = Pt(10.5)  # 五号: the appendix lists every indicator
SIZE_PAGE_NUMBER = Pt(14)  # 四号
LINE = Pt(28.95)  # 22 lines fill the 225 mm between the top and bottom margins

STYLE_TITLE, STYLE_LABEL, STYLE_H1, STYLE_H2 = "Title", "审核状态", "Heading 1", "Heading 2"
STYLE_TABLE_TEXT, STYLE_CAPTION, STYLE_FIGURE = "表格文字", "图题", "图片"
DRAFT_RED = RGBColor(0xC0, 0x00, 0x00)

# What the template may use (report.docx_context fills each); docs/annual_report_template.md
# tells the office the same in Chinese.
PLACEHOLDERS = {
    "title": "标题：<镇>2021年度工作总结",
    "author": "署名：<县><镇>人民政府",
    "signoff_label": "草稿（数据截至 …）或 定稿（审核人 于 … 审核通过）",
    "is_draft": "尚未审核定稿时为真（草稿用红字）",
    "intro": "导语",
    "year, previous_year": "本年度、上年度",
    "sections": "七个板块，每个有 number、name、heading、text、rows（name、current、previous、change）",
    "charts": "图：charts.trends、charts.shares、charts.completeness，各有 image 和 caption；没有的图为空",
    "charts_number, status_number": "“主要指标走势”和“报送情况”两个一级标题的序号",
    "status": "报送情况的各段文字",
    "sources": "附件表格：code、name、value、reported、source",
    "sources_file": "逐个单元格的来源清单文件名",
}


def set_fonts(element: object, name: str) -> None:
    """Name ``name`` as the East Asian, Latin and complex-script font of a style's or a
    run's properties, with every theme attribute removed (they would override it)."""
    rpr = element.get_or_add_rPr()  # type: ignore[attr-defined]
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for attribute in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attribute), None)
    for attribute in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attribute), name)


def _clear_theme_fonts(document: DocumentObject, fallback: str) -> None:
    """No theme font left anywhere in the styles (Word's built-in ones included): a style
    that named one now names ``fallback``."""
    for fonts in document.styles.element.iter(qn("w:rFonts")):
        themed = [a for a in fonts.attrib if a.endswith("Theme") or a == qn("w:cstheme")]
        for attribute in themed:
            del fonts.attrib[attribute]
        if themed:
            for attribute in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
                fonts.set(qn(attribute), fonts.get(qn(attribute)) or fallback)


def _defaults(document: DocumentObject) -> None:
    """The document defaults (docDefaults): body font and size, Chinese as the East Asian language."""
    defaults = document.styles.element.find(qn("w:docDefaults"))
    rpr = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
    fonts = rpr.find(qn("w:rFonts"))
    fonts.attrib.clear()
    for attribute in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attribute), FONT_BODY)
    for tag in ("w:sz", "w:szCs"):
        rpr.find(qn(tag)).set(qn("w:val"), str(int(SIZE_BODY.pt * 2)))
    rpr.find(qn("w:lang")).set(qn("w:eastAsia"), "zh-CN")
    spacing = defaults.find(qn("w:pPrDefault")).find(qn("w:pPr")).find(qn("w:spacing"))
    spacing.attrib.clear()
    spacing.set(qn("w:after"), "0")


def _paragraph_style(
    document: DocumentObject,
    name: str,
    font: str,
    size: Pt,
    *,
    align: int = WD_ALIGN_PARAGRAPH.JUSTIFY,
    indent: bool = False,
    exact_line: bool = True,
    bold: bool = False,
) -> BaseStyle:
    """A paragraph style (a built-in one reset, or a new one) with the layout given."""
    try:
        style = document.styles[name]
    except KeyError:
        style = document.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
        style.base_style = document.styles["Normal"]
    style.hidden = style.unhide_when_used = False
    style.quick_style = True
    element = style.element
    for tag in ("w:pPr", "w:rPr"):  # a built-in style's own borders, colours and spacing go
        old = element.find(qn(tag))
        if old is not None:
            element.remove(old)
    set_fonts(element, font)
    style.font.size = size
    style.font.bold = bold
    style.font.italic = False
    style.font.color.rgb = RGBColor(0, 0, 0)
    layout = style.paragraph_format
    layout.alignment = align
    layout.space_before = layout.space_after = Pt(0)
    layout.first_line_indent = Pt(size.pt * 2) if indent else Pt(0)
    if exact_line:
        layout.line_spacing_rule, layout.line_spacing = WD_LINE_SPACING.EXACTLY, LINE
    else:
        layout.line_spacing_rule = WD_LINE_SPACING.SINGLE
    layout.widow_control = True
    return style


def _styles(document: DocumentObject) -> None:
    _defaults(document)
    _paragraph_style(document, "Normal", FONT_BODY, SIZE_BODY, indent=True)
    _paragraph_style(document, STYLE_TITLE, FONT_TITLE, SIZE_TITLE, align=WD_ALIGN_PARAGRAPH.CENTER, exact_line=False)
    document.styles[STYLE_TITLE].paragraph_format.space_after = Pt(14)
    _paragraph_style(document, STYLE_LABEL, FONT_HEADING_2, SIZE_BODY, align=WD_ALIGN_PARAGRAPH.CENTER)
    for name, font in ((STYLE_H1, FONT_HEADING_1), (STYLE_H2, FONT_HEADING_2)):
        heading = _paragraph_style(document, name, font, SIZE_BODY, indent=True)
        heading.paragraph_format.keep_with_next = True  # never a heading alone at a page's foot
    # the outline levels Word and WPS show in their navigation pane
    for name, level in ((STYLE_H1, 0), (STYLE_H2, 1)):
        outline = OxmlElement("w:outlineLvl")
        outline.set(qn("w:val"), str(level))
        document.styles[name].element.get_or_add_pPr().append(outline)
    table_text = _paragraph_style(
        document, STYLE_TABLE_TEXT, FONT_BODY, SIZE_TABLE, align=WD_ALIGN_PARAGRAPH.CENTER, exact_line=False
    )
    table_text.paragraph_format.keep_together = True
    _paragraph_style(document, STYLE_CAPTION, FONT_HEADING_2, SIZE_TABLE, align=WD_ALIGN_PARAGRAPH.CENTER)
    figure = _paragraph_style(
        document, STYLE_FIGURE, FONT_BODY, SIZE_BODY, align=WD_ALIGN_PARAGRAPH.CENTER, exact_line=False
    )
    figure.paragraph_format.keep_with_next = True  # the picture stays with its caption
    _paragraph_style(
        document, "Footer", FONT_PAGE_NUMBER, SIZE_PAGE_NUMBER, align=WD_ALIGN_PARAGRAPH.CENTER, exact_line=False
    )
    _clear_theme_fonts(document, FONT_BODY)


def _page(document: DocumentObject) -> None:
    """A4 with GB/T 9704's margins, and the page number at the foot: — 1 —."""
    section = document.sections[0]
    section.start_type = WD_SECTION_START.NEW_PAGE
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    section.header_distance, section.footer_distance = Mm(15), Mm(25)
    footer = section.footer.paragraphs[0]
    footer.style = document.styles["Footer"]
    footer.add_run("— ")
    _page_field(footer)
    footer.add_run(" —")


def _page_field(paragraph: Paragraph) -> None:
    """The PAGE field, as Word writes it (begin, instruction, separate, a shown number, end)."""
    for kind, text in (("begin", None), (None, " PAGE "), ("separate", None), (None, "1"), ("end", None)):
        run = paragraph.add_run()
        if kind:
            char = OxmlElement("w:fldChar")
            char.set(qn("w:fldCharType"), kind)
            run._r.append(char)
        elif text == " PAGE ":
            instruction = OxmlElement("w:instrText")
            instruction.set(qn("xml:space"), "preserve")
            instruction.text = text
            run._r.append(instruction)
        else:
            run.text = text


def _row_flags(row: object, *, header: bool = False) -> None:
    """A row never split across pages; a header row repeated on each page the table takes."""
    trpr = row._tr.get_or_add_trPr()  # type: ignore[attr-defined]
    flags = ["w:cantSplit", "w:tblHeader"] if header else ["w:cantSplit"]
    for flag in flags:
        trpr.append(OxmlElement(flag))


def _table(document: DocumentObject, headings: list[str], cells: list[str], loop: str, widths: list[float]) -> Table:
    """A bordered table: its heading row, then one row repeated by docxtpl (``{%tr for … %}``)."""
    table = document.add_table(rows=4, cols=len(headings))
    table.style = document.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    texts = [headings, [f"{{%tr {loop} %}}"], cells, ["{%tr endfor %}"]]
    for row, row_texts in zip(table.rows, texts, strict=True):
        for cell, text in zip(row.cells, row_texts, strict=False):
            cell.paragraphs[0].style = document.styles[STYLE_TABLE_TEXT]
            cell.paragraphs[0].add_run(text)
    _widths(table, widths)
    for row in table.rows:
        for cell in row.cells:
            cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
    for cell in table.rows[0].cells:
        cell.paragraphs[0].runs[0].bold = True
    _row_flags(table.rows[0], header=True)
    _row_flags(table.rows[2])
    return table


def _widths(table: Table, widths: list[float]) -> None:
    """Column widths in mm, in the grid and in each cell: LibreOffice reads the grid, Word the cells."""
    for column, width in zip(table.columns, widths, strict=True):
        column.width = Mm(width)
        for cell in column.cells:
            cell.width = Mm(width)
    tblpr = table._tbl.tblPr
    size = tblpr.find(qn("w:tblW"))  # python-docx writes one (auto); autofit off makes the layout fixed
    size.set(qn("w:type"), "dxa")
    size.set(qn("w:w"), str(round(sum(widths) / 25.4 * 1440)))


def _keep_rows_together(table: Table) -> None:
    """A short table on one page: every row's text kept with the next row."""
    for row in table.rows:
        for cell in row.cells:
            for paragraph in cell.paragraphs:
                paragraph.paragraph_format.keep_with_next = True


def _figure(document: DocumentObject, key: str) -> None:
    """One chart and its caption, both left out when the chart was not drawn."""
    document.add_paragraph(f"{{%p if charts.{key} %}}")
    document.add_paragraph(f"{{{{ charts.{key}.image }}}}", style=STYLE_FIGURE)
    document.add_paragraph(f"{{{{ charts.{key}.caption }}}}", style=STYLE_CAPTION)
    document.add_paragraph("{%p endif %}")


def _body(document: DocumentObject) -> None:
    add = document.add_paragraph
    add("{{ title }}", style=STYLE_TITLE)
    add("{{ author }}", style=STYLE_LABEL)
    # under the title: 草稿 in red until the year is signed off, then 定稿 with the approver
    add("{%p if is_draft %}")
    add(style=STYLE_LABEL).add_run("{{ signoff_label }}").font.color.rgb = DRAFT_RED
    add("{%p elif signoff_label %}")
    add("{{ signoff_label }}", style=STYLE_LABEL)
    add("{%p endif %}")
    add("{{ intro }}")
    add("{%p for section in sections %}")
    add("{{ section.number }}、{{ section.name }}", style=STYLE_H1)
    add("（一）{{ section.heading }}", style=STYLE_H2)
    add("{{ section.text }}")
    add("（二）主要指标", style=STYLE_H2)
    key_table = _table(
        document,
        ["指标", "{{ year }}年", "{{ previous_year }}年", "比上年"],
        ["{{ row.name }}", "{{ row.current }}", "{{ row.previous }}", "{{ row.change }}"],
        "for row in section.rows",
        [50, 27, 27, 52],
    )
    key_table.rows[2].cells[0].paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.LEFT
    _keep_rows_together(key_table)
    # the last row keeps with this short gap, which keeps with nothing: a table kept whole
    # never drags the next section's heading and its first paragraph onto the next page
    gap = add()
    gap.paragraph_format.line_spacing_rule, gap.paragraph_format.line_spacing = WD_LINE_SPACING.EXACTLY, Pt(10)
    add("{%p endfor %}")
    add("{%p if charts.trends or charts.shares %}")
    add("{{ charts_number }}、主要指标走势", style=STYLE_H1)
    add("{%p endif %}")
    _figure(document, "trends")
    _figure(document, "shares")
    add("{{ status_number }}、报送情况", style=STYLE_H1)
    add("{%p for line in status %}")
    add("{{ line }}")
    add("{%p endfor %}")
    _figure(document, "completeness")
    add("附件：数据来源说明")
    _appendix(document)


def _appendix(document: DocumentObject) -> None:
    """The appendix on a page of its own: which units and which cells each total draws on."""
    marker = document.add_paragraph(style=STYLE_H1)
    marker.paragraph_format.first_line_indent = Pt(0)
    marker.paragraph_format.page_break_before = True
    marker.add_run("附件")
    document.add_paragraph("数据来源说明", style=STYLE_TITLE)
    note = document.add_paragraph(
        "下表列出每项指标的填报单位及其在填报表中的位置；逐个单位、逐个单元格的清单见 {{ sources_file }}。"
    )
    note.alignment = WD_ALIGN_PARAGRAPH.LEFT  # justified, the long file name would spread the line apart
    table = _table(
        document,
        ["代码", "指标", "{{ year }}年数值", "已报/应报", "来源（单位、填报表位置）"],
        ["{{ s.code }}", "{{ s.name }}", "{{ s.value }}", "{{ s.reported }}", "{{ s.source }}"],
        "for s in sources",
        [18, 48, 24, 17, 49],
    )
    for cell in table.rows[2].cells:
        cell.paragraphs[0].style = document.styles[STYLE_TABLE_TEXT]
        cell.paragraphs[0].runs[0].font.size = SIZE_APPENDIX_TABLE
    for cell in table.rows[0].cells:
        cell.paragraphs[0].runs[0].font.size = SIZE_APPENDIX_TABLE
    for index in (1, 4):
        table.rows[2].cells[index].paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.LEFT


def build_template() -> DocumentObject:
    """The default template, in memory."""
    document = Document()
    _styles(document)
    _page(document)
    body = document.element.body
    for paragraph in list(body.iterchildren(qn("w:p"))):
        body.remove(paragraph)  # python-docx's empty first paragraph
    _body(document)
    properties = document.core_properties
    properties.title, properties.author, properties.comments = "年度工作总结", "", ""
    properties.language = "zh-CN"
    return document


def template_bytes() -> bytes:
    buffer = io.BytesIO()
    build_template().save(buffer)
    return buffer.getvalue()


def write_template(folder: Path) -> Path:
    """The default template as a file the office can open, copy and edit: ``folder/annual_report_template.docx``."""
    path = folder / TEMPLATE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as partial:
        build_template().save(str(partial))
    return path


# The charts write_outputs draws before the report (folder/charts/<name>.png), in the order
# the report shows them, with their captions; a chart not drawn is left out.
CHARTS = (("trends", "主要指标历年走势"), ("shares", "主要指标各村（居）构成"), ("completeness", "各单位报送完整情况"))
CHART_WIDTH = Mm(150)  # the text is 156 mm wide


def _charts(template: DocxTemplate, charts_dir: Path) -> dict[str, dict[str, Any] | None]:
    from docxtpl import InlineImage

    found: dict[str, dict[str, Any] | None] = {}
    number = 0
    for name, caption in CHARTS:
        path = charts_dir / f"{name}.png"
        if path.is_file():
            number += 1
            found[name] = {
                "image": InlineImage(template, str(path), width=CHART_WIDTH),
                "caption": f"图{number}　{caption}",
            }
        else:
            found[name] = None
    return found


def docx_context(report: AnnualReport, template: DocxTemplate, charts_dir: Path) -> dict[str, Any]:
    """What the template's placeholders (``PLACEHOLDERS``) are filled with."""
    from village_reports.report import SOURCES_FILE, chinese_numeral

    charts = _charts(template, charts_dir)
    next_number = len(report.sections) + 1
    has_trends = bool(charts["trends"] or charts["shares"])
    return {
        "title": report.title,
        "author": report.author,
        "signoff_label": report.signoff_label,
        "is_draft": report.is_draft,
        "intro": report.intro,
        "year": report.year,
        "previous_year": report.year - 1,
        "sections": [asdict(section) for section in report.sections],
        "charts": charts,
        "charts_number": chinese_numeral(next_number),
        "status_number": chinese_numeral(next_number + has_trends),
        "status": list(report.status),
        "sources": [asdict(row) for row in report.sources],
        "sources_file": SOURCES_FILE,
    }


def _template_source() -> Path | io.BytesIO:
    """The office's template (``VILLAGE_REPORTS_REPORT_TEMPLATE``), or the default, built now."""
    edited = settings.report_template()
    if edited is None:
        return io.BytesIO(template_bytes())
    if not edited.is_file():
        raise FileNotFoundError(f"VILLAGE_REPORTS_REPORT_TEMPLATE 指向的年度报告模板不存在：{edited}")
    return edited


def write_report_docx(path: Path, report: AnnualReport, charts_dir: Path) -> Path:
    """annual_report.docx: the template filled with the report (``docx_context``)."""
    from docxtpl import DocxTemplate

    template = DocxTemplate(_template_source())
    # autoescape: a name with & or < is text, not XML
    template.render(docx_context(report, template, charts_dir), autoescape=True)
    with replacing(path) as partial:
        template.save(str(partial))
    return path
