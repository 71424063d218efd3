"""The village-reports pages in a real browser (issue 14): headless Chromium from Debian's
``chromium`` package, driven by Selenium through Debian's ``chromedriver`` (no browser or
driver download: Selenium Manager is never asked), against a real api-server that this
module starts with the project's plugins folder and SimpleAuthManager.

The browser signs in through Airflow's own login form as 统计员 ``tongjiyuan``: the form
stores the JWT in the ``_token`` cookie, which the browser then sends to every page on the
api-server, the plugin's ``/village-reports/...`` routes included. On the upload page it
sends a good and a bad workbook at once, reads the verdicts, downloads the 回执; on the
dashboard it finds the unit it uploaded for.

With ``VILLAGE_REPORTS_SCREENSHOTS=docs/images`` the screenshots of both pages are written
there (page_upload.png, page_dashboard.png: the README's images); otherwise into tmp.
In CI a missing chromium or chromedriver fails the test (make system-deps installs them).
"""

from __future__ import annotations

import base64
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from village_reports import pipeline
from village_reports.catalogue import load_catalogue
from village_reports.roster import load_roster
from village_reports.samples import sample_values, write_samples, write_unit_sample
from village_reports.template import COL_CODE, COL_VALUE, COLUMNS, DATA_SHEET, build_workbook, template_file_name

from ..conftest import IN_CI
from .conftest import (
    ROOT,
    airflow_cli,
    airflow_env,
    airflow_processes,
    free_port,
    login_settings,
    scheduler_settings,
    wait_for,
)

pytestmark = pytest.mark.slow

USER, PASSWORD = "tongjiyuan", "browser-test-password"
LOADED_YEARS = (2019, 2020)  # in the warehouse before the browser starts: the dashboard has data
UPLOAD_YEAR = 2021  # nobody has reported it yet, so the good file is no duplicate
GOOD_UNIT, BAD_UNIT, SILENT_UNIT = "MT01", "MT02", "MT03"  # SILENT_UNIT sends nothing for 2021
WINDOW = (1280, 900)
WAIT = 60  # seconds a page may take to show what the test waits for


@dataclass
class Server:
    base: str
    work: Path
    logs: Path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """An api-server on a free port with the repo's plugins/, SimpleAuthManager knowing
    ``tongjiyuan`` (admin) with a password from a file written here, and the pipeline's
    data, outputs and SQLite warehouse in tmp, holding the 2019 and 2020 samples."""
    tmp = tmp_path_factory.mktemp("browser")
    work, port = tmp / "work", free_port()
    env = airflow_env(
        tmp,
        work,
        AIRFLOW__CORE__PLUGINS_FOLDER=str(ROOT / "plugins"),
        **login_settings(tmp, USER, PASSWORD),
        **scheduler_settings(port, "browser-test-secret"),
    )
    with pytest.MonkeyPatch.context() as mp:  # this process loads the same warehouse the server reads
        for name in ("VILLAGE_REPORTS_DATA_DIR", "VILLAGE_REPORTS_OUTPUT_DIR", "AIRFLOW_CONN_VILLAGE_WAREHOUSE"):
            mp.setenv(name, env[name])
        write_samples(work / "data" / "inbox", list(LOADED_YEARS))
        pipeline.finish_run(pipeline.run_ingest())
        for year in LOADED_YEARS:
            pipeline.report_year(year)
    airflow_cli(env, "db", "migrate", timeout=300)
    # The verdicts come back on the upload's own response: no scheduler or DAG processor.
    with airflow_processes({"api-server": ["api-server", "--port", str(port)]}, env, tmp / "logs"):
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _answers(f"{base}/api/v2/monitor/health"), 180, f"the api-server ({tmp / 'logs'})")
        yield Server(base, work, tmp / "logs")


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=5).close()
        return True
    except OSError:
        return False


# ---- the browser -----------------------------------------------------------------------------


CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"  # Debian's, from make system-deps


def _debian(path: str, package: str) -> str:
    """``path`` when Debian's ``package`` installed it; skipped locally, a failure in CI."""
    if not os.access(path, os.X_OK):
        if IN_CI:
            pytest.fail(f"{path} is required in CI (make system-deps installs {package})")
        pytest.skip(f"{path} not installed (make system-deps installs {package})")
    return path


