"""The upload page and the dashboard (village_reports.pages), through Airflow's own auth.

No dependency is overridden: each request carries a JWT that Airflow's SimpleAuthManager
made (as the UI's ``_token`` cookie), or none, and goes through the same
``requires_access_dag`` chain as on the api-server. Every refused request is checked to
have written nothing: no inbox file, no temporary file, no 回执.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook

ORIGIN = "http://testserver"
GOOD_NAME = "MT01_鸣山村_2021.xlsx"


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """Airflow's metadata DB in the session's AIRFLOW_HOME: ``requires_access_dag`` asks
    it which team owns the DAG."""
    airflow = str(Path(sys.executable).with_name("airflow"))
    subprocess.run([airflow, "db", "migrate"], check=True, capture_output=True, timeout=300)


@pytest.fixture(scope="session")
def auth_manager(airflow_db):  # type: ignore[no-untyped-def]
    from airflow.api_fastapi.app import create_auth_manager

    manager = create_auth_manager()
    manager.init()
    return manager


def token(auth_manager, role: str) -> str:  # type: ignore[no-untyped-def]
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return auth_manager.generate_jwt(SimpleAuthManagerUser(username=f"test-{role}", role=role))


@pytest.fixture
def work(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("VILLAGE_REPORTS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VILLAGE_REPORTS_OUTPUT_DIR", str(tmp_path / "output"))
    monkeypatch.setenv("AIRFLOW_CONN_VILLAGE_WAREHOUSE", f"sqlite:///{tmp_path / 'data' / 'warehouse.sqlite'}")
    return tmp_path


@pytest.fixture
def app(auth_manager, work):  # type: ignore[no-untyped-def]
    from village_reports.pages.app import create_app

    return create_app()


def client(app, auth_manager=None, role: str | None = None):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    test_client = TestClient(app, base_url=ORIGIN, follow_redirects=False)
    if role is not None:
        test_client.cookies.set("_token", token(auth_manager, role))
    return test_client


@pytest.fixture
def statistician(app, auth_manager):  # type: ignore[no-untyped-def]
    """A user who may trigger DAGs (SimpleAuthManager's role ``user``)."""
    return client(app, auth_manager, "user")


def written(work: Path) -> list[str]:
    """Every file under data/ and output/ but the warehouse and the upload lock."""
    found = []
    for root in (work / "data", work / "output"):
        found += [p.relative_to(work).as_posix() for p in root.rglob("*") if p.is_file()] if root.exists() else []
    return sorted(f for f in found if not f.startswith("data/warehouse.sqlite") and f != "data/upload.lock")


def post(test_client, files: list[tuple[str, bytes]], year: str = "2021", **headers: str):  # type: ignore[no-untyped-def]
    return test_client.post(
        "/upload",
        data={"year": year},
        files=[("files", (name, data, "application/octet-stream")) for name, data in files],
        headers={"Origin": ORIGIN, "Accept": "text/html", **headers},
    )


def verdicts(html: str) -> dict[str, str]:
    return dict(re.findall(r'<section class="verdict" data-file="([^"]*)" data-status="([^"]*)">', html))


def receipt_links(html: str) -> list[str]:
    return re.findall(r'<a class="receipt" href="([^"]+)"', html)


@pytest.fixture
def good(make_workbook) -> bytes:
    return make_workbook("MT01", 2021).read_bytes()


# ---------------------------------------------------------------------------------------
# Who may do what


@pytest.mark.parametrize("path", ["/upload", "/dashboard", "/receipts/" + "0" * 32 + "/x.xlsx", "/outputs/2021/x.csv"])
def test_an_anonymous_request_gets_no_page(app, work, path: str) -> None:
    anonymous = client(app)
    answer = anonymous.get(path, headers={"Accept": "application/json"})
    assert answer.status_code == 401
    assert "<table" not in answer.text and "upload-form" not in answer.text


def test_an_anonymous_browser_is_sent_to_the_login(app, work) -> None:
    answer = client(app).get("/dashboard", headers={"Accept": "text/html"})
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/auth/login?next=")
    assert "dashboard" in answer.headers["location"]


def test_a_forged_token_is_refused(app, work) -> None:
    forged = client(app)
    forged.cookies.set("_token", "eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJ4In0.invalid")
    assert forged.get("/dashboard", headers={"Accept": "application/json"}).status_code in (401, 403)


def test_an_anonymous_upload_writes_nothing(app, work, good) -> None:
    answer = post(client(app), [(GOOD_NAME, good)])
    assert answer.status_code == 401
    assert written(work) == []


def test_a_viewer_sees_the_pages_but_cannot_upload(app, auth_manager, work, good) -> None:
    viewer = client(app, auth_manager, "viewer")
    assert viewer.get("/upload").status_code == 200
    assert viewer.get("/dashboard").status_code == 200
    answer = post(viewer, [(GOOD_NAME, good)])
    assert answer.status_code == 403
    assert "没有权限" in answer.text
    assert written(work) == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "", "Referer": "https://evil.example/form.html"},
        {"Origin": "", "Referer": ""},
    ],
    ids=["other-origin", "null-origin", "other-referer", "neither"],
)
def test_a_cross_site_post_does_not_upload(statistician, work, good, headers: dict[str, str]) -> None:
    answer = post(statistician, [(GOOD_NAME, good)], **headers)
    assert answer.status_code == 403
    assert "跨站" in answer.text
    assert written(work) == []


