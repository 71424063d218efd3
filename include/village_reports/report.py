"""The annual report's words: township figures phrased the way the report phrases them.

'200余个', '约2000亩', '过万亩', '无一例', '第三名': the catalogue says which style each
figure takes; this module turns a computed total into those words.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from village_reports import settings
from village_reports.catalogue import Catalogue, Indicator, load_catalogue, round_half_up
from village_reports.files import replacing, write_atomically
from village_reports.model import HELD, REJECTED
from village_reports.roster import Roster, load_roster
from village_reports.totals import TownshipTotal, comparable

_CN_DIGITS = "零一二三四五六七八九"


def format_number(value: float, places: int) -> str:
    """'784.5', '289', '0.725': fixed places (rounded half up), then trailing zeros dropped."""
    text = f"{round_half_up(value, places):.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def chinese_numeral(n: int, two: str = "二") -> str:
    """Small whole numbers in Chinese: 3 -> 三, 12 -> 十二, 2 -> 两 when asked."""
    if not 0 <= n < 100:
        return str(n)
    if n == 2:
        return two
    tens, ones = divmod(n, 10)
    if tens == 0:
        return _CN_DIGITS[ones]
    return ("" if tens == 1 else _CN_DIGITS[tens]) + "十" + (_CN_DIGITS[ones] if ones else "")


def phrase(value: float, indicator: Indicator) -> str:
    """The figure as the report words it (without the unit)."""
    spec = indicator.phrase
    style = spec.get("style", "exact")
    places = int(spec.get("places", indicator.decimals))
    exact = format_number(value, places)
    if style == "exact":
        if spec.get("rounding") == "down":
            factor = 10**places
            return format_number(math.floor(value * factor + 1e-9) / factor, places)
        return exact
    if style == "yu":
        step = float(spec["step"])
        base = math.floor(value / step + 1e-9) * step
        if base <= 0 or math.isclose(base, value):
            return exact  # '余' says "more than"; an exact round figure is said as it is
        if spec.get("scale") == "万":
            return f"{format_number(base / 10_000, 0)}万余"
        return f"{format_number(base, 0)}余"
    if style == "about":
        step = float(spec["step"])
        return f"约{format_number(round_half_up(value / step, 0) * step, 0)}"
    if style == "over":
        if value > float(spec["threshold"]):
            return str(spec["word"])
        return str(spec.get("otherwise", "{n}")).format(n=exact)
    if style == "zero":
        return str(spec["zero"]) if value == 0 else str(spec["other"]).format(n=exact)
    if style == "cn":
        return chinese_numeral(int(round_half_up(value, 0)), str(spec.get("two", "二")))
    raise ValueError(f"{indicator.code}: unknown phrase style {style}")


def sentence(value: float, indicator: Indicator) -> str:
    return indicator.sentence.format(figure=phrase(value, indicator))


# ---------------------------------------------------------------------------------------
# Outputs for one year: township_totals.csv, township_totals.xlsx, annual_report.md (and .docx)


def _display(value: float | None, indicator: Indicator) -> str:
    return "" if value is None else format_number(value, indicator.decimals)


SOURCES_FILE = "township_total_sources.csv"


@dataclass
class SourceTally:
    """Where one source of one total was reported: how many villages and whether 镇本级,
    and in which cells (a clerk who inserted a row moves a figure down)."""

    villages: int = 0
    township: bool = False
    cells: Counter[tuple[str, str]] = field(default_factory=Counter)

    def describe(self) -> str:
        """'18个村（居）填报表 F7', '镇本级填报表 F5'; cells elsewhere are counted, not listed."""
        who = "、".join([f"{self.villages}个村（居）"] * bool(self.villages) + ["镇本级"] * self.township)
        (sheet, cell), usual = self.cells.most_common(1)[0]
        elsewhere = self.cells.total() - usual
        return f"{who}{sheet} {cell}" + (f"（其中{elsewhere}个单位在其他单元格）" if elsewhere else "")


_CONDITION_WORDS = {"==": "为", "!=": "不为", ">": "大于", ">=": "不小于", "<": "小于", "<=": "不大于"}


def source_brief(indicator: Indicator, tallies: Mapping[str, SourceTally]) -> str:
    """The sources of one total in a line, for the report's appendix (docx and Markdown
    alike): who reported it and where in the template; the cells one by one are in
    SOURCES_FILE. A ratio names both parts, a count of units its condition."""
    if not tallies:
        return "暂无填报"
    parts = []
    for source_code, tally in tallies.items():
        text = tally.describe()
        if indicator.aggregation == "count_units" and indicator.condition:
            op, threshold = indicator.condition.split()
            text = f"{source_code}{_CONDITION_WORDS.get(op, op)}{threshold}的{text}"
        elif source_code != indicator.code:
            text = f"{source_code}：{text}"
        parts.append(text)
    return "；".join(parts)


def write_sources_csv(
    path: Path, sources: Iterable[Mapping[str, Any]], roster: Roster | None = None
) -> dict[str, dict[str, SourceTally]]:
    """Every cell behind every total, streamed to CSV; returns, per total and source, the
    tally ``source_brief`` words. Rows are tallied as they stream, never held: memory grows
    with the indicators and the cells they use, not with the units."""
    roster = roster or load_roster()
    tallies: dict[str, dict[str, SourceTally]] = {}
    with replacing(path) as partial, partial.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["indicator_code", "unit_code", "unit_name", "source_code", "value", "sheet", "cell"])
        for row in sources:
            code, source = row["indicator_code"], row["source_code"]
            name = row["unit_name"] or row["unit_code"]
            value = f"{row['value']:.10g}"  # 289 and 72.5, as the clerk wrote them; never 289.0
            writer.writerow([code, row["unit_code"], name, source, value, row["sheet"], row["cell"]])
            tally = tallies.setdefault(code, {}).setdefault(source, SourceTally())
            unit = roster.get(row["unit_code"])
            if unit is not None and unit.reporter == "township":
                tally.township = True
            else:
                tally.villages += 1
            tally.cells[row["sheet"], row["cell"]] += 1
    return tallies


def write_totals_csv(
    path: Path, totals: dict[str, TownshipTotal], catalogue: Catalogue, signoff_label: str = ""
) -> Path:
    """One row per total; the last column, on every row, says whether the figures are a
    draft or signed off (``SignoffState.label``): a row copied elsewhere keeps it, and a
    trailing column leaves the others where readers look for them."""
    # BOM: Excel opens it as UTF-8
    with replacing(path) as partial, partial.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["code", "name", "unit", "section", "value", "units_reported", "units_expected", "signoff"])
        for code, total in totals.items():
            ind = catalogue[code]
            writer.writerow(
                [
                    code,
                    ind.name,
                    ind.measure_unit,
                    catalogue.section(ind.section).name,
                    _display(total.value, ind),
                    total.units_reported,
                    total.units_expected,
                    signoff_label,
                ]
            )
    return path


def write_totals_xlsx(
    path: Path,
    year: int,
    totals: dict[str, TownshipTotal],
    unit_values: Iterable[tuple[str, Mapping[str, float | None]]],
    catalogue: Catalogue,
    roster: Roster,
    timeliness: Sequence[Mapping[str, Any]] = (),
    signoff_label: str = "",
    previous: Mapping[str, TownshipTotal] | None = None,
) -> Path:
    """The totals by section, the per-unit breakdown, the 报送情况, and the key figures
    against last year's (``previous``, by code; compared only where ``comparable``) with
    native Excel charts; written row by
    row (openpyxl's write-only mode), so a county's breakdown never sits in memory. Every
    sheet prints on A4 with its title rows on each page (a write-only sheet takes its page
    setup, widths and row heights before its first row)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Border, PatternFill, Side
    from openpyxl.utils import get_column_letter

    from village_reports.charts import share_figures
    from village_reports.xlsx import font, print_setup, use_font

    wb = Workbook(write_only=True)
    use_font(wb)
    bold, fill = font(b=True), PatternFill("solid", fgColor="DDEBF7")
    thin = Side(style="thin", color="999999")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)

    def styled(ws: Any, value: Any = None, number_format: str | None = None, wrap: bool = False) -> Any:
        cell = WriteOnlyCell(ws, value=value)
        cell.border = border
        if number_format:
            cell.number_format = number_format
        if wrap:
            cell.alignment = Alignment(wrap_text=True, vertical="center")
        return cell

    def title_row(ws: Any, text: str) -> list[Any]:
        title = WriteOnlyCell(ws, value=text)
        title.font = font(b=True, sz=14)
        return [title]

    # Under each sheet's title, printed on every page: 草稿 or 定稿, so that a draft on paper
    # is never taken for the signed-off figures. Without a label (a caller outside the
    # pipeline) the sheets keep their two title rows.
    top = 3 if signoff_label else 2  # the rows repeated on every page: title, label, headings

    def titled(ws: Any, text: str) -> None:
        ws.append(title_row(ws, text))
        if signoff_label:
            label = WriteOnlyCell(ws, value=signoff_label)
            label.font = font(b=True, color="C0504D" if signoff_label.startswith(DRAFT) else "00A65A")
            ws.append([label])

    def heading_row(ws: Any, labels: Sequence[str]) -> list[Any]:
        cells = []
        for label in labels:
            cell = styled(ws, label)
            cell.font, cell.fill = bold, fill
            cell.alignment = Alignment(wrap_text=True, horizontal="center", vertical="center")
            cells.append(cell)
        return cells

    def layout(ws: Any, sizes: Sequence[float], heights: Mapping[int, float]) -> None:
        for column, width in enumerate(sizes, start=1):
            ws.column_dimensions[get_column_letter(column)].width = width
        for row, height in heights.items():
            ws.row_dimensions[row].height = height

    # unit names print whole: as wide as the roster's longest
    names = min(max([_display_width(unit.name) + 2 for unit in roster.units] + [12]), 30)
    headings = ("指标代码", "指标名称", "计量单位", f"{year}年数值", "已报单位", "应报单位", "完整率")
    for section in catalogue.sections:
        ws = wb.create_sheet(section.name)
        indicators = catalogue.in_section(section.code)
        layout(ws, (9, 36, 9, 13, 9, 9, 9), {1: 26, top: 20})
        ws.freeze_panes = f"A{top + 1}"
        print_setup(ws, title_rows=f"1:{top}", area=f"A1:G{len(indicators) + top}")
        titled(ws, f"{roster.place}{year}年度 {section.name}")
        ws.append(heading_row(ws, headings))
        for ind in indicators:
            total = totals[ind.code]
            ws.append(
                [
                    styled(ws, ind.code),
                    styled(ws, ind.name, wrap=True),
                    styled(ws, ind.measure_unit),
                    styled(ws, total.value, ind.number_format_for(total.value)),
                    styled(ws, total.units_reported),
                    styled(ws, total.units_expected),
                    styled(ws, total.completeness, "0%"),
                ]
            )

    # one row per unit: a county's thousands of villages fit, Excel's 16,384 columns would not.
    # Too wide for one page: it prints landscape, page after page across, each page with the
    # units' codes and names at its left and the headings at its top.
    breakdown = wb.create_sheet("分村明细")
    filled = [i for i in catalogue.indicators if i.is_filled_in]
    width = 9
    heading_lines = max(1 + -(-_display_width(f"{i.name}（{i.measure_unit}）") // (width - 1)) for i in filled)
    layout(breakdown, (8, names, *[width] * len(filled)), {1: 26, top: 14.0 * heading_lines + 4})
    breakdown.freeze_panes = f"C{top + 1}"
    breakdown.print_options.gridLines = True  # a border per cell would cost a county's night
    print_setup(breakdown, landscape=True, title_rows=f"1:{top}", title_cols="A:B", fit_width=False)
    breakdown.page_setup.scale = 80
    titled(breakdown, f"{roster.place}{year}年度 分村明细")
    breakdown.append(
        heading_row(breakdown, ["单位代码", "单位名称", *[f"{i.code}\n{i.name}（{i.measure_unit}）" for i in filled]])
    )
    # Figures kept to decimal places (784.5 万元, 6.52 公里) show them; a whole number shows as
    # it is, unstyled: openpyxl takes a styled cell through a raised exception, and styling
    # every figure doubled the time of a county's breakdown. One styled cell per such column,
    # refilled each row (the row is written before the next is filled).
    styled_cells: dict[int, Any] = {}
    for column, ind in enumerate(filled):
        if ind.decimals:
            styled_cells[column] = WriteOnlyCell(breakdown)
            styled_cells[column].number_format = ind.number_format
    codes = [ind.code for ind in filled]
    rows = top

    def unit_row(unit_code: str, values: Mapping[str, float | None]) -> None:
        nonlocal rows
        unit = roster.get(unit_code)
        figures = [values.get(code) for code in codes]
        for column, cell in styled_cells.items():
            if figures[column] is not None and not float(figures[column]).is_integer():
                cell.value = figures[column]
                figures[column] = cell
        breakdown.append([unit_code, unit.name if unit else unit_code, *figures])
        rows += 1

    # 镇本级 last, as the roster lists it: the villages' rows are then one range, which the
    # chart of the villages' figures refers to (the stream comes by code, MT00 first)
    township_row = None
    for unit_code, values in unit_values:
        if unit_code == roster.township.code:
            township_row = (unit_code, values)
        else:
            unit_row(unit_code, values)
    village_rows = (top + 1, rows)  # first and last row of the villages (none when last < first)
    if township_row:
        unit_row(*township_row)
    breakdown.print_area = f"A1:{get_column_letter(len(filled) + 2)}{rows}"

    status = wb.create_sheet("报送情况")
    layout(status, (9, names, 10, 17, 17, 36), {1: 26, top: 20})
    status.freeze_panes = f"A{top + 1}"
    print_setup(status, title_rows=f"1:{top}", area=f"A1:F{len(timeliness) + top}")
    titled(status, f"{roster.place}{year}年度 报送情况")
    status.append(heading_row(status, ["单位代码", "单位名称", "报送情况", "首次收到", "截止时间", "最新文件"]))
    for row in timeliness:
        cells = _status_cells(row)
        status.append([styled(status, value, wrap=index == len(cells) - 1) for index, value in enumerate(cells)])

    # the key figures against last year's, then the charts drawn from that table and 分村明细
    compare = wb.create_sheet(COMPARE_SHEET)
    keys = catalogue.key_figures()
    # 说明 wide enough for "本年已报1个单位（应报18个），暂不比较" on one line: A4 landscape
    layout(compare, (9, 30, 9, 12, 12, 11, 9, 42), {1: 26, top: 20})
    compare.freeze_panes = f"A{top + 1}"
    print_setup(compare, landscape=True, title_rows=f"1:{top}", area=f"A1:H{len(keys) + top}")
    titled(compare, f"{roster.place}{year}年度 主要指标与上年对比")
    compare.append(
        heading_row(
            compare, ["指标代码", "指标名称", "计量单位", f"{year - 1}年", f"{year}年", "增减", "增减率", "说明"]
        )
    )
    for ind in keys:
        cells = _compared(ind, totals, previous or {})
        compare.append([styled(compare, value, number_format) for value, number_format in cells])
    table = (top + 1, top + len(keys))

    # each chart on a page of its own, under the sheet's title and 草稿/定稿
    drawings = wb.create_sheet(CHART_SHEET)
    layout(drawings, (12,) * 8, {1: 26})
    print_setup(drawings, title_rows=f"1:{top - 1}")
    titled(drawings, f"{roster.place}{year}年度 图表")
    share = next(iter(share_figures(catalogue, totals)), None)  # the first total whose shares are drawn
    column = get_column_letter(3 + filled.index(share)) if share else None
    drawn = _add_charts(
        drawings,
        change_chart(COMPARE_SHEET, table, any(comparable(totals[i.code], (previous or {}).get(i.code)) for i in keys)),
        village_chart(breakdown.title, village_rows, column, share),
        first_row=top,
    )
    drawings.print_area = f"A1:H{max(drawn, top - 1)}"
    with replacing(path) as partial:
        wb.save(partial)
    return path


COMPARE_SHEET = "主要指标对比"
CHART_SHEET = "图表"
CHART_FONT_SIZE = 900  # hundredths of a point


def _compared(
    ind: Indicator, totals: Mapping[str, TownshipTotal], previous: Mapping[str, TownshipTotal]
) -> list[tuple[Any, str | None]]:
    """One key figure's row of 主要指标对比, each value with its number format: the change
    only where the years are comparable, and otherwise 说明 says why there is none."""
    current, last = totals[ind.code], previous.get(ind.code)
    now, before = current.value, None if last is None else last.value
    change = ind.round(now - before) if comparable(current, last) else None  # type: ignore[operator]
    rate = None if change is None or not before else change / before  # no rate from a year of 0
    note = "" if change is not None else change_text(current, last, ind)
    return [
        (ind.code, None),
        (ind.name, None),
        (ind.measure_unit, None),
        (before, ind.number_format_for(before)),
        (now, ind.number_format_for(now)),
        (change, ind.number_format_for(change)),
        (rate, "0.0%"),
        (note, None),
    ]


def _chart_text(size: int = CHART_FONT_SIZE, bold: bool = False) -> Any:
    """Text properties in the workbooks' Chinese font (latin and East Asian faces): a
    chart's default font has no Chinese on an office PC."""
    from openpyxl.chart.text import RichText
    from openpyxl.drawing.text import CharacterProperties, Font, Paragraph, ParagraphProperties

    from village_reports.xlsx import FONT

    face = Font(typeface=FONT)
    properties = CharacterProperties(latin=face, ea=face, sz=size, b=bold)
    # r=[]: openpyxl otherwise adds an empty run to a paragraph that only sets properties
    return RichText(p=[Paragraph(pPr=ParagraphProperties(defRPr=properties), endParaRPr=properties, r=[])])


def _chart_title(text: str) -> Any:
    from openpyxl.chart.text import Text
    from openpyxl.chart.title import Title
    from openpyxl.drawing.text import RegularTextRun

    rich = _chart_text(1100, bold=True)
    rich.p[0].r = [RegularTextRun(rPr=rich.p[0].pPr.defRPr, t=text)]
    return Title(tx=Text(rich=rich), overlay=False)


def _bar_chart(title: str) -> Any:
    """A horizontal bar chart in the workbooks' font, first category at the top. openpyxl
    writes no chart-wide text properties (c:chartSpace/c:txPr): they are added to what it
    writes, so that every text Excel or WPS draws in the chart, data labels too, is in it."""
    from openpyxl.chart import BarChart
    from openpyxl.chart.chartspace import ChartContainer, ChartSpace

    chart = BarChart()
    write = chart._write

    def write_with_text() -> Any:
        tree = write()
        # txPr follows spPr, the last child openpyxl writes: appended, the order stays valid
        tree.append(ChartSpace(chart=ChartContainer(), txPr=_chart_text()).to_tree().find("{*}txPr"))
        return tree

    chart._write = write_with_text
    chart.type, chart.style = "bar", 10
    chart.title = _chart_title(title)
    chart.legend = None
    chart.x_axis.scaling.orientation = "maxMin"  # the table's first row at the top…
    chart.y_axis.crosses = "max"  # …and the values' axis still at the bottom
    chart.x_axis.tickLblPos = "low"  # names at the left edge, clear of a negative bar's label
    chart.x_axis.delete = chart.y_axis.delete = False  # openpyxl 3.1 hides axes in Excel otherwise
    chart.x_axis.txPr = chart.y_axis.txPr = _chart_text()
    return chart


def change_chart(sheet: str, rows: tuple[int, int], any_previous: bool) -> Any | None:
    """增减率 of the key figures (column G of ``sheet``, named by column B): one scale for
    figures of every size, where 上年 and 本年 side by side would not share one."""
    from openpyxl.chart import Reference
    from openpyxl.chart.label import DataLabelList

    if not any_previous or rows[1] < rows[0]:
        return None
    chart = _bar_chart("主要指标较上年增减率")
    quoted = _quote(sheet)
    chart.add_data(Reference(range_string=f"{quoted}!$G${rows[0]}:$G${rows[1]}"), titles_from_data=False)
    chart.set_categories(Reference(range_string=f"{quoted}!$B${rows[0]}:$B${rows[1]}"))
    # the value alone: LibreOffice takes an unset flag as set, and adds the series and category names
    chart.series[0].dLbls = DataLabelList(
        numFmt="0.0%", showVal=True, showSerName=False, showCatName=False, showLegendKey=False, showPercent=False
    )
    chart.series[0].dLbls.txPr = _chart_text(800)
    chart.y_axis.numFmt, chart.y_axis.majorGridlines = "0%", None
    chart.width, chart.height = 17.0, 0.5 * (rows[1] - rows[0] + 1) + 2.5
    return chart


def village_chart(sheet: str, rows: tuple[int, int], column: str | None, indicator: Indicator | None) -> Any | None:
    """One township total's villages (``column`` of ``sheet``, named by column B): which
    villages carry it."""
    from openpyxl.chart import Reference

    if column is None or indicator is None or not 0 <= rows[1] - rows[0] < MAX_CHART_VILLAGES:
        return None  # a county's thousands of bars would be unreadable: the table stays
    chart = _bar_chart(f"各村（居）{indicator.name}（{indicator.measure_unit}）")
    quoted = _quote(sheet)
    chart.add_data(Reference(range_string=f"{quoted}!${column}${rows[0]}:${column}${rows[1]}"), titles_from_data=False)
    chart.set_categories(Reference(range_string=f"{quoted}!$B${rows[0]}:$B${rows[1]}"))
    chart.width, chart.height = 17.0, 0.5 * (rows[1] - rows[0] + 1) + 2.5
    return chart


def _quote(sheet: str) -> str:
    return "'" + sheet.replace("'", "''") + "'"


ROW_POINTS = 15
ROW_CM = ROW_POINTS * 2.54 / 72
MAX_CHART_VILLAGES = 60


def _add_charts(ws: Any, *charts: Any, first_row: int) -> int:
    """Anchor the charts one under another from ``first_row`` (the sheet's next row), a
    page break after each but the last; the last row they cover. Their rows are written,
    each ROW_POINTS high: LibreOffice makes a row never written shorter, and a chart then
    ran over its page break."""
    from openpyxl.worksheet.pagebreak import Break

    row = first_row - 1
    for chart in (c for c in charts if c is not None):
        if row >= first_row:
            ws.row_breaks.append(Break(id=row))
        ws.add_chart(chart, f"A{row + 1}")
        for _ in range(math.ceil(chart.height / ROW_CM) + 1):
            row += 1
            ws.row_dimensions[row].height = ROW_POINTS
            ws.append([])
    return row


def _display_width(text: str) -> int:
    """Columns of Latin width the text takes: a Chinese character takes two."""
    return len(text) + (len(text.encode("utf-8")) - len(text)) // 2


NO_PREVIOUS = "上年无数据"  # never 0: a year nobody reported is not a year of nothing


def with_unit(value: float, indicator: Indicator) -> str:
    """'1137 人', '784.5 万元', '80%'; a yes/no count stays a bare number."""
    shown = format_number(value, indicator.decimals)
    if indicator.measure_unit == "%":
        return f"{shown}%"
    return shown if indicator.measure_unit == "是/否" else f"{shown} {indicator.measure_unit}"


def change_text(current: TownshipTotal, last: TownshipTotal | None, indicator: Indicator) -> str:
    """This year against last, as a statistical report says it: 比上年增加 12 户 (counts),
    比上年增长 8.3% (amounts), 比上年提高 2.5 个百分点 (rates), 持平; 上年无数据 when last
    year has no figure; and why there is no change where a year's total is partial."""
    if current.value is None:
        return "本年暂无数据"
    if last is None or last.value is None:
        return NO_PREVIOUS
    if not current.is_complete:  # a partial year is not a fall: see totals.comparable
        return f"本年已报{current.units_reported}个单位（应报{current.units_expected}个），暂不比较"
    if not last.is_complete:
        return f"上年仅{last.units_reported}个单位报告（应报{last.units_expected}个），不作比较"
    previous = last.value
    diff = indicator.round(current.value - previous)
    if diff == 0:
        return "持平"
    if indicator.type == "percentage":
        return f"比上年{'提高' if diff > 0 else '下降'} {format_number(abs(diff), indicator.decimals)} 个百分点"
    rate = diff / previous * 100 if previous > 0 else 0.0
    if indicator.type == "decimal" and round(rate, 1):
        return f"比上年{'增长' if diff > 0 else '下降'} {format_number(abs(rate), 1)}%"
    return f"比上年{'增加' if diff > 0 else '减少'} {with_unit(abs(diff), indicator)}"


@dataclass(frozen=True)
class KeyFigure:
    """One row of a section's table of key figures."""

    code: str
    name: str
    current: str
    previous: str
    change: str


@dataclass(frozen=True)
class SectionReport:
    number: str  # 一, 二 …
    name: str
    heading: str
    text: str  # the section's sentences, every figure computed
    rows: tuple[KeyFigure, ...]


@dataclass(frozen=True)
class SourceRow:
    """One row of the appendix: a total and, briefly, where it comes from."""

    code: str
    name: str
    value: str
    reported: str
    source: str


@dataclass(frozen=True)
class AnnualReport:
    """What the annual report says, once: the .docx and the Markdown twin both print it."""

    place: str
    author: str
    year: int
    signoff_label: str
    sections: tuple[SectionReport, ...]
    status: tuple[str, ...]  # 报送情况, sentence by sentence
    sources: tuple[SourceRow, ...]

    @property
    def title(self) -> str:
        return f"{self.place}{self.year}年度工作总结"

    @property
    def is_draft(self) -> bool:
        return self.signoff_label.startswith(DRAFT)

    @property
    def intro(self) -> str:
        return (
            f"本总结的数字由各村（居）和镇本级报送的{self.year}年度统计报表汇总生成，"
            "每个数字均可追溯到报送单位的填报表（见附件）。"
        )


def section_text(section_code: str, totals: Mapping[str, TownshipTotal], catalogue: Catalogue) -> str:
    """A section's sentences in the report's words. A partial figure is not put in them:
    it is given by name, as the sum of the units that have reported, with how many."""
    statements = []
    for ind in catalogue.in_section(section_code):
        total = totals[ind.code]
        if total.value is None:
            statements.append(f"{ind.name}：暂无数据（应报{total.units_expected}个单位，均未报告）。")
        elif total.units_reported < total.units_expected:
            # what has come in so far, said plainly: the report's sentence would claim it
            # for the whole township (全镇共…, 全年未发生一例…) on the word of a few units
            reported = f"（已报单位合计；应报{total.units_expected}个单位，已报{total.units_reported}个）"
            statements.append(f"{ind.name}：{with_unit(total.value, ind)}{reported}。")
        else:
            statements.append(sentence(total.value, ind) + "。")
    return "".join(statements)


def key_figure_rows(
    section_code: str,
    totals: Mapping[str, TownshipTotal],
    previous: Mapping[str, TownshipTotal],
    catalogue: Catalogue,
) -> tuple[KeyFigure, ...]:
    """The section's key figures (``key: true``): this year, last year (from the warehouse's
    ``year_over_year``) and the change."""
    rows = []
    for ind in catalogue.key_figures(section_code):
        current, last = totals[ind.code], previous.get(ind.code)
        rows.append(
            KeyFigure(
                ind.code,
                ind.name,
                "暂无数据" if current.value is None else with_unit(current.value, ind),
                NO_PREVIOUS if last is None or last.value is None else with_unit(last.value, ind),
                change_text(current, last, ind),
            )
        )
    return tuple(rows)


def annual_report(
    year: int,
    totals: Mapping[str, TownshipTotal],
    catalogue: Catalogue,
    roster: Roster,
    *,
    previous: Mapping[str, TownshipTotal] | None = None,
    tallies: Mapping[str, Mapping[str, SourceTally]] | None = None,
    timeliness: Sequence[Mapping[str, Any]] = (),
    signoff_label: str = "",
) -> AnnualReport:
    """The annual report's content for one year. ``previous``: last year's totals by code
    (none: last year has no totals); ``tallies``: ``write_sources_csv``'s."""
    sections = tuple(
        SectionReport(
            chinese_numeral(n),
            section.name,
            section.heading,
            section_text(section.code, totals, catalogue),
            key_figure_rows(section.code, totals, previous or {}, catalogue),
        )
        for n, section in enumerate(catalogue.sections, start=1)
    )
    sources = tuple(
        SourceRow(
            code,
            catalogue[code].name,
            "暂无数据" if total.value is None else with_unit(total.value, catalogue[code]),
            f"{total.units_reported}/{total.units_expected}",
            source_brief(catalogue[code], (tallies or {}).get(code, {})),
        )
        for code, total in totals.items()
    )
    return AnnualReport(
        place=roster.place,
        author=roster.township.full_name or f"{roster.place}人民政府",
        year=year,
        signoff_label=signoff_label,
        sections=sections,
        status=tuple(timeliness_sentences(timeliness)),
        sources=sources,
    )


def _md_table(headings: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(headings) + " |", "|" + "---|" * len(headings)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def render_annual_report(report: AnnualReport) -> str:
    """The Markdown twin of annual_report.docx: the same sections, tables, 报送情况 and appendix."""
    lines = [f"# {report.title}：主要数据", ""]
    if report.signoff_label:
        lines += [f"**{report.signoff_label}**", ""]
    lines += [f"> {report.intro}", ""]
    for section in report.sections:
        lines += [f"## {section.number}、{section.name}：{section.heading}", "", section.text, ""]
        rows = ((r.name, r.current, r.previous, r.change) for r in section.rows)
        lines += [*_md_table(("主要指标", f"{report.year}年", f"{report.year - 1}年", "比上年"), rows), ""]
    lines += ["## 报送情况", ""]
    for n, sentence_ in enumerate(report.status):
        lines += [sentence_ if n == 0 else f"- {sentence_}", ""]
    lines += ["## 附件：数据来源", "", f"逐个单位、逐个单元格的清单见 {SOURCES_FILE}。", ""]
    rows = ((s.code, s.name, s.value, s.reported, s.source) for s in report.sources)
    lines += _md_table(("代码", "指标", "数值", "已报/应报", "来源（单位、填报表位置）"), rows)
    return "\n".join(lines) + "\n"


TIMELINESS_TEXT = {
    "on_time": "按时报送",
    "late": "逾期报送",
    "missing": "未报送",
    "rejected": "退回待改",
    HELD: "定稿后收到（未计入）",  # sent, but only after the year was signed off
}
DRAFT = "草稿"  # how SignoffState.label begins before the year is signed off


def _resent_and_rejected(row: Mapping[str, Any]) -> bool:
    """A unit whose figures stand from an earlier file, and whose latest file was sent back."""
    return row["timeliness"] in ("on_time", "late") and row.get("latest_status") == REJECTED


def _resent_after_signoff(row: Mapping[str, Any]) -> bool:
    """A unit whose figures stand, and whose latest file came after the year was signed off."""
    return row["timeliness"] in ("on_time", "late") and row.get("latest_status") == HELD


def _status_cells(row: Mapping[str, Any]) -> list[str]:
    """One unit's 报送情况 as a clerk reads it: code, name, status, first received, deadline, latest file."""
    return [
        row["unit_code"],
        row["unit_name"],
        TIMELINESS_TEXT[row["timeliness"]]
        + ("（最新文件退回待改）" if _resent_and_rejected(row) else "")
        + ("（定稿后又收到文件，未计入）" if _resent_after_signoff(row) else ""),
        settings.local_time(row["first_received"]),
        settings.local_time(row["deadline"]),
        row["latest_file"] or "",
    ]


STATUS_HEADINGS = (
    "单位代码",
    "单位名称",
    "报送情况",
    "首次收到（北京时间）",
    "截止时间（北京时间）",
    "最新文件",
    "审核状态",
)


def write_status_csv(path: Path, timeliness: Sequence[Mapping[str, Any]], signoff_label: str = "") -> Path:
    """报送情况 for the office, in Chinese like the workbook's sheet (analysts have the view);
    the last column says whether the year is a draft or signed off."""
    with replacing(path) as partial, partial.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(STATUS_HEADINGS)
        writer.writerows([*_status_cells(row), signoff_label] for row in timeliness)
    return path


def timeliness_sentences(timeliness: Sequence[Mapping[str, Any]]) -> list[str]:
    """报送情况 in sentences: the counts, then who is late, missing or sent back."""
    if not timeliness:
        return ["暂无报送记录。"]
    counts = {key: sum(r["timeliness"] == key for r in timeliness) for key in TIMELINESS_TEXT}
    sentences = [
        f"应报 {len(timeliness)} 个单位（截止 {settings.local_time(timeliness[0]['deadline'])}）："
        + "，".join(f"{TIMELINESS_TEXT[k]} {v} 个" for k, v in counts.items())
        + "。"
    ]
    for key in ("late", "missing", "rejected", HELD):
        names = [r["unit_name"] for r in timeliness if r["timeliness"] == key]
        if names:
            sentences.append(f"{TIMELINESS_TEXT[key]}：" + "、".join(names) + "。")
    resent = [r["unit_name"] for r in timeliness if _resent_and_rejected(r)]
    if resent:  # their figures stand, but what they sent last needs correcting: say so
        sentences.append(f"最新文件退回待改（仍使用此前接收的数字）{len(resent)} 个：" + "、".join(resent) + "。")
    held = [r["unit_name"] for r in timeliness if _resent_after_signoff(r)]
    if held:  # their signed-off figures stand; a later file waits for a reopening
        sentences.append(f"定稿后又收到文件（未计入，仍使用定稿时的数字）{len(held)} 个：" + "、".join(held) + "。")
    return sentences


def write_outputs(
    out_dir: Path,
    year: int,
    totals: dict[str, TownshipTotal],
    sources: Iterable[Mapping[str, Any]] = (),
    unit_values: Iterable[tuple[str, Mapping[str, float | None]]] = (),
    timeliness: Sequence[Mapping[str, Any]] = (),
    catalogue: Catalogue | None = None,
    roster: Roster | None = None,
    signoff_label: str = "",
    previous: Mapping[str, TownshipTotal] | None = None,
    history: Sequence[Mapping[str, Any]] = (),
    timeliness_history: Sequence[Mapping[str, Any]] = (),
    village_figures: Sequence[Mapping[str, Any]] = (),
) -> list[Path]:
    """The township outputs for one year under ``out_dir/<year>/``; ``sources`` (every cell
    behind a total, in report order) and ``unit_values`` (unit by unit) may be streams.
    ``signoff_label`` (``SignoffState.label``: 草稿 with the time of the data, or 定稿 with
    the approver and the time) heads every output. ``previous``: last year's totals by
    code (``totals.previous_year``), for the key-figure tables (none: 上年无数据; a change
    only where ``totals.comparable``).

    The charts (``charts/*.png``, written first: the Word report embeds them) draw on
    ``history``, earlier years' township totals of the key figures (year, indicator_code,
    value, units_reported, units_expected); ``timeliness_history``, each unit's standing per year (year, unit_code,
    timeliness; this year's ``timeliness`` without it); and ``village_figures``, this
    year's figures of ``charts.share_figures`` by unit (unit_code, indicator_code, value).
    Without them the charts show this year alone."""
    from village_reports.charts import write_charts
    from village_reports.docx_template import write_report_docx

    catalogue = catalogue or load_catalogue()
    roster = roster or load_roster()
    folder = out_dir / str(year)
    folder.mkdir(parents=True, exist_ok=True)
    statuses = timeliness_history or [{**row, "year": year} for row in timeliness]
    charts = write_charts(
        folder / "charts",
        year,
        totals,
        history=history,
        statuses=statuses,
        village_figures=village_figures,
        catalogue=catalogue,
        roster=roster,
        signoff_label=signoff_label,
    )
    sources_csv = folder / SOURCES_FILE
    tallies = write_sources_csv(sources_csv, sources, roster)
    content = annual_report(
        year,
        totals,
        catalogue,
        roster,
        previous=previous,
        tallies=tallies,
        timeliness=timeliness,
        signoff_label=signoff_label,
    )
    report = write_atomically(folder / "annual_report.md", render_annual_report(content))
    paths = [
        *charts.values(),
        write_totals_csv(folder / "township_totals.csv", totals, catalogue, signoff_label),
        write_totals_xlsx(
            folder / "township_totals.xlsx",
            year,
            totals,
            unit_values,
            catalogue,
            roster,
            timeliness,
            signoff_label,
            previous=previous,
        ),
        write_status_csv(folder / "submission_status.csv", timeliness, signoff_label),
        sources_csv,
        report,
    ]
    # last: the charts (folder/charts/*.png) are drawn before it, and it places those it finds
    return [*paths, write_report_docx(folder / "annual_report.docx", content, folder / "charts")]
