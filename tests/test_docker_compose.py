"""The production stack's compose file: structure, services, mounts, no committed secrets."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text(encoding="utf-8"))


def test_services_follow_the_official_airflow_stack() -> None:
    services = set(_compose()["services"])
    assert {
        "postgres",
        "redis",
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
        "airflow-worker",
        "airflow-init",
    } <= services


def test_airflow_services_run_celery_and_mount_the_project() -> None:
    compose = _compose()
    for name, service in compose["services"].items():
        if not name.startswith("airflow-"):
            continue
        assert service["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        mounts = {v.split(":")[1] for v in service["volumes"] if v.startswith("./")}
        assert {"/opt/airflow/dags", "/opt/airflow/include", "/opt/airflow/plugins", "/opt/airflow/sql"} <= mounts


def test_the_api_server_serves_the_pages_plugin() -> None:
    """plugins/village_pages.py runs on the api-server: it sees the plugin, the package it
    imports, the SQL it reads, and the inbox and outputs that the workers share."""
    service = _compose()["services"]["airflow-apiserver"]
    assert (ROOT / "plugins" / "village_pages.py").is_file()
    assert service["environment"]["PYTHONPATH"] == "/opt/airflow/include"
    assert {
        "./plugins:/opt/airflow/plugins",
        "village-data:/opt/airflow/data",
        "village-output:/opt/airflow/output",
    } <= set(service["volumes"])


def test_every_mounted_path_exists() -> None:
    for service in _compose()["services"].values():
        for volume in service.get("volumes", []):
            if volume.startswith("./"):
                assert (ROOT / volume.split(":")[0]).exists(), volume


def test_no_secret_is_committed() -> None:
    text = (ROOT / "docker-compose.yaml").read_text(encoding="utf-8")
    assert "POSTGRES_PASSWORD:?" in text and "AIRFLOW_FERNET_KEY:?" in text
    assert (ROOT / ".env.example").exists()
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()


def test_the_init_service_upgrades_the_warehouse() -> None:
    """The production stack migrates the warehouse's tables once, before any service runs."""
    script = "\n".join(_compose()["services"]["airflow-init"]["command"])
    assert script.index("airflow db migrate") < script.index("python -m village_reports upgrade")