def test_a_post_from_the_page_itself_by_referer_is_taken(statistician, work, good) -> None:
    answer = post(statistician, [(GOOD_NAME, good)], Origin="", Referer=f"{ORIGIN}/village-reports/upload")
    assert answer.status_code == 200
    assert verdicts(answer.text)


# ---------------------------------------------------------------------------------------
# What is refused at the door, leaving nothing behind


def test_a_file_over_the_limit_is_refused(statistician, work, good, monkeypatch) -> None:
    monkeypatch.setenv("VILLAGE_REPORTS_UPLOAD_MAX_BYTES", str(len(good) - 1))
    answer = post(statistician, [(GOOD_NAME, good)])
    assert answer.status_code == 413
    assert written(work) == []


def test_the_limit_holds_for_a_body_without_length(statistician, work, monkeypatch) -> None:
    """A chunked body declares no length: it is counted as it streams, and refused."""
    monkeypatch.setenv("VILLAGE_REPORTS_UPLOAD_MAX_BYTES", "1000")

    def body() -> Iterator[bytes]:
        yield b'--b\r\nContent-Disposition: form-data; name="files"; filename="big.xlsx"\r\n\r\nPK\x03\x04'
        yield from (b"\0" * 65536 for _ in range(20))

    answer = statistician.post(
        "/upload", content=body(), headers={"Origin": ORIGIN, "Content-Type": "multipart/form-data; boundary=b"}
    )
    assert answer.status_code == 413
    assert written(work) == []


def test_the_parser_stops_reading_at_the_limit() -> None:
    """The body is not read to its end: a client sending 640 MB is stopped after ~1 MB."""
    import asyncio

    from starlette.requests import Request

    from village_reports.pages.multipart import TooLarge, read_form

    received = []

    async def receive() -> dict[str, object]:
        await asyncio.sleep(0)
        received.append(1)
        if len(received) == 1:
            head = b'--b\r\nContent-Disposition: form-data; name="files"; filename="big.xlsx"\r\n\r\n'
            return {"type": "http.request", "body": head, "more_body": True}
        return {"type": "http.request", "body": b"\0" * 65536, "more_body": len(received) < 10_000}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/upload",
        "headers": [(b"content-type", b"multipart/form-data; boundary=b")],
    }
    with pytest.raises(TooLarge):
        asyncio.run(read_form(Request(scope, receive), max_files=2, max_file_bytes=1024 * 1024))
    assert len(received) < 40


def test_a_declared_length_over_the_limit_is_refused_unread(statistician, work, monkeypatch) -> None:
    monkeypatch.setenv("VILLAGE_REPORTS_UPLOAD_MAX_BYTES", "1000")
    answer = statistician.post(
        "/upload",
        content=b"x" * 10,
        headers={
            "Origin": ORIGIN,
            "Content-Type": "multipart/form-data; boundary=b",
            "Content-Length": str(10**12),
        },
    )
    assert answer.status_code == 413


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _with_doctype(good: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(good))
    members = {i.filename: source.read(i.filename) for i in source.infolist()}
    members["xl/workbook.xml"] = b'<!DOCTYPE x [<!ENTITY a "aaaa">]>' + members["xl/workbook.xml"]
    return _zip(members)


