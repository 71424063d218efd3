"""What a clerk gets on paper: every workbook we write, printed to PDF by LibreOffice.

Each page's footer names its sheet (第 N 页，共 M 页　<sheet>), so the pages of a sheet
are counted from the PDF's text; pdftotext -layout keeps a printed row on one line.
"""

from __future__ import annotations

import re
import subprocess
import zipfile
from pathlib import Path

import pytest

from village_reports.catalogue import Catalogue, Indicator
from village_reports.charts import share_figures
from village_reports.feedback import feedback_bytes
from village_reports.model import Problem, Record
from village_reports.reader import read_workbook_and_grid
from village_reports.report import CHART_SHEET, COMPARE_SHEET, write_totals_xlsx
from village_reports.roster import Roster
from village_reports.samples import sample_values
from village_reports.template import DATA_SHEET, INSTRUCTIONS_SHEET, build_workbook, write_template
from village_reports.xlsx import FONT

from ...conftest import libreoffice_convert, require_tool
from ...oracle_totals import compute_totals

pytestmark = pytest.mark.libreoffice

_FOOTER = re.compile(r"第\s*\d+\s*页，共\s*\d+\s*页\s*(\S+)\s*$")


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _on_page(text: str, page: str) -> bool:
    """``text`` printed on ``page``, maybe wrapped in its cell: pdftotext -layout then puts
    the other cells of the row between its lines."""
    return re.search(".{0,60}?".join(map(re.escape, _squash(text))), _squash(page)) is not None


def _shown(value: float, indicator: Indicator) -> str:
    """A figure as its number format prints it: thousands separated, the catalogue's places,
    and a whole figure without decimals (289 万元, never 289.0)."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.{indicator.decimals}f}"


def _figure_in(text: str, shown: str) -> bool:
    """``shown`` stands in ``text`` as a whole figure: "80" is not found in "80.0"."""
    return re.search(rf"(?<![\d.,]){re.escape(shown)}(?![\d.])", text) is not None


def _printed(workbook: Path) -> dict[str, list[str]]:
    """Sheet name -> the text of each of its printed pages, in order."""
    pdf = libreoffice_convert(workbook, "pdf", workbook.parent / "pdf")
    text = subprocess.run(
        [require_tool("pdftotext"), "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    pages: dict[str, list[str]] = {}
    for page in text.split("\f")[:-1]:
        footer = _FOOTER.search(page.strip())
        assert footer, f"a page without the 第 N 页 footer:\n{page}"
        pages.setdefault(footer.group(1), []).append(page)
    return pages


def _line_with(pages: list[str], code: str) -> str:
    return _where(pages, code)[1]


def _where(pages: list[str], code: str) -> tuple[str, str]:
    """The page and the line where ``code`` is printed."""
    found = [(page, line) for page in pages for line in page.splitlines() if re.search(rf"\b{code}\b", line)]
    assert found, f"{code} is not printed"
    return found[0]


def _fonts(workbook: Path) -> tuple[set[str], str]:
    """The fonts the workbook's styles name, and those its PDF embeds (pdffonts)."""
    with zipfile.ZipFile(workbook) as archive:
        named = set(re.findall(r'<name val="([^"]+)"', archive.read("xl/styles.xml").decode("utf-8")))
    pdf = workbook.parent / "pdf" / f"{workbook.stem}.pdf"
    embedded = subprocess.run([require_tool("pdffonts"), str(pdf)], check=True, capture_output=True, text=True)
    return named, embedded.stdout


def _assert_chinese_fonts(workbook: Path) -> None:
    """Every style in 宋体 (Calibri has no Chinese, and an office PC swaps it for whatever it
    finds), and a CJK font in the PDF: the Chinese prints as characters, not boxes."""
    named, embedded = _fonts(workbook)
    assert named == {FONT}, named
    assert "CJK" in embedded, embedded


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("printing")


# ---- the template -------------------------------------------------------------------------