def _selenium_manager_called(*args: object, **kwargs: object) -> None:
    pytest.fail("Selenium Manager was asked for a browser or driver: the test must use Debian's binaries")


@pytest.fixture
def driver(tmp_path: Path) -> Iterator:
    """Headless Chromium from /usr/bin, driven by /usr/bin/chromedriver (Selenium skips its
    Manager when the Service names a driver); downloads go to ``tmp_path/downloads``."""
    chromium, chromedriver = _debian(CHROMIUM, "chromium"), _debian(CHROMEDRIVER, "chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.selenium_manager import SeleniumManager

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        "--lang=zh-CN",  # Accept-Language; the browser's own words stay English (no chromium-l10n)
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(argument)
    options.add_experimental_option(
        "prefs",
        {
            "download.default_directory": str(downloads),
            "download.prompt_for_download": False,
            "safebrowsing.enabled": False,
        },
    )
    service = Service(executable_path=chromedriver, log_output=str(tmp_path / "chromedriver.log"))
    with pytest.MonkeyPatch.context() as mp:
        # Selenium Manager stays offline and silent, and is a failure if anything asks it
        mp.setenv("SE_AVOID_STATS", "true")
        mp.setenv("SE_OFFLINE", "true")
        mp.setattr(SeleniumManager, "binary_paths", _selenium_manager_called)
        browser = webdriver.Chrome(options=options, service=service)
        try:
            browser.set_window_size(*WINDOW)
            browser.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
            browser.downloads = downloads  # type: ignore[attr-defined]
            yield browser
        finally:
            browser.quit()


def _wait(driver, condition, what: str, timeout: float = WAIT):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout).until(condition)
    except TimeoutException:
        pytest.fail(f"timed out waiting for {what}; the page at {driver.current_url}:\n{_page_text(driver)}")


def _page_text(driver) -> str:
    from selenium.webdriver.common.by import By

    try:
        return driver.find_element(By.TAG_NAME, "body").text[:2000]
    except Exception as exc:  # ruff: ignore[blind-except]
        return f"(no page text: {exc})"


def log_in(driver, base: str) -> None:
    """Sign in as a stranger does: the UI's home page sends the browser to SimpleAuthManager's
    login page (a small React app under /auth), whose ``username`` and ``password`` fields
    and submit button appear once it has rendered. It stores the JWT in the ``_token``
    cookie and goes back to the home page."""
    from selenium.webdriver.common.by import By

    driver.get(base + "/")
    _wait(driver, lambda d: "/auth/login" in d.current_url, "the UI to send a stranger to the login page")
    username = _wait(driver, lambda d: _displayed(d, By.NAME, "username"), "the login form")
    username.send_keys(USER)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    button = driver.find_element(By.CSS_SELECTOR, "button[type=submit]")
    _wait(driver, lambda d: button.is_enabled(), "the sign-in button to enable")
    button.click()
    _wait(driver, lambda d: d.get_cookie("_token"), "the _token cookie after signing in")
    _wait(driver, lambda d: "/auth/login" not in d.current_url, "the login page to go on")


def _displayed(driver, by: str, value: str):
    found = [e for e in driver.find_elements(by, value) if e.is_displayed()]
    return found[0] if found else None


def screenshot(driver, name: str, tmp_path: Path) -> Path:
    """The whole page at the window's width (1280 pixels) as ``name``: under
    $VILLAGE_REPORTS_SCREENSHOTS (relative to the repo: docs/images for the README) when
    set, else under tmp. Chromium's DevTools capture beyond the viewport, so a long page
    is whole without resizing the window."""
    folder = os.environ.get("VILLAGE_REPORTS_SCREENSHOTS")
    target = (ROOT / folder if folder else tmp_path) / name
    target.parent.mkdir(parents=True, exist_ok=True)
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    width = metrics["cssLayoutViewport"]["clientWidth"]
    height = max(metrics["cssContentSize"]["height"], metrics["cssLayoutViewport"]["clientHeight"])
    clip = {"x": 0, "y": 0, "width": width, "height": min(height, 8000), "scale": 1}
    capture = {"format": "png", "captureBeyondViewport": True, "clip": clip}
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", capture)
    target.write_bytes(base64.b64decode(shot["data"]))
    return target