@pytest.mark.parametrize(
    ("name", "content", "status", "says"),
    [
        ("报表.txt", b"REV01,56", 415, "不是 Excel 工作簿"),
        ("报表.exe", b"MZ\x90\x00", 415, "不是 Excel 工作簿"),
        ("renamed.xlsx", b"%PDF-1.7 not a workbook", 415, "扩展名与内容不符"),
        ("empty.xlsx", b"", 415, "空"),
        ("bomb.xlsx", "bomb", 415, "压缩"),
        ("entities.xlsx", "doctype", 415, "XML 实体声明"),
        ("macros.xlsm", "macros", 415, "宏"),
    ],
)
def test_what_is_not_a_safe_workbook_is_refused(statistician, work, good, name, content, status, says) -> None:
    if content == "bomb":
        content = _zip({"xl/workbook.xml": b"<workbook/>", "xl/worksheets/sheet1.xml": b"\0" * (50 * 1024 * 1024)})
    elif content == "doctype":
        content = _with_doctype(good)
    elif content == "macros":
        source = zipfile.ZipFile(io.BytesIO(good))
        content = _zip({**{i.filename: source.read(i.filename) for i in source.infolist()}, "xl/vbaProject.bin": b"x"})
    answer = post(statistician, [(name, content)])
    assert answer.status_code == status, answer.text
    assert says in answer.text
    assert written(work) == []


def test_one_bad_file_refuses_the_whole_upload(statistician, work, good) -> None:
    answer = post(statistician, [(GOOD_NAME, good), ("renamed.xlsx", b"plain text")])
    assert answer.status_code == 415
    assert "renamed.xlsx" in answer.text
    assert written(work) == []


def test_a_year_not_offered_is_refused(statistician, work, good) -> None:
    for year in ("1900", "../2021", "", "２０２１"):
        answer = post(statistician, [(GOOD_NAME, good)], year=year)
        assert answer.status_code == 400, year
    assert written(work) == []


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("MT01_鸣山村_2021.xlsx", "MT01_鸣山村_2021.xlsx"),
        ("../../etc/鸣山村.xlsx", "鸣山村.xlsx"),
        ("..\\..\\Windows\\鸣山村.XLSX", "鸣山村.xlsx"),
        ("C:\\Users\\村干部\\Desktop\\报表.xls", "报表.xls"),
        (".hidden.xlsx", "hidden.xlsx"),
        ("a\x00b\x1fc\u202e.xlsx", "abc.xlsx"),
        ('a<b>:"c"|?*.xlsx', "a_b___c____.xlsx"),
        ("长" * 300 + ".xlsx", "长" * 58 + ".xlsx"),
    ],
)
def test_names_are_cleaned(raw: str, clean: str) -> None:
    from village_reports.pages.uploads import NAME_BYTES, clean_name

    assert clean_name(raw) == clean
    assert len(clean.encode()) <= NAME_BYTES


@pytest.mark.parametrize("raw", ["..", "../..", ".xlsx", "/", "报表", "x.xlsx/..", "\x00.xlsx"])
def test_names_without_a_usable_file_are_refused(raw: str) -> None:
    from village_reports.pages.uploads import Refused, clean_name

    with pytest.raises(Refused):
        clean_name(raw)


def test_a_path_in_the_name_stays_in_the_inbox(statistician, work, good) -> None:
    answer = post(statistician, [("../../../output/MT01_鸣山村_2021.xlsx", good)])
    assert answer.status_code == 200
    inbox = [f for f in written(work) if f.startswith("data/inbox/")]
    assert inbox == ["data/inbox/2021/MT01_鸣山村_2021.xlsx", "data/inbox/2021/收件登记.csv"]


