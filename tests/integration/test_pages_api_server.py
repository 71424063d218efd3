"""The pages on a real api-server: the plugin mounted by Airflow's plugin manager, listed
in the UI's navigation, and refusing whoever Airflow's login does not let in."""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path

import httpx
import pytest

from .conftest import ROOT, airflow_cli, airflow_env, airflow_processes, free_port, wait_for

pytestmark = pytest.mark.slow
PASSWORDS = {"tongji": secrets.token_urlsafe(12), "guest": secrets.token_urlsafe(12)}


def _token(base: str, user: str) -> str:
    answer = httpx.post(f"{base}/auth/token", json={"username": user, "password": PASSWORDS[user]}, timeout=30)
    assert answer.status_code == 201, answer.text
    return answer.json()["access_token"]


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/api/v2/monitor/health", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def test_the_pages_on_a_real_api_server(tmp_path: Path, make_workbook) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    passwords = tmp_path / "passwords.json"
    passwords.write_text(json.dumps(PASSWORDS))
    env = airflow_env(
        tmp_path,
        tmp_path / "work",
        AIRFLOW__CORE__PLUGINS_FOLDER=str(ROOT / "plugins"),
        AIRFLOW__CORE__AUTH_MANAGER="airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="tongji:op,guest:viewer",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(passwords),
        AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_urlsafe(48),
        AIRFLOW__API__BASE_URL=base,
        PYTHONPATH=f"{ROOT / 'include'}",
    )
    airflow_cli(env, "db", "migrate")
    with airflow_processes({"api-server": ["api-server", "--port", str(port)]}, env, tmp_path / "logs"):
        wait_for(lambda: _up(base), 180, "the api-server")
        anonymous = httpx.get(f"{base}/village-reports/upload", headers={"Accept": "text/html"}, timeout=30)
        assert anonymous.status_code == 303
        assert anonymous.headers["location"].startswith("/auth/login?next=")
        assert httpx.get(f"{base}/village-reports/dashboard", timeout=30).status_code == 401
        good = make_workbook("MT01", 2021)
        refused = httpx.post(
            f"{base}/village-reports/upload",
            data={"year": "2021"},
            files={"files": (good.name, good.read_bytes())},
            headers={"Origin": base},
            timeout=60,
        )
        assert refused.status_code == 401
        assert not (tmp_path / "work" / "data" / "inbox").exists()

        tongji = httpx.Client(base_url=base, cookies={"_token": _token(base, "tongji")}, timeout=120)
        page = tongji.get("/village-reports/upload")
        assert page.status_code == 200 and 'id="upload-form"' in page.text
        answer = tongji.post(
            "/village-reports/upload",
            data={"year": "2021"},
            files={"files": (good.name, good.read_bytes())},
            headers={"Origin": base},
        )
        assert answer.status_code == 200, answer.text
        assert re.search(rf'data-file="{good.name}" data-status="accepted', answer.text)
        [link] = re.findall(r'<a class="receipt" href="([^"]+)"', answer.text)
        assert tongji.get(f"/village-reports/{link}").content.startswith(b"PK")
        assert "鸣山村" in tongji.get("/village-reports/dashboard").text

        guest = httpx.Client(base_url=base, cookies={"_token": _token(base, "guest")}, timeout=120)
        assert guest.get("/village-reports/dashboard").status_code == 200
        forbidden = guest.post(
            "/village-reports/upload",
            data={"year": "2021"},
            files={"files": ("MT02.xlsx", good.read_bytes())},
            headers={"Origin": base},
        )
        assert forbidden.status_code == 403

        plugins = tongji.get("/api/v2/plugins", headers={"Authorization": f"Bearer {_token(base, 'tongji')}"})
        views = [v for p in plugins.json()["plugins"] for v in p["external_views"]]
        assert {v["name"]: v["href"] for v in views} == {
            "报表上传": "/village-reports/upload",
            "报送看板": "/village-reports/dashboard",
        }