@pytest.mark.parametrize("unit_code", ["MT02", "MT00"])
def test_template_prints_one_page_wide_with_title_labels_and_values_together(
    folder: Path, roster: Roster, catalogue: Catalogue, sample_2021: dict[str, dict[str, float]], unit_code: str
) -> None:
    unit = roster[unit_code]
    values = {code: int(v) if catalogue[code].type == "integer" else v for code, v in sample_2021[unit_code].items()}
    path = folder / f"template_{unit_code}.xlsx"
    build_workbook(unit, 2021, catalogue, values=values).save(path)
    pages = _printed(path)
    assert list(pages) == [DATA_SHEET, INSTRUCTIONS_SHEET]
    data = pages[DATA_SHEET]
    assert len(data) <= 3, f"{len(data)} pages tall"
    kind = "镇本级" if unit.reporter == "township" else "村（居）"
    for page in data:  # the title and the table's headings on every page, every column on it
        assert f"毛田镇2021年度{kind}统计报表" in _squash(page)
        assert all(heading in page for heading in ("序号", "指标名称", "数值", "说明（备注）"))
    assert re.search(rf"填报单位：\s+{unit.name}", data[0]) and re.search(rf"单位代码：\s+{unit.code}", data[0])
    assert re.search(r"报告年度：\s+2021", data[0]) and re.search(r"模板版本：\s+2021\.\d", data[0])
    for indicator in catalogue.for_reporter(unit.reporter):  # the figure on its row, the name on its page
        page, line = _where(data, indicator.code)
        assert _figure_in(line, _shown(sample_2021[unit_code][indicator.code], indicator))
        assert _on_page(indicator.name, page)
    assert all(label in "".join(data) for label in ("单位负责人：", "填表人：", "联系电话：", "报出日期："))
    assert len(pages[INSTRUCTIONS_SHEET]) == 1
    assert "毛田镇2021年度统计报表填报说明" in _squash(pages[INSTRUCTIONS_SHEET][0])
    _assert_chinese_fonts(path)


def test_a_2022_template_says_a_2022_version(folder: Path, roster: Roster) -> None:
    path = write_template(folder / "blank", roster["MT02"], 2022)
    pages = _printed(path)
    assert "毛田镇2022年度村（居）统计报表" in _squash(pages[DATA_SHEET][0])
    assert re.search(r"模板版本：\s+2022\.\d", pages[DATA_SHEET][0])
    assert "2022." in pages[INSTRUCTIONS_SHEET][0] and "2021." not in "".join(pages[INSTRUCTIONS_SHEET])


# ---- the 回执 ---------------------------------------------------------------------------------


def test_feedback_prints_its_table_one_page_wide_and_labels_apart_from_values(
    folder: Path, roster: Roster, catalogue: Catalogue, sample_2021: dict[str, dict[str, float]]
) -> None:
    values = dict(sample_2021["MT02"])
    values.update(REV01="很多", REV02="约12人", REV03=500)
    notes = {"REV03": "说明" * 30}
    source = folder / "MT02_白若村_2021年度统计报表（第二次修改后重新报送的版本）.xlsx"
    build_workbook(roster["MT02"], 2021, catalogue, values=values, notes=notes).save(source)
    result, grid = read_workbook_and_grid(source, catalogue)
    rev03 = next(r for r in result.records if r.indicator_code == "REV03")
    message = "“小额信贷发放笔数”填的是500，超出合理范围0–200；请核实，如属实请在“说明（备注）”栏写明原因。" * 2
    result.problems.append(Problem("range.high", "warning", message, DATA_SHEET, rev03.cell, "REV03"))
    assert len(result.problems) >= 3
    arrival = {
        "year": 2021,
        "file_name": source.name,
        "received_at": "2022-02-01T02:00:00+00:00",
        "archive_path": str(source),
        "submission_id": "e" * 64,
    }
    path = folder / "回执_MT02.xlsx"
    path.write_bytes(feedback_bytes(arrival, result, "rejected", catalogue, roster, grid))
    pages = _printed(path)
    assert list(pages) == ["回执", "原表（标注）"]
    summary = pages["回执"]
    assert len(summary) == 1, f"{len(summary)} pages"
    page = summary[0]
    assert "毛田镇村级报表回执" in _squash(page)
    for label, value in (("报送单位", "白若村（MT02）"), ("报告年度", "2021"), ("收到时间", "2022-02-01 10:00")):
        assert re.search(rf"{label}：?\s+{re.escape(value)}", page), f"{label} runs into {value}"
    assert all(heading in page for heading in ("序号", "类别", "指标", "填写内容", "问题与修改方法"))
    assert "REV01 低保救助对象" in page and "无法识别为数字" in page
    marked = pages["原表（标注）"]
    assert len(marked) <= 3, f"{len(marked)} pages"
    for page in marked:  # the clerk's headings on every page, every column on it
        assert all(heading in page for heading in ("序号", "指标名称", "数值", "说明（备注）"))
    for code in ("REV04", "REV17", "LIV03", "SOC03"):  # the clerk's figures in their formats
        indicator = catalogue[code]
        assert _figure_in(_line_with(marked, code), _shown(sample_2021["MT02"][code], indicator))
    _assert_chinese_fonts(path)