def test_a_failure_part_way_leaves_nothing(statistician, work, good, make_workbook, monkeypatch) -> None:
    from village_reports.pages import uploads

    second = make_workbook("MT02", 2021).read_bytes()
    placed = []
    real = uploads.place_new

    def full_disk_on_the_second(source: Path, path: Path) -> Path:
        if placed:
            raise OSError(28, "No space left on device")
        placed.append(path)
        return real(source, path)

    monkeypatch.setattr(uploads, "place_new", full_disk_on_the_second)
    answer = post(statistician, [(GOOD_NAME, good), ("MT02_白若村_2021.xlsx", second)])
    assert answer.status_code == 500
    assert "没有保存任何文件" in answer.text
    assert placed  # the first file was in the inbox before the failure
    assert written(work) == []


# ---------------------------------------------------------------------------------------
# What the statistician sees


def test_a_good_file_is_accepted_saved_and_answered(statistician, work, good) -> None:
    answer = post(statistician, [(GOOD_NAME, good)])
    assert answer.status_code == 200
    assert verdicts(answer.text) == {GOOD_NAME: "accepted"}
    assert "鸣山村（MT01）" in answer.text
    assert (work / "data/inbox/2021" / GOOD_NAME).read_bytes() == good
    register = (work / "data/inbox/2021/收件登记.csv").read_text(encoding="utf-8-sig")
    assert GOOD_NAME in register
    [link] = receipt_links(answer.text)
    receipt = statistician.get(link)
    assert receipt.status_code == 200
    assert receipt.content.startswith(b"PK\x03\x04")
    sheet = load_workbook(io.BytesIO(receipt.content))["回执"]
    assert "已接收" in [c.value for row in sheet.iter_rows() for c in row]
    assert not (work / "data" / "warehouse.sqlite").exists()  # the page never writes the warehouse


def _put(code: str, value: object):  # type: ignore[no-untyped-def]
    from village_reports.template import COL_CODE, COL_VALUE, COLUMNS, DATA_SHEET

    def mutate(workbook) -> None:  # type: ignore[no-untyped-def]
        sheet = workbook[DATA_SHEET]
        code_col, value_col = COLUMNS.index(COL_CODE) + 1, COLUMNS.index(COL_VALUE) + 1
        row = next(r for r in range(1, sheet.max_row + 1) if sheet.cell(row=r, column=code_col).value == code)
        sheet.cell(row=row, column=value_col).value = value

    return mutate


def test_a_bad_file_is_rejected_with_its_cells(statistician, work, make_workbook) -> None:
    bad = make_workbook("MT02", 2021, mutate=_put("REV01", "五十六"), name="MT02_白若村_2021.xlsx")
    answer = post(statistician, [(bad.name, bad.read_bytes())])
    assert verdicts(answer.text) == {bad.name: "rejected"}
    section = answer.text.split('data-file="MT02_白若村_2021.xlsx"')[1]
    assert "五十六" in section
    assert re.search(r'<td class="cell">F\d+</td>', section)
    assert "错误（须修改）" in section
    assert (work / "data/inbox/2021" / bad.name).exists()  # received, as the night will: it answers with a 回执
    [link] = receipt_links(answer.text)
    assert statistician.get(link).status_code == 200


def test_the_same_checks_as_the_night(statistician, work, make_workbook) -> None:
    """A file breaking a relation rule: the page's problems are those validate_batch finds."""
    from village_reports import pipeline

    bad = make_workbook("MT02", 2021, mutate=_put("SOC02", 999), name="MT02_白若村_2021.xlsx")
    answer = post(statistician, [(bad.name, bad.read_bytes())])
    assert verdicts(answer.text) == {bad.name: "rejected"}
    assert "rule." not in answer.text  # codes stay inside: the clerk reads the message
    from village_reports import warehouse

    pipeline.run_ingest(years=[2021], feedback=False)
    engine = warehouse.get_engine()
    [submission] = warehouse.known_submissions(engine).values()
    stored = warehouse.stored_result(engine, submission, bad.name)
    assert stored.problems
    for problem in stored.problems:
        assert problem.message in answer.text.replace("&#34;", '"').replace("&#39;", "'"), problem.message


def test_a_duplicate_is_said_and_not_saved_twice(statistician, work, good) -> None:
    post(statistician, [(GOOD_NAME, good)])
    again = post(statistician, [("副本 " + GOOD_NAME, good)])
    assert verdicts(again.text) == {"副本 " + GOOD_NAME: "duplicate"}
    assert "内容完全相同" in again.text
    assert sorted(p.name for p in (work / "data/inbox/2021").iterdir()) == [GOOD_NAME, "收件登记.csv"]


