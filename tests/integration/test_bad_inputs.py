"""A corpus of bad inputs, generated here, run through the pipeline beside the good files.

For every kind: the run completes for the other units, the file is kept (inbox and
archive), it gets a clear Chinese message in its 回执, and every file received is exactly
one of accepted, accepted with warnings, rejected or duplicate. Reading any of them in a
process capped at 1 GiB of address space shows that memory stays bounded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest
from openpyxl import Workbook
from sqlalchemy import text

from village_reports import intake, pipeline, settings, warehouse
from village_reports.feedback import feedback_paths
from village_reports.roster import load_roster
from village_reports.samples import sample_values, write_samples
from village_reports.template import (
    COL_CODE,
    COL_NOTE,
    COL_VALUE,
    COLUMNS,
    DATA_SHEET,
    LABEL_VERSION,
    build_workbook,
)

YEAR = 2021
CODE_COL, VALUE_COL, NOTE_COL = (COLUMNS.index(c) + 1 for c in (COL_CODE, COL_VALUE, COL_NOTE))


@dataclass(frozen=True)
class Kind:
    name: str
    file_name: str
    build: Callable[[Path], None]  # writes the file at the given path
    outcome: str  # accepted | accepted_with_warnings | rejected | duplicate
    says: str  # words its 回执 (or, for a duplicate, the warehouse) must contain


# ---- builders --------------------------------------------------------------------------------


def _workbook(unit: str = "MT01", year: int = YEAR, edit: Callable[[Workbook], None] | None = None) -> Workbook:
    workbook = build_workbook(load_roster()[unit], year, values=sample_values(year)[unit])
    if edit:
        edit(workbook)
    return workbook


def _row(ws, code: str) -> int:
    return next(r for r in range(1, ws.max_row + 1) if ws.cell(row=r, column=CODE_COL).value == code)


def _set(code: str, value: object, note: str | None = None) -> Callable[[Workbook], None]:
    def edit(wb: Workbook) -> None:
        ws = wb[DATA_SHEET]
        ws.cell(row=_row(ws, code), column=VALUE_COL).value = value
        if note is not None:
            ws.cell(row=_row(ws, code), column=NOTE_COL).value = note

    return edit


def _percent(code: str, fraction: float) -> Callable[[Workbook], None]:
    """The figure typed as a percentage in Excel: stored as a fraction, shown with %."""

    def edit(wb: Workbook) -> None:
        cell = wb[DATA_SHEET].cell(row=_row(wb[DATA_SHEET], code), column=VALUE_COL)
        cell.value, cell.number_format = fraction, "0%"

    return edit


def saved(
    unit: str = "MT01", year: int = YEAR, edit: Callable[[Workbook], None] | None = None
) -> Callable[[Path], None]:
    return lambda path: _workbook(unit, year, edit).save(path)


def raw(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


def _good_bytes(unit: str = "MT01") -> bytes:
    from io import BytesIO

    buffer = BytesIO()
    _workbook(unit).save(buffer)
    return buffer.getvalue()


def truncated(path: Path) -> None:
    path.write_bytes(_good_bytes()[:3000])


def docx_like(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<document>村级报表</document>")


def encrypted(path: Path) -> None:
    from io import BytesIO

    from msoffcrypto.format.ooxml import OOXMLFile

    with path.open("wb") as out:
        OOXMLFile(BytesIO(_good_bytes())).encrypt("mima123", out)


def oversized(path: Path) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/media/padding.bin", os.urandom(21 * 1024 * 1024))


def zip_bomb(path: Path) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as part:
            block = b"<c/>" * (1 << 20)
            for _ in range(64):  # 256 MiB of XML, a few hundred KB zipped
                part.write(block)


def _rewrite(path: Path, change: Callable[[dict[str, bytes]], None]) -> None:
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    change(entries)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


def entity_attack(path: Path) -> None:
    saved()(path)
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(
            b'<!ENTITY lol%d "%s">' % (i, b"&lol%d;" % (i - 1) * 10 if i > 1 else b"&lol;" * 10) for i in range(1, 10)
        )
        + b"]>"
    )

    def change(entries: dict[str, bytes]) -> None:
        body = entries["xl/workbook.xml"]
        entries["xl/workbook.xml"] = laughs + body[body.index(b"<workbook") :]

    _rewrite(path, change)


def with_macros(path: Path) -> None:
    saved()(path)
    _rewrite(path, lambda entries: entries.update({"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0 fake macro project"}))


def formula_without_result(path: Path) -> None:
    saved(edit=_set("REV01", "=100+37"))(path)


def drop_data_sheet(wb: Workbook) -> None:
    del wb[DATA_SHEET]


def rename_headers(wb: Workbook) -> None:
    ws = wb[DATA_SHEET]
    for cell in ws[5]:
        if cell.value == COL_CODE:
            cell.value = "编号"


def duplicate_row(wb: Workbook) -> None:
    ws = wb[DATA_SHEET]
    ws.cell(row=ws.max_row + 2, column=CODE_COL, value="REV01")
    ws.cell(row=ws.max_row, column=VALUE_COL, value=7)


def unknown_row(wb: Workbook) -> None:
    ws = wb[DATA_SHEET]
    ws.cell(row=ws.max_row + 2, column=CODE_COL, value="REV98")
    ws.cell(row=ws.max_row, column=VALUE_COL, value=7)


def set_header(label: str, value: object) -> Callable[[Workbook], None]:
    def edit(wb: Workbook) -> None:
        ws = wb[DATA_SHEET]
        for row in ws.iter_rows(max_row=4):
            for cell in row:
                if cell.value == f"{label}：":
                    ws.cell(row=cell.row, column=cell.column + 1).value = value

    return edit


def injected_note(wb: Workbook) -> None:
    """Text that looks like a formula, stored as text (as a CSV import or a leading ' leaves it)."""
    _set("REV01", 50000)(wb)
    ws = wb[DATA_SHEET]
    cell = ws.cell(row=_row(ws, "REV01"), column=NOTE_COL)
    cell.value = '=HYPERLINK("http://example.invalid","点我")'
    cell.data_type = "s"


KINDS = [
    Kind("corrupt_zip", "MT01_损坏.xlsx", truncated, "rejected", "已损坏"),
    Kind("text_renamed_xlsx", "MT01_文本.xlsx", raw("鸣山村 低保 1137".encode()), "rejected", "不是 Excel 工作簿"),
    Kind(
        "image_renamed_xlsx", "MT01_照片.xlsx", raw(b"\x89PNG\r\n\x1a\n" + b"\0" * 64), "rejected", "不是 Excel 工作簿"
    ),
    Kind("csv_file", "MT01_导出.csv", raw("指标代码,数值\nREV01,50\n".encode()), "rejected", "不是 Excel 工作簿"),
    Kind("word_document", "MT01_说明.docx", docx_like, "rejected", "不是 Excel 工作簿"),
    Kind("password_protected", "MT01_加密.xlsx", encrypted, "rejected", "打开密码"),
    Kind("empty_file", "MT01_空.xlsx", raw(b""), "rejected", "空的"),
    Kind("empty_workbook", "MT01_空表.xlsx", lambda p: Workbook().save(p), "rejected", "找不到填报表"),
    Kind("missing_sheet", "MT01_缺表.xlsx", saved(edit=drop_data_sheet), "rejected", "找不到填报表"),
    Kind("moved_headers", "MT01_改表头.xlsx", saved(edit=rename_headers), "rejected", "找不到填报表"),
    Kind("text_in_number", "MT01_文字.xlsx", saved(edit=_set("REV01", "很多")), "rejected", "无法识别为数字"),
    Kind(
        "date_in_number", "MT01_日期.xlsx", saved(edit=_set("REV01", dt.datetime(2021, 5, 1))), "rejected", "应填数字"
    ),
    Kind("negative_count", "MT01_负数.xlsx", saved(edit=_set("REV01", -5)), "rejected", "不能小于"),
    Kind("not_whole", "MT01_小数.xlsx", saved(edit=_set("REV03", 3.5)), "rejected", "应为整数"),
    Kind("above_maximum", "MT01_过大.xlsx", saved(edit=_set("REV01", 99999)), "rejected", "超出合理范围"),
    Kind(
        "percentage_over_100",
        "MT00_立案率.xlsx",
        saved("MT00", edit=_set("SAF08", 150)),
        "rejected",
        "超出合理范围",
    ),
    # a value far out (4.9 KB of file) once made calamine allocate 512 GiB and abort the run
    Kind(
        "far_cell",
        "MT01_远端.xlsx",
        saved(edit=lambda wb: wb[DATA_SHEET].__setitem__("XFD1048576", 1)),
        "rejected",
        "远超填报表的范围",
    ),
    Kind("percent_cell", "MT00_百分比.xlsx", saved("MT00", edit=_percent("SAF08", 0.85)), "accepted", "已按 85% 读取"),
    # a blank is "not reported": the file is accepted and the 回执 lists the blank's row
    Kind("blank_required", "MT01_漏填.xlsx", saved(edit=_set("REV01", None)), "accepted_with_warnings", "1 项没有填写"),
    Kind("duplicated_row", "MT01_重复行.xlsx", saved(edit=duplicate_row), "rejected", "出现了两次"),
    Kind("unknown_row", "MT01_多一行.xlsx", saved(edit=unknown_row), "accepted_with_warnings", "不在指标目录中"),
    Kind("formula_ref_error", "MT01_REF.xlsx", saved(edit=_set("REV01", "#REF!")), "rejected", "公式出错"),
    Kind("formula_div_zero", "MT01_DIV0.xlsx", saved(edit=_set("REV01", "#DIV/0!")), "rejected", "#DIV/0!"),
    Kind("formula_not_calculated", "MT01_公式.xlsx", formula_without_result, "rejected", "没有计算结果"),
    Kind("relation_violated", "MT01_劝返.xlsx", saved(edit=_set("SOC02", 9)), "rejected", "不能多于缅北滞留人员"),
    Kind(
        "confirmed_with_note",
        "MT01_已说明.xlsx",
        saved(edit=_set("REV01", 1500, note="年中两个组并入本村")),
        "accepted_with_warnings",
        "已由填报单位说明：年中两个组并入本村",
    ),
    Kind(
        "outlier_against_peers",
        "MT05_垃圾箱.xlsx",
        saved("MT05", edit=_set("LIV10", 990)),
        "accepted_with_warnings",
        "远高于其他村",
    ),
    Kind("approximate_value", "MT01_约数.xlsx", saved(edit=_set("REV01", "约60")), "accepted_with_warnings", "约数"),
    Kind(
        "old_template",
        "MT01_旧模板.xlsx",
        saved(edit=set_header(LABEL_VERSION, "2019.1")),
        "accepted_with_warnings",
        "旧版模板",
    ),
    Kind("unknown_unit", "村报表.xlsx", saved(edit=set_header("单位代码", "XX99")), "rejected", "不在名册中"),
    Kind("wrong_year", "MT01_鸣山村_2020.xlsx", saved(year=2020), "rejected", "报告年度是 2020 年"),
    Kind("another_units_workbook", "MT03_中兴村_2021年报.xlsx", saved("MT01"), "rejected", "发错了文件"),
    Kind("file_too_large", "MT01_大文件.xlsx", oversized, "rejected", "超过 20 MB"),
    Kind("zip_bomb", "MT01_炸弹.xlsx", zip_bomb, "rejected", "压缩炸弹"),
    Kind("xml_entity_attack", "MT01_实体.xlsx", entity_attack, "rejected", "XML 实体"),
    Kind("macro_enabled", "MT01_宏.xlsm", with_macros, "rejected", "含有宏"),
    Kind(
        "formula_injection_text", "MT01_注入.xlsx", saved(edit=injected_note), "accepted_with_warnings", "'=HYPERLINK"
    ),
    Kind("path_tricks_name", "..%2F..%2Fetc%2Fpasswd.xlsx", raw(b"root:x:0:0"), "rejected", "不是 Excel 工作簿"),
    Kind("odd_characters_name", "报表\n(最终版)\u202egpj.xlsx  ", truncated, "rejected", "已损坏"),
    Kind(
        "same_unit_second_file",
        "MT02_白若村_2021_修改.xlsx",
        saved("MT02", edit=_set("REV01", 60)),
        "accepted",
        "已接收",
    ),
    Kind("exact_duplicate", "MT04_再次发送.xlsx", lambda p: None, "duplicate", "duplicate"),
]


# ---- the run ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("bad_inputs")
    env = {
        "VILLAGE_REPORTS_DATA_DIR": str(root / "data"),
        "VILLAGE_REPORTS_OUTPUT_DIR": str(root / "output"),
        "AIRFLOW_CONN_VILLAGE_WAREHOUSE": f"sqlite:///{root / 'data' / 'warehouse.sqlite'}",
    }
    previous = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        good = write_samples(settings.inbox_dir(), [YEAR])
        folder = settings.inbox_dir() / str(YEAR)
        later = max(p.stat().st_mtime for p in good) + 3600
        for kind in KINDS:
            path = folder / kind.file_name
            if kind.outcome == "duplicate":
                shutil.copyfile(next(folder.glob("MT04_*")), path)
            else:
                kind.build(path)
            os.utime(path, (later, later))  # arrives after the good files, the same night
        inbox = {p.name: p.read_bytes() for p in folder.iterdir() if p.name != intake.REGISTER_NAME}
        lines = pipeline.run_ingest(batch_size=100)  # one GX run, peers all present
        pipeline.finish_run([lines])
        with warehouse.get_engine().connect() as connection:
            received = {
                row.file_name: row._asdict()
                for row in connection.execute(text("SELECT * FROM received_files WHERE year = :y"), {"y": YEAR})
            }
            accounting = connection.execute(text("SELECT * FROM file_accounting WHERE year = :y"), {"y": YEAR}).one()
        yield {"root": root, "inbox": inbox, "received": received, "accounting": accounting._asdict(), "good": good}
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _feedback_text(root: Path, unit_code: str | None, submission_id: str) -> str:
    *_, path = feedback_paths(root / "output", YEAR, unit_code, submission_id, load_roster())
    workbook = openpyxl.load_workbook(path)
    return "\n".join(str(c.value) for ws in workbook for row in ws.iter_rows() for c in row if c.value is not None)


def test_corpus_has_at_least_thirty_kinds() -> None:
    assert len({k.name for k in KINDS}) == len(KINDS) >= 30


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_each_bad_file_is_kept_accounted_and_explained(corpus_run: dict, kind: Kind) -> None:
    root, received = corpus_run["root"], corpus_run["received"]
    row = received[kind.file_name]
    assert row["outcome"] == kind.outcome
    content = corpus_run["inbox"][kind.file_name]
    assert (root / "data" / "inbox" / str(YEAR) / kind.file_name).read_bytes() == content  # left where it was
    digest = hashlib.sha256(content).hexdigest()
    archived = list((root / "data" / "archive").rglob(f"{digest}*"))
    assert archived and archived[0].read_bytes() == content
    assert stat.S_IMODE(archived[0].stat().st_mode) == 0o444  # read-only
    if kind.outcome == "duplicate":
        return
    assert kind.says in _feedback_text(root, row["unit_code"], row["submission_id"])


def test_every_file_received_is_exactly_one_outcome(corpus_run: dict) -> None:
    accounting = corpus_run["accounting"]
    assert accounting["received"] == len(corpus_run["inbox"]) == 19 + len(KINDS)
    parts = ("accepted", "accepted_with_warnings", "rejected", "duplicate")
    assert accounting["received"] == sum(accounting[p] for p in parts)
    assert accounting["unaccounted"] == 0


def test_the_good_files_went_through(corpus_run: dict) -> None:
    outcomes = {p.name: corpus_run["received"][p.name]["outcome"] for p in corpus_run["good"]}
    assert set(outcomes.values()) == {"accepted"}


def test_a_units_later_file_supersedes_the_earlier_one(corpus_run: dict) -> None:
    received = corpus_run["received"]
    second = received["MT02_白若村_2021_修改.xlsx"]
    first = next(row for name, row in received.items() if name.startswith("MT02_白若村_2021.xlsx"))
    assert second["is_current"] and not first["is_current"]


def test_text_from_a_submission_cannot_run_as_a_formula(corpus_run: dict) -> None:
    row = corpus_run["received"]["MT01_注入.xlsx"]
    *_, path = feedback_paths(corpus_run["root"] / "output", YEAR, "MT01", row["submission_id"], load_roster())
    workbook = openpyxl.load_workbook(path)
    for ws in workbook:
        for cells in ws.iter_rows():
            for cell in cells:
                assert cell.data_type != "f", f"{ws.title}!{cell.coordinate} holds a formula"


READ_CAPPED = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from village_reports.reader import read_workbook
for path in sys.argv[1:]:
    result = read_workbook(path)
    print(len(result.records), [p.code for p in result.problems if p.severity == "error"][:1])
"""


def test_reading_any_bad_file_stays_within_one_gib(corpus_run: dict) -> None:
    folder = corpus_run["root"] / "data" / "inbox" / str(YEAR)
    paths = [str(folder / k.file_name) for k in KINDS]
    run = subprocess.run([sys.executable, "-c", READ_CAPPED, *paths], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert len(run.stdout.splitlines()) == len(paths)
