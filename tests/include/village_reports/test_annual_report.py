"""annual_report.docx and its Markdown twin: the 2021 report's figures, the key-figure
tables with last year, the fonts a township office expects, and the draft or final label."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from docx import Document
from docx.oxml.ns import qn

from village_reports import charts, docx_template, warehouse
from village_reports.catalogue import Catalogue
from village_reports.model import Record
from village_reports.report import (
    NO_PREVIOUS,
    SourceTally,
    change_text,
    phrase,
    sentence,
    source_brief,
    write_outputs,
)
from village_reports.roster import Roster
from village_reports.samples import sample_values
from village_reports.signoff import SignoffState
from village_reports.template import FIRST_DATA_ROW
from village_reports.totals import TownshipTotal, comparable, previous_year

from ...conftest import libreoffice_convert, require_tool, require_writer, totals_in_a_warehouse

Values = dict[str, dict[str, float]]  # unit -> indicator -> value
DRAFT = SignoffState(2021, False, None, None, "2022-01-05T02:00:00+00:00", None).label()
FINAL = SignoffState(2021, True, "张三", "2022-01-20T01:30:00+00:00", "2022-01-05T02:00:00+00:00", "approved").label()


def _records(values: Values, year: int, catalogue: Catalogue, roster: Roster) -> list[Record]:
    """Each unit's figures on the rows of its template, as the reader would give them."""
    records = []
    for unit in roster.units:
        for row, ind in enumerate(catalogue.for_reporter(unit.reporter), start=FIRST_DATA_ROW):
            value = values.get(unit.code, {}).get(ind.code)
            records.append(Record(unit.code, year, ind.code, value, str(value), "填报表", f"F{row}"))
    return records


Writer = Callable[..., Path]


@pytest.fixture
def write_year(tmp_path: Path, catalogue: Catalogue, roster: Roster) -> Writer:
    """The outputs of the last of ``years`` (year -> values), computed in a warehouse that
    holds them all, as ``pipeline.report_year`` writes them; the .docx's path."""

    def write(years: Mapping[int, Values], label: str = DRAFT) -> Path:
        url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
        for year in sorted(years):
            totals, sources = totals_in_a_warehouse(_records(years[year], year, catalogue, roster), url, year)
        year = max(years)
        paths = write_outputs(
            tmp_path / "out",
            year,
            totals,
            sources=sources,
            catalogue=catalogue,
            roster=roster,
            signoff_label=label,
            previous=previous_year(warehouse.get_engine(url), year),
        )
        return next(p for p in paths if p.suffix == ".docx")

    return write


def _text(docx: Path) -> str:
    """Every paragraph's and every table cell's text, white space removed."""
    document = Document(str(docx))
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return re.sub(r"\s+", "", "".join([p.text for p in document.paragraphs] + cells))


def _key_row(docx: Path, name: str) -> list[str]:
    """The key-figure table row of indicator ``name``: name, this year, last year, change."""
    document = Document(str(docx))
    rows = [[c.text for c in row.cells] for table in document.tables[:-1] for row in table.rows]
    return next(row for row in rows if row[0] == name)


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def samples() -> dict[int, Values]:
    return {year: sample_values(year) for year in (2020, 2021)}


def test_docx_and_markdown_hold_every_quoted_figure_of_2021(
    write_year: Writer, samples: dict[int, Values], catalogue: Catalogue, seed_text: str
) -> None:
    docx = write_year(samples)
    text, markdown = _text(docx), _squash((docx.parent / "annual_report.md").read_text(encoding="utf-8"))
    totals = {line.split(",")[0]: line.split(",")[4] for line in (docx.parent / "township_totals.csv").read_text(
        encoding="utf-8-sig").splitlines()[1:]}  # fmt: skip
    for ind in catalogue.indicators:
        if ind.quoted:
            value = float(totals[ind.code])
            assert (ind.quote or ind.sentence).format(figure=phrase(value, ind)) in seed_text, ind.code
            said = _squash(sentence(value, ind))
            assert said in text and said in markdown, ind.code
    for twin in (text, markdown):  # each section, 报送情况 and the brief appendix
        assert all(f"{s.name}" in twin for s in catalogue.sections) and "报送情况" in twin
        assert "18个村（居）填报表F7" in twin and "镇本级填报表F6" in twin
        assert "鸣山村" not in twin  # no unit listed cell by cell: that is township_total_sources.csv


def test_styles_name_their_chinese_fonts_as_east_asian_fonts(tmp_path: Path) -> None:
    path = docx_template.write_template(tmp_path)
    document = Document(str(path))
    expected = {"Normal": "仿宋_GB2312", "Title": "方正小标宋简体", "Heading 1": "黑体", "Heading 2": "楷体_GB2312"}
    for name, font in expected.items():
        fonts = document.styles[name].element.rPr.find(qn("w:rFonts"))
        assert {fonts.get(qn(f"w:{a}")) for a in ("eastAsia", "ascii", "hAnsi")} == {font}, name
    sizes = {name: document.styles[name].font.size.pt for name in expected}
    assert sizes == {"Normal": 16, "Title": 22, "Heading 1": 16, "Heading 2": 16}
    themed = [
        element.attrib
        for part in (document.styles.element, document.element)
        for element in part.iter(qn("w:rFonts"))
        if any("heme" in attribute for attribute in element.attrib)
    ]
    assert not themed, themed[:3]
    section = document.sections[0]
    margins = (section.top_margin, section.bottom_margin, section.left_margin, section.right_margin)
    assert [round(x.mm) for x in margins] == [37, 35, 28, 26]


