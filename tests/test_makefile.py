"""What `make run` tells a newcomer must hold whatever warehouse is configured."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_make_run_names_no_fixed_warehouse() -> None:
    """`status` prints the warehouse in use; the Makefile must not claim SQLite after it."""
    recipe = subprocess.run(
        ["make", "-n", "run", "-o", ".venv/.installed", "-o", "install"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "village_reports status" in recipe
    after_status = recipe.split("village_reports status", 1)[1]
    assert "warehouse.sqlite" not in after_status
