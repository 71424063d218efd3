"""The domain model has one home: the other modules use it, none re-exports it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from village_reports import model, staging
from village_reports.model import ACCEPTED, ACCEPTED_WITH_WARNINGS, REJECTED, Problem, status_of

ROOT = Path(__file__).parents[3]
SOURCES = ("include", "tests", "bench", "dags", "plugins")


@pytest.mark.parametrize(
    ("severities", "status"),
    [
        ((), ACCEPTED),
        (("info",), ACCEPTED),
        (("info", "warning"), ACCEPTED_WITH_WARNINGS),
        (("warning", "error"), REJECTED),
    ],
)
def test_status_of_a_submission_is_its_gravest_problem(severities: tuple, status: str) -> None:
    assert status_of(Problem("x.y", severity, "") for severity in severities) == status


def test_the_model_is_imported_from_model_only() -> None:
    """reader and warehouse use the model; nobody imports it from them (no re-exports)."""
    model_names = {"Record", "Problem", "ReadResult", "Grid", "Severity", "ParsedValue", "status_of"}
    model_names |= {"ACCEPTED", "ACCEPTED_WITH_WARNINGS", "REJECTED"}
    found = []
    for path in sorted(p for folder in SOURCES for p in (ROOT / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module in (
                "village_reports.reader",
                "village_reports.warehouse",
            ):
                found += [(str(path.relative_to(ROOT)), a.name) for a in node.names if a.name in model_names]
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in ("reader", "warehouse")
                and node.attr in model_names
            ):
                found.append((str(path.relative_to(ROOT)), f"{node.value.id}.{node.attr}"))
    assert found == []
    assert model.SEVERITIES == ("error", "warning", "info")


def test_staging_stores_every_field_of_a_record() -> None:
    assert tuple(name for name in staging._SCHEMA.names if name != "result_index") == model.Record._fields