@pytest.mark.libreoffice
def test_pdf_prints_the_chinese_in_a_cjk_font(write_year: Writer, samples: dict[int, Values]) -> None:
    require_writer()
    docx = write_year(samples)
    pdf = libreoffice_convert(docx, "pdf", docx.parent / "pdf")
    text = _squash(
        subprocess.run([require_tool("pdftotext"), str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    )
    for said in (
        "毛田镇2021年度工作总结",
        "全镇共纳入低保救助对象1137人",
        "今年我镇的改厕任务1350个已全部完成",
        "报送情况",
    ):
        assert said in text, said
    assert "1137人" in text and "数据来源说明" in text
    fonts = subprocess.run([require_tool("pdffonts"), str(pdf)], check=True, capture_output=True, text=True).stdout
    assert "CJK" in fonts, fonts


def _moved(samples: dict[int, Values], unit: str, by: float) -> dict[int, Values]:
    """2021 as 2020 for 低保救助对象 (REV01), but ``unit``'s figure moved by ``by``."""
    moved = {u: dict(v) for u, v in samples[2021].items()}
    for code, values in samples[2020].items():
        if "REV01" in values:
            moved[code]["REV01"] = values["REV01"] + (by if code == unit else 0)
    return {2020: samples[2020], 2021: moved}


@pytest.mark.parametrize(("by", "change"), [(12, "比上年增加 12 人"), (-3, "比上年减少 3 人"), (0, "持平")])
def test_one_villages_figure_moves_the_key_tables_change(
    write_year: Writer, samples: dict[int, Values], by: float, change: str
) -> None:
    docx = write_year(_moved(samples, "MT05", by))
    *_, said = _key_row(docx, "低保救助对象")
    assert said == change
    assert "| 低保救助对象 |" in (docx.parent / "annual_report.md").read_text(encoding="utf-8")
    assert change in (docx.parent / "annual_report.md").read_text(encoding="utf-8")


def test_a_first_year_says_last_year_has_no_data(write_year: Writer, samples: dict[int, Values], catalogue) -> None:
    docx = write_year({2021: samples[2021]})
    document = Document(str(docx))
    rows = [[c.text for c in row.cells] for table in document.tables[:-1] for row in table.rows[1:]]
    assert len(rows) == len(catalogue.key_figures())
    assert {(row[2], row[3]) for row in rows} == {(NO_PREVIOUS, NO_PREVIOUS)}
    markdown = (docx.parent / "annual_report.md").read_text(encoding="utf-8")
    names = {ind.name for ind in catalogue.key_figures()}
    table_rows = [line.strip("|").split(" | ") for line in markdown.splitlines() if line.count(" | ") == 3]
    said = {(cells[2], cells[3].strip()) for cells in table_rows if cells[0].strip() in names}
    assert said == {(NO_PREVIOUS, NO_PREVIOUS)}


def test_the_draft_says_so_in_red_and_the_final_names_its_approver(
    write_year: Writer, samples: dict[int, Values]
) -> None:
    def label(docx: Path) -> tuple[str, object]:
        paragraph = Document(str(docx)).paragraphs[2]  # under the title and the author
        return paragraph.text, paragraph.runs[0].font.color.rgb

    draft = write_year({2021: samples[2021]}, DRAFT)
    assert label(draft) == (DRAFT, docx_template.DRAFT_RED) and DRAFT.startswith("草稿")
    final = write_year({2021: samples[2021]}, FINAL)
    assert label(final)[0] == FINAL and label(final)[1] != docx_template.DRAFT_RED and "张三" in FINAL
    assert (final.parent / "annual_report.md").read_text(encoding="utf-8").splitlines()[2] == f"**{FINAL}**"


def test_the_charts_are_placed_with_captions_and_one_not_drawn_is_left_out(
    write_year: Writer, samples: dict[int, Values], monkeypatch: pytest.MonkeyPatch
) -> None:
    document = Document(str(write_year({2021: samples[2021]})))  # write_outputs draws them first
    assert len(document.inline_shapes) == 3 and round(document.inline_shapes[0].width.cm) == 15
    text = "\n".join(p.text for p in document.paragraphs)
    assert (
        "图1　主要指标历年走势" in text and "图2　主要指标各村（居）构成" in text and "图3　各单位报送完整情况" in text
    )

    draw = charts.write_charts

    def without_shares(folder: Path, *args: Any, **kwargs: Any) -> dict[str, Path]:
        drawn = draw(folder, *args, **kwargs)
        drawn.pop("shares").unlink()
        return drawn

    monkeypatch.setattr(charts, "write_charts", without_shares)
    drawn = write_year({2021: samples[2021]})
    text = _text(drawn)
    assert len(Document(str(drawn)).inline_shapes) == 2
    assert "图1主要指标历年走势" in text and "图2各单位报送完整情况" in text and "构成" not in text
    assert "八、主要指标走势" in text and "九、报送情况" in text


def test_the_offices_template_is_used_when_set(
    write_year: Writer, samples: dict[int, Values], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    edited = Document(str(docx_template.write_template(tmp_path / "office")))
    edited.add_paragraph("毛田镇党政综合办公室 {{ year }}年编")
    edited.save(str(tmp_path / "office" / "ours.docx"))
    monkeypatch.setenv("VILLAGE_REPORTS_REPORT_TEMPLATE", str(tmp_path / "office" / "ours.docx"))
    assert "毛田镇党政综合办公室2021年编" in _text(write_year({2021: samples[2021]}))
    monkeypatch.setenv("VILLAGE_REPORTS_REPORT_TEMPLATE", str(tmp_path / "missing.docx"))
    with pytest.raises(FileNotFoundError, match="VILLAGE_REPORTS_REPORT_TEMPLATE"):
        write_year({2021: samples[2021]})


@pytest.mark.parametrize(
    ("code", "now", "before", "said"),
    [
        ("REV01", 1137, 1125, "比上年增加 12 人"),
        ("REV04", 784.5, 700, "比上年增长 12.1%"),
        ("REV04", 700, 784.5, "比上年下降 10.8%"),
        ("SOC05", 80, 73.6, "比上年提高 6.4 个百分点"),
        ("REV01", 1137, 1137, "持平"),
        ("REV01", 1137, None, NO_PREVIOUS),
        ("REV01", 1137, 0, "比上年增加 1137 人"),
    ],
)
def test_change_is_said_as_a_statistical_report_says_it(
    catalogue: Catalogue, code: str, now: float, before: float | None, said: str
) -> None:
    assert change_text(_total(code, now), _total(code, before), catalogue[code]) == said


def _total(code: str, value: float | None, reported: int = 18, expected: int = 18) -> TownshipTotal:
    return TownshipTotal(code, value, reported if value is not None else 0, expected)


@pytest.mark.parametrize(
    ("now", "before", "said"),
    [
        (_total("REV01", 60, 1), _total("REV01", 1137), "本年已报1个单位（应报18个），暂不比较"),
        (_total("REV01", 1137), _total("REV01", 1000, 17), "上年仅17个单位报告（应报18个），不作比较"),
        (_total("REV01", 60, 1), None, NO_PREVIOUS),
        (_total("REV01", None), _total("REV01", 1137), "本年暂无数据"),
    ],
)
def test_a_partial_total_is_never_compared(
    catalogue: Catalogue, now: TownshipTotal, before: TownshipTotal | None, said: str
) -> None:
    """A sum over the units that have reported so far, against a year that all reported,
    would read as a fall of 95%: the change is not computed, and the reason is said."""
    assert change_text(now, before, catalogue["REV01"]) == said
    assert comparable(now, before) is False
    assert comparable(_total("REV01", 1137), _total("REV01", 1000)) is True


@pytest.mark.parametrize(
    ("partial_year", "said"),
    [(2021, "本年已报1个单位（应报18个），暂不比较"), (2020, "上年仅1个单位报告（应报18个），不作比较")],
)
def test_a_partial_year_in_the_report_says_why_it_is_not_compared(
    write_year: Writer, samples: dict[int, Values], partial_year: int, said: str
) -> None:
    """Last year's coverage comes from the warehouse (totals.previous_year), this year's
    from its totals: the key table compares neither way round, and says why."""
    years = {**samples, partial_year: {"MT05": samples[partial_year]["MT05"]}}
    docx = write_year(years)

    def township(year: int) -> str:  # the year's 低保 total, over the units it has
        return f"{sum(values['REV01'] for values in years[year].values() if 'REV01' in values):.0f} 人"

    assert _key_row(docx, "低保救助对象")[1:] == [township(2021), township(2020), said]
    markdown = (docx.parent / "annual_report.md").read_text(encoding="utf-8")
    assert said in markdown
    assert not re.search(r"比上年(增加|减少|增长|下降|提高)", markdown)  # no key figure is compared


def test_the_brief_source_counts_units_and_names_the_usual_cell(catalogue: Catalogue) -> None:
    villages = SourceTally(villages=3)
    villages.cells.update({("填报表", "F7"): 2, ("填报表", "F8"): 1})
    assert source_brief(catalogue["REV01"], {"REV01": villages}) == "3个村（居）填报表 F7（其中1个单位在其他单元格）"
    township = SourceTally(township=True)
    township.cells["填报表", "F6"] = 1
    assert source_brief(catalogue["FIN01"], {"FIN01": township}) == "镇本级填报表 F6"
    assert source_brief(catalogue["FIN03"], {"FIN02": villages}).startswith("FIN02为1的3个村（居）")
    assert source_brief(catalogue["REV01"], {}) == "暂无填报"