def test_a_new_file_under_a_taken_name_does_not_replace_it(statistician, work, good, make_workbook) -> None:
    post(statistician, [(GOOD_NAME, good)])
    fuller = make_workbook("MT01", 2021, mutate=_put("REV01", 57)).read_bytes()
    answer = post(statistician, [(GOOD_NAME, fuller)])
    assert "MT01_鸣山村_2021（2）.xlsx" in answer.text
    assert (work / "data/inbox/2021" / GOOD_NAME).read_bytes() == good
    assert (work / "data/inbox/2021/MT01_鸣山村_2021（2）.xlsx").read_bytes() == fuller


def test_another_units_file_is_named(statistician, work, good) -> None:
    answer = post(statistician, [("MT02_白若村_2021.xlsx", good)])
    assert verdicts(answer.text) == {"MT02_白若村_2021.xlsx": "wrong_unit"}
    assert "鸣山村（MT01）" in answer.text  # whose file it is


def test_a_file_for_a_locked_year_is_kept_and_held(statistician, work, good) -> None:
    from village_reports import warehouse

    engine = warehouse.get_engine()
    warehouse.create_schema(engine)
    with engine.begin() as connection:
        warehouse.run_sql(
            connection,
            "dml/insert_signoff_event",
            {
                "year": 2021,
                "action": "approved",
                "actor": "张统计",
                "acted_at": "2022-04-10T02:00:00+00:00",
                "reason": "",
                "data_as_of": None,
                "totals_digest": "x",
                "run_id": "test",
            },
        )
    answer = post(statistician, [(GOOD_NAME, good)])
    assert verdicts(answer.text) == {GOOD_NAME: "locked"}
    assert "定稿后收到" in answer.text and "张统计" in answer.text
    assert (work / "data/inbox/2021" / GOOD_NAME).exists()


def test_a_receipt_is_served_only_from_its_upload(statistician, work, good) -> None:
    answer = post(statistician, [(GOOD_NAME, good)])
    [link] = receipt_links(answer.text)
    upload_id = link.split("/")[1]
    (work / "output" / "secret.txt").write_text("x")
    for path in (
        f"receipts/{upload_id}/..%2F..%2Fsecret.txt",
        f"receipts/{upload_id}/../../secret.txt",
        "receipts/not-an-id/x.xlsx",
        f"receipts/{'0' * 32}/{link.split('/')[-1]}",
    ):
        assert statistician.get(path).status_code == 404, path


def test_the_dashboard_lists_every_unit_without_a_warehouse(statistician, work) -> None:
    from village_reports.roster import load_roster

    page = statistician.get("/dashboard")
    assert page.status_code == 200
    table = page.text.split('<table id="completeness">')[1].split("</table>")[0]
    for unit in load_roster().units:
        assert unit.name in table
    assert "未报" in table
    assert '<table id="latest">' in page.text and '<table id="totals">' in page.text
    assert not (work / "data" / "warehouse.sqlite").exists()


def test_the_dashboard_after_the_night(statistician, work, good) -> None:
    from village_reports import pipeline

    post(statistician, [(GOOD_NAME, good)])
    pipeline.run_ingest(years=[2021], feedback=False)
    pipeline.report_year(2021)
    page = statistician.get("/dashboard?year=2021")
    grid = page.text.split('<table id="completeness">')[1].split("</table>")[0]
    row = grid.split('data-unit="MT01"')[1].split("</tr>")[0]
    assert "逾期" in row  # received now, years after 2021's deadline: the register's time, not the night's
    latest = page.text.split('<table id="latest">')[1].split("</table>")[0]
    assert GOOD_NAME in latest and "已接收" in latest
    totals = page.text.split('<table id="totals">')[1].split("</table>")[0]
    assert "REV01" in totals and "上年无数据" in totals
    links = re.findall(r'href="(outputs/2021/[^"]+)"', page.text)
    assert "outputs/2021/township_totals.csv" in links
    for link in links:
        assert statistician.get(link).status_code == 200, link
    for path in ("outputs/2021/../../data/warehouse.sqlite", "outputs/2021/validation.html", "outputs/2021/.."):
        assert statistician.get(path).status_code == 404, path