# ---- the township totals ---------------------------------------------------------------------


def test_totals_print_each_section_on_a_page_and_village_names_on_every_page(
    folder: Path, roster: Roster, catalogue: Catalogue, sample_2021: dict[str, dict[str, float]]
) -> None:
    totals = compute_totals(_records(2021), catalogue, roster)
    timeliness = [
        {
            "unit_code": u.code,
            "unit_name": u.name,
            "timeliness": "on_time",
            "first_received": "2022-01-05T02:00:00+00:00",
            "deadline": "2022-03-31T09:59:00+00:00",
            "latest_file": f"{u.code}_{u.name}_2021.xlsx",
        }
        for u in roster.units
    ]
    path = folder / "township_totals.xlsx"
    unit_values = [(u.code, sample_2021[u.code]) for u in roster.units]
    label = "草稿（数据截至 2022-03-31 17:05，尚未审核定稿）"
    previous = compute_totals(_records(2020), catalogue, roster)
    write_totals_xlsx(
        path, 2021, totals, unit_values, catalogue, roster, timeliness, signoff_label=label, previous=previous
    )
    pages = _printed(path)
    assert list(pages) == [*(s.name for s in catalogue.sections), "分村明细", "报送情况", COMPARE_SHEET, CHART_SHEET]
    for sheet in pages.values():  # a draft on paper says so on every page (issue 12)
        assert all(_squash(label) in _squash(page) for page in sheet)
    for section in catalogue.sections:
        assert len(pages[section.name]) == 1, f"{section.name}: {len(pages[section.name])} pages"
        page = pages[section.name][0]
        assert f"毛田镇2021年度{section.name}" in _squash(page)
        assert all(heading in page for heading in ("指标代码", "指标名称", "2021年数值", "完整率"))
        for indicator in catalogue.in_section(section.code):
            value = totals[indicator.code].value
            page, line = _where(pages[section.name], indicator.code)
            assert _on_page(indicator.name, page) and (value is None or _figure_in(line, _shown(value, indicator)))
    breakdown = pages["分村明细"]
    assert len(breakdown) <= 10, f"分村明细: {len(breakdown)} pages"
    for page in breakdown:  # every page says whose figures they are
        assert "单位名称" in page and all(unit.name in page for unit in roster.units)
    printed = "".join(breakdown)
    assert all(indicator.code in printed for indicator in catalogue.indicators if indicator.is_filled_in)
    fin01 = catalogue["FIN01"]
    assert _figure_in(_line_with(breakdown, "MT00"), _shown(sample_2021["MT00"]["FIN01"], fin01))
    assert len(pages["报送情况"]) == 1
    assert all(heading in pages["报送情况"][0] for heading in ("单位代码", "报送情况", "最新文件"))
    compared = pages[COMPARE_SHEET]
    assert len(compared) == 1 and all(ind.code in compared[0] for ind in catalogue.key_figures())
    assert all(heading in compared[0] for heading in ("2020年", "2021年", "增减率", "说明"))
    # two charts, two pages (a page break after the first), their titles and categories
    # printed. LibreOffice puts every chart of a sheet, clipped, in each page's text, so
    # which chart shows on which page was checked by eye (pdftoppm), not here.
    assert len(pages[CHART_SHEET]) == 2
    printed = _squash("".join(pages[CHART_SHEET]))
    share = share_figures(catalogue, totals)[0]
    assert "主要指标较上年增减率" in printed and f"各村（居）{share.name}（{share.measure_unit}）" in printed
    assert all(_squash(ind.name) in printed for ind in catalogue.key_figures())
    assert all(_squash(unit.name) in printed for unit in roster.villages)
    _assert_chinese_fonts(path)


def _records(year: int) -> list[Record]:
    """The sample workbooks' figures, as records."""
    return [
        Record(unit, year, code, value, str(value), DATA_SHEET, "F6")
        for unit, values in sample_values(year).items()
        for code, value in values.items()
    ]
