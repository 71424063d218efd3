"""A second township runs on its own roster: every title names it, none names 毛田镇
(issue 11: the township's name comes from the roster, not from the code)."""

from __future__ import annotations

from pathlib import Path

import docx
import openpyxl
import pytest

from village_reports import pipeline, settings
from village_reports.roster import load_roster
from village_reports.samples import write_samples
from village_reports.template import write_template

PLACE = "相思镇"


@pytest.fixture
def second_township(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    text = (Path(pipeline.__file__).parent / "data" / "roster.yaml").read_text(encoding="utf-8")
    renamed = text.replace("name: 毛田镇本级", f"name: {PLACE}本级").replace(
        "岳阳县毛田镇人民政府", f"岳阳县{PLACE}人民政府"
    )
    assert renamed.count(PLACE) == 2
    (tmp_path / "roster.yaml").write_text(renamed, encoding="utf-8")
    monkeypatch.setenv("VILLAGE_REPORTS_ROSTER", str(tmp_path / "roster.yaml"))
    load_roster.cache_clear()
    yield PLACE
    load_roster.cache_clear()


def _texts(folder: Path) -> dict[str, str]:
    """Every output's text: workbooks' cell strings, and the text files."""
    found = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix == ".xlsx":
            workbook = openpyxl.load_workbook(path)
            cells = (c.value for ws in workbook for row in ws.iter_rows() for c in row if isinstance(c.value, str))
            found[path.name] = "\n".join([*cells, workbook.properties.title or "", workbook.properties.creator or ""])
        elif path.suffix == ".docx":
            document = docx.Document(str(path))
            cells = (cell.text for table in document.tables for row in table.rows for cell in row.cells)
            found[path.name] = "\n".join([*(p.text for p in document.paragraphs), *cells])
        elif path.suffix in (".md", ".csv"):
            found[path.name] = path.read_text(encoding="utf-8-sig")
    return found


@pytest.mark.parametrize("project", ["sqlite"], indirect=True)
def test_every_title_names_the_rosters_township(second_township: str, project: Path) -> None:
    roster = load_roster()
    templates = project / "templates"
    write_template(templates, roster.township, 2021)
    write_template(templates, roster["MT01"], 2021)
    write_samples(settings.inbox_dir(), [2021])
    pipeline.finish_run([pipeline.run_ingest()])
    pipeline.report_year(2021)

    texts = {**_texts(templates), **_texts(settings.output_dir())}
    assert texts and not [name for name, text in texts.items() if "毛田镇" in text]
    assert texts["annual_report.md"].startswith(f"# {PLACE}2021年度工作总结")
    assert texts["annual_report.docx"].startswith(f"{PLACE}2021年度工作总结")
    totals = openpyxl.load_workbook(settings.output_dir() / "2021" / "township_totals.xlsx")
    assert {ws["A1"].value.split("2021")[0] for ws in totals} == {PLACE}
    template = openpyxl.load_workbook(templates / next(p.name for p in templates.iterdir() if "MT01" in p.name))
    assert template.active["A1"].value == f"{PLACE}2021年度村（居）统计报表"
    assert template.properties.creator == f"{PLACE}人民政府"
