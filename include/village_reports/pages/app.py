"""The pages' FastAPI app, mounted on Airflow's api-server at ``/village-reports``
(``plugins/village_pages.py``): 报表上传 (``/upload``) and 报送看板 (``/dashboard``).

Airflow does not protect a plugin's app by itself: every route here depends on Airflow's
own authorisation (``airflow.api_fastapi.core_api.security``), which reads the UI's
``_token`` cookie, so a page opened from the UI's navigation is logged in. Reading needs
read access to the ``village_reports`` DAG; uploading needs the right to trigger it
(POST on its runs), as a file put into the inbox is the nightly run's input. The cookie
is SameSite=Lax, and a POST must also come from this origin (Origin, else Referer), so a
form on another site cannot upload with a statistician's cookie.
"""

from __future__ import annotations

import logging
import secrets
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException

from village_reports import settings
from village_reports.catalogue import load_catalogue
from village_reports.pages import dashboard, uploads
from village_reports.pages.multipart import TooLarge, read_form
from village_reports.roster import load_roster

log = logging.getLogger(__name__)

DAG_ID = "village_reports"  # the nightly DAG: who may trigger it may feed its inbox
URL_PREFIX = "/village-reports"
YEARS_OFFERED = 10  # the years before this one that the upload page offers
_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
)
_CHUNK = 1 << 20


def _security_headers(nonce: str) -> dict[str, str]:
    """Nothing from elsewhere, scripts only with this response's nonce, framed only by
    the Airflow UI (same origin), forms posted only here."""
    policy = (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        f"script-src 'nonce-{nonce}'; form-action 'self'; frame-ancestors 'self'; base-uri 'none'; object-src 'none'"
    )
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
    }


def render(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    roster = load_roster()
    body = _TEMPLATES.get_template(template).render(nonce=nonce, place=roster.place, **context)
    return HTMLResponse(body, status_code=status_code, headers=_security_headers(nonce))


def _this_year() -> int:
    return datetime.now(settings.LOCAL_ZONE).year


def offered_years(known: Sequence[int]) -> list[int]:
    """The years a file may be uploaded for, newest first: the last ten and any the
    warehouse knows."""
    this = _this_year()
    return sorted({*range(this - YEARS_OFFERED, this + 1), *known}, reverse=True)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def same_origin(request: Request) -> bool:
    """Whether a POST comes from a page of this server: its Origin (every current browser
    sends it on a form POST), else its Referer, names this server as the request reached
    it or as ``[api] base_url`` says. Neither header: refused."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        return False
    own = {_origin(str(request.base_url))}
    from airflow.configuration import conf

    if base := conf.get("api", "base_url", fallback=""):
        own.add(_origin(base))
    return _origin(source) in own


async def _page(status_code: int, error: str | None, year: int | None = None, **context: Any) -> HTMLResponse:
    """``_upload_page`` off the event loop: it reads the warehouse."""
    return await run_in_threadpool(_upload_page, status_code, error, year, **context)


def _upload_page(
    status_code: int = 200, error: str | None = None, year: int | None = None, **context: Any
) -> HTMLResponse:
    engine = dashboard.warehouse_engine()
    years = offered_years(dashboard.known_years(engine))
    return render(
        "upload.html",
        status_code,
        years=years,
        chosen=year or _this_year() - 1,
        error=error,
        max_mb=settings.upload_max_bytes() / 1024 / 1024,
        suffixes="、".join(uploads.SUFFIXES),
        catalogue=load_catalogue(),
        **context,
    )


async def _stage(parts: Sequence[Any], folder: Path) -> list[uploads.Staged]:
    """Each uploaded file copied from the parser's spool into a private folder under its
    cleaned name (the reader picks its parser by the extension); ``Refused`` for a name."""
    staged = []
    for n, part in enumerate(parts):
        if not isinstance(part, UploadFile) or not part.filename:
            continue  # a field, or the browser's empty file input
        name = uploads.clean_name(part.filename)
        path = folder / str(n) / name
        path.parent.mkdir()
        with path.open("xb") as copy:
            while chunk := await part.read(_CHUNK):
                copy.write(chunk)
        staged.append(uploads.Staged(name, path))
    return staged


def _year(value: Any) -> int:
    """The form's year, one of those the page offers; ``Refused`` otherwise."""
    text = value if isinstance(value, str) else ""
    known = dashboard.known_years(dashboard.warehouse_engine())
    if not (text.isascii() and text.isdigit() and int(text) in offered_years(known)):
        raise uploads.Refused(400, "请选择报告年度。")
    return int(text)


def _auth_error(request: Request, exc: StarletteHTTPException) -> Response:
    """An anonymous browser is sent to Airflow's login, and back here after it; anything
    else refused gets a short answer, never the page."""
    from airflow.api_fastapi.app import get_auth_manager

    wants_html = "text/html" in request.headers.get("accept", "")
    if exc.status_code == 401 and request.method == "GET" and wants_html:
        return RedirectResponse(get_auth_manager().get_url_login(next_url=str(request.url)), status_code=303)
    if wants_html and exc.status_code in (401, 403):
        text = "请先登录 Airflow。" if exc.status_code == 401 else "没有权限：上传报表需要触发 village_reports 的权限。"
        return render("refused.html", exc.status_code, message=text)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))