# ---- the harness, against Airflow's own UI (passes without the plugin) ------------------------


def test_chromium_logs_in_to_the_airflow_ui(server: Server, driver, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    log_in(driver, server.base)
    _wait(driver, lambda d: d.current_url.rstrip("/") == server.base, "the UI home page")
    assert "Airflow" in driver.title
    # the React app has rendered the home page's welcome and navigation, not the login form again
    _wait(driver, lambda d: "Welcome" in _page_text(d), "the home page's welcome")
    home = driver.find_elements(By.CSS_SELECTOR, "a[data-testid=nav-home-link][aria-current=page]")
    assert home, "the navigation does not mark Home as the current page"
    assert not driver.find_elements(By.NAME, "password")
    # the session cookie is the one the plugin's routes read: scoped to the whole server
    assert driver.get_cookie("_token")["path"] == "/"
    screenshot(driver, "airflow_home.png", tmp_path)


# ---- the plugin's pages (issue 14) -------------------------------------------------------------


def _upload_files(folder: Path) -> tuple[Path, Path]:
    """A good 2021 workbook for GOOD_UNIT (the sample figures), and a bad one for BAD_UNIT:
    text where its village revenue (REV01) must be a number."""
    roster = load_roster()
    values = sample_values(UPLOAD_YEAR)
    good = write_unit_sample(folder, roster[GOOD_UNIT], UPLOAD_YEAR, values[GOOD_UNIT], load_catalogue())
    bad_unit = roster[BAD_UNIT]
    workbook = build_workbook(bad_unit, UPLOAD_YEAR, values=values[BAD_UNIT])
    ws = workbook[DATA_SHEET]
    code_col, value_col = COLUMNS.index(COL_CODE) + 1, COLUMNS.index(COL_VALUE) + 1
    row = next(r for r in range(1, ws.max_row + 1) if ws.cell(row=r, column=code_col).value == "REV01")
    ws.cell(row=row, column=value_col).value = "很多"
    bad = folder / template_file_name(bad_unit, UPLOAD_YEAR)
    workbook.save(bad)
    return good, bad


def _choose_year(select_element, year: int) -> None:
    from selenium.webdriver.support.ui import Select

    select = Select(select_element)
    for option in select.options:
        if str(year) in (option.get_attribute("value") or "") or str(year) in option.text:
            select.select_by_visible_text(option.text)
            return
    pytest.fail(f"no {year} in the year list: {[o.text for o in select.options]}")


def _downloaded(folder: Path) -> Path | None:
    done = [p for p in folder.iterdir() if p.suffix == ".xlsx"]
    partial = [p for p in folder.iterdir() if p.suffix == ".crdownload"]
    return done[0] if done and not partial else None


def test_upload_two_files_download_the_receipt_and_see_the_dashboard(server: Server, driver, tmp_path: Path) -> None:
    import openpyxl
    from selenium.webdriver.common.by import By

    roster = load_roster()
    sending = tmp_path / "sending"
    good, bad = _upload_files(sending)

    log_in(driver, server.base)

    # the upload page: a year, two files on one input, one submit
    driver.get(f"{server.base}/village-reports/upload")
    form = _wait(driver, lambda d: _displayed(d, By.ID, "upload-form"), "the upload form")
    assert form.get_attribute("method").lower() == "post"
    assert form.get_attribute("enctype") == "multipart/form-data"
    _choose_year(form.find_element(By.CSS_SELECTOR, "select[name=year]"), UPLOAD_YEAR)
    files = form.find_element(By.CSS_SELECTOR, "input[type=file][name=files]")
    assert files.get_attribute("multiple") is not None
    files.send_keys(f"{good}\n{bad}")
    driver.find_element(By.ID, "upload").click()

    sections = _wait(
        driver,
        lambda d: len(found := d.find_elements(By.CSS_SELECTOR, "section.verdict")) >= 2 and found,
        "a verdict for each file",
    )
    verdicts = {s.get_attribute("data-file"): s for s in sections}
    assert set(verdicts) == {good.name, bad.name}, f"verdicts for {sorted(verdicts)}"
    good_section, bad_section = verdicts[good.name], verdicts[bad.name]
    assert good_section.get_attribute("data-status") in ("accepted", "accepted_with_warnings"), good_section.text
    assert bad_section.get_attribute("data-status") == "rejected", bad_section.text
    # the problem, in the words the 回执 uses, is on the page for the clerk to read
    assert bad_section.is_displayed() and "无法识别为数字" in bad_section.text, bad_section.text
    assert "很多" in bad_section.text, bad_section.text
    screenshot(driver, "page_upload.png", tmp_path)

    # the 回执 of the good file (its section's link, else the page's): an Excel workbook
    receipts = good_section.find_elements(By.CSS_SELECTOR, "a.receipt") or driver.find_elements(
        By.CSS_SELECTOR, "a.receipt"
    )
    assert receipts, "no a.receipt link on the page"
    assert "下载回执" in receipts[0].text
    receipts[0].click()
    receipt = wait_for(lambda: _downloaded(driver.downloads), WAIT, "the 回执 download")
    workbook = openpyxl.load_workbook(receipt, read_only=True)
    assert workbook.sheetnames, f"{receipt.name} has no sheet"
    workbook.close()

    # the page never writes the warehouse: the night loads what was uploaded
    _night(server)
    # the dashboard: the unit just uploaded for, and its 2021 differs from a unit that sent nothing
    driver.get(f"{server.base}/village-reports/dashboard")
    table = _wait(driver, lambda d: _displayed(d, By.ID, "completeness"), "the completeness table")
    for other in ("latest", "totals"):
        assert driver.find_elements(By.ID, other), f"no #{other} table on the dashboard"
    column = _year_column(table, UPLOAD_YEAR)
    reported, silent = roster[GOOD_UNIT].name, roster[SILENT_UNIT].name
    assert _cell(table, reported, column) != _cell(table, silent, column), (
        f"{reported} and {silent} look alike for {UPLOAD_YEAR} though only {reported} sent a file:\n{table.text}"
    )
    screenshot(driver, "page_dashboard.png", tmp_path)


def _night(server: Server) -> None:
    """What the nightly run does with the inbox, in this process, on the server's folders."""
    work = server.work
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VILLAGE_REPORTS_DATA_DIR", str(work / "data"))
        mp.setenv("VILLAGE_REPORTS_OUTPUT_DIR", str(work / "output"))
        mp.setenv("AIRFLOW_CONN_VILLAGE_WAREHOUSE", f"sqlite:///{work / 'data' / 'warehouse.sqlite'}")
        pipeline.finish_run(pipeline.run_ingest())
        pipeline.report_year(UPLOAD_YEAR)


def _year_column(table, year: int) -> int:
    from selenium.webdriver.common.by import By

    headers = [h.text for h in table.find_elements(By.CSS_SELECTOR, "thead th, tr:first-child th")]
    for index, text in enumerate(headers):
        if str(year) in text:
            return index
    pytest.fail(f"no {year} column in #completeness: {headers}")


def _cell(table, unit_name: str, column: int) -> str:
    """The unit's row's cell in ``column`` (th and td alike), as HTML: its text and its
    attributes (a class or data-status may be all that marks a unit as reported)."""
    from selenium.webdriver.common.by import By

    for row in table.find_elements(By.CSS_SELECTOR, "tr"):
        cells = row.find_elements(By.CSS_SELECTOR, "th, td")
        if cells and unit_name in cells[0].text:
            assert column < len(cells), f"the row of {unit_name} is short: {row.text}"
            return cells[column].get_attribute("outerHTML")
    pytest.fail(f"{unit_name} not in #completeness:\n{table.text}")


def test_the_plugin_pages_need_a_login(server: Server) -> None:
    """Without the ``_token`` cookie neither page is served: a redirect to Airflow's login
    page, or 401/403. (Airflow's UI answers any unknown path with its own page and 200, so
    this also fails while no plugin is mounted at /village-reports.)"""
    for path in ("/village-reports/upload", "/village-reports/dashboard"):
        try:
            with urllib.request.urlopen(server.base + path, timeout=30) as response:
                landed, body = response.url, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            assert error.code in (401, 403), f"{path} without a login: HTTP {error.code}"
            continue
        assert "/auth/login" in landed, (
            f"{path} without a login answered 200 at {landed} (is the plugin mounted?):\n{body[:500]}"
        )
        assert "upload-form" not in body and 'id="completeness"' not in body, path