def create_app() -> FastAPI:
    """The app that ``plugins/village_pages.py`` mounts at ``URL_PREFIX``."""
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
    from airflow.api_fastapi.core_api.security import requires_access_dag

    can_read = Depends(requires_access_dag("GET", DagAccessEntity.RUN, param_dag_id=DAG_ID))
    can_upload = Depends(requires_access_dag("POST", DagAccessEntity.RUN, param_dag_id=DAG_ID))
    app = FastAPI(title="村级报表页面", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_exception_handler(StarletteHTTPException, _auth_error)  # type: ignore[arg-type]

    @app.get("/", dependencies=[can_read])
    def index() -> RedirectResponse:
        return RedirectResponse("upload", status_code=303)

    @app.get("/upload", dependencies=[can_read], response_class=HTMLResponse)
    def upload_form() -> HTMLResponse:
        return _upload_page()

    @app.post("/upload", dependencies=[can_upload], response_class=HTMLResponse)
    async def upload(request: Request) -> HTMLResponse:
        if not same_origin(request):
            return await _page(403, "上传被拒绝：请求不是从本页面发出的（跨站请求）。")
        try:
            form = await read_form(request, uploads.MAX_FILES, settings.upload_max_bytes())
        except TooLarge:
            mb = settings.upload_max_bytes() / 1024 / 1024
            return await _page(413, f"文件太大：每个文件不能超过 {mb:g} MB，一次最多 {uploads.MAX_FILES} 个文件。")
        except MultiPartException:
            return await _page(400, "上传的内容无法识别，请用本页面的表单重新上传。")
        year = None
        try:
            year = await run_in_threadpool(_year, form.get("year"))
            with tempfile.TemporaryDirectory(prefix="village-upload-") as folder:
                staged = await _stage(form.getlist("files"), Path(folder))
                engine = dashboard.warehouse_engine()
                upload_id, verdicts = await run_in_threadpool(uploads.receive, staged, year, engine)
        except uploads.Refused as exc:
            return await _page(exc.status, exc.message, year)
        except OSError as exc:  # a full disk, a folder without rights: the upload removed what it wrote
            log.exception("upload failed")
            return await _page(
                500, f"保存失败（{exc.strerror or exc}），没有保存任何文件；请稍后重试或联系管理员。", year
            )
        finally:
            await form.close()
        return await _page(200, None, year, verdicts=verdicts, upload_id=upload_id)

    @app.get("/receipts/{upload_id}/{name}", dependencies=[can_read])
    def receipt(upload_id: str, name: str) -> FileResponse:
        path = uploads.receipt_path(upload_id, name)
        if path is None:
            raise StarletteHTTPException(404, "没有这份回执")
        return FileResponse(path, filename=name, media_type=_XLSX, headers={"Cache-Control": "no-store"})

    @app.get("/dashboard", dependencies=[can_read], response_class=HTMLResponse)
    def dashboard_page(year: int | None = None) -> HTMLResponse:
        engine = dashboard.warehouse_engine()
        known = dashboard.known_years(engine)
        chosen = year if year in known else (known[-1] if known else _this_year() - 1)
        return render(
            "dashboard.html",
            grid=dashboard.completeness(engine, sorted({*known, chosen})),
            latest=dashboard.latest_files(engine),
            totals=dashboard.totals(engine, chosen),
            signoff=dashboard.signoff_label(engine, chosen),
            outputs=dashboard.outputs(chosen),
            years=known,
            chosen=chosen,
        )

    @app.get("/outputs/{year}/{name:path}", dependencies=[can_read])
    def output(year: int, name: str) -> FileResponse:
        path = dashboard.output_path(year, name)
        if path is None:
            raise StarletteHTTPException(404, "没有这个文件")
        return FileResponse(path, filename=Path(name).name, headers={"Cache-Control": "no-store"})

    return app


_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
