"""The problem registry: every code the package raises is registered, with its wording, and
rules.yaml names registered codes exactly.

The package is read as source (ast), so a code on a path no other test reaches is checked
too: a problem is built by a call whose first argument is its code.
"""

from __future__ import annotations

import ast
import re
import string
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from village_reports import problems
from village_reports.model import Problem
from village_reports.problems import CODES, CONFIRMABLE, REGISTRY, lookup, make
from village_reports.rules import RULES_FILE, load_rules

PACKAGE = Path(problems.__file__).parent
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "problems.py" and "migrations" not in p.parts)
FAMILIES = sorted({code.split(".")[0] for code in CODES} | {problems.RELATION_PREFIX.rstrip(".")})
CODE_SHAPE = re.compile(rf"(?:{'|'.join(FAMILIES)})\.[a-z_]+")
WHERE = ("sheet", "cell", "indicator_code")


class Built(NamedTuple):
    """One call in the package that builds a problem."""

    place: str  # module:line
    code: str
    variant: str
    keywords: frozenset[str] | None  # the fields a make() call passes; None for other calls


def _code_of(node: ast.expr) -> str | None:
    """The problem code an argument names: a literal, or a constant of problems.py."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        value = node.value
    elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "problems":
        value = getattr(problems, node.attr, None)
    elif isinstance(node, ast.Name):
        value = getattr(problems, node.id, None)
    else:
        return None
    return value if isinstance(value, str) and CODE_SHAPE.fullmatch(value) else None


def _trees() -> Iterator[tuple[Path, ast.AST]]:
    for path in MODULES:
        yield path, ast.parse(path.read_text(encoding="utf-8"))


def _built() -> list[Built]:
    found = []
    for path, tree in _trees():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and node.args and (code := _code_of(node.args[0]))):
                continue
            second = node.args[1] if len(node.args) > 1 else None
            variant = second.value if isinstance(second, ast.Constant) and isinstance(second.value, str) else ""
            names = [k.arg for k in node.keywords]
            callee = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            # make's keywords fill in the message (a **splat is taken for the place: sheet,
            # cell, indicator_code); lookup's callers fill it in later
            splat = set(WHERE) if None in names else set()
            keywords = frozenset({n for n in names if n is not None} | splat) if callee == "make" else None
            found.append(Built(f"{path.relative_to(PACKAGE)}:{node.lineno}", code, variant, keywords))
    return found


BUILT = _built()


def test_the_scan_finds_the_problems_the_package_builds() -> None:
    """A guard on the scan itself: the reader, the file checks, the rules and the
    validation all build problems, so each shows up."""
    modules = {b.place.split(":")[0] for b in BUILT}
    assert {"reader.py", "file_safety.py", "number_parsing.py", "rules.py", "validation.py"} <= modules
    assert len(BUILT) >= len(REGISTRY)


def test_every_problem_the_package_builds_is_registered() -> None:
    unknown = [b for b in BUILT if (b.code, b.variant) not in REGISTRY]
    assert unknown == [], "register these in problems.py"


def test_every_code_is_named_where_the_problem_is_built() -> None:
    """So the scan sees it: make and lookup take a literal code (or a constant of
    problems.py). The one exception is validation, which looks up the code its
    expectation carries, set from a literal lookup when the suite is built."""
    hidden = [
        f"{path.relative_to(PACKAGE)}:{node.lineno}"
        for path, tree in _trees()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute | ast.Name)
        and getattr(node.func, "attr", getattr(node.func, "id", "")) in ("make", "lookup")
        and node.args
        and _code_of(node.args[0]) is None
    ]
    assert [place for place in hidden if not place.startswith("validation.py:")] == []
    assert len(hidden) == 1


def test_every_code_written_in_the_package_is_registered() -> None:
    """Codes compared or passed around as strings too (e.g. the 回执's blank line)."""
    written = {
        (path.name, node.value)
        for path, tree in _trees()
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and CODE_SHAPE.fullmatch(node.value)
    }
    assert sorted((name, code) for name, code in written if code not in CODES) == []


def test_every_registered_wording_is_raised_somewhere() -> None:
    raised = {(b.code, b.variant) for b in BUILT}
    assert sorted(set(REGISTRY) - raised) == [], "a wording nothing raises: remove it, or raise it"


def test_each_call_passes_the_fields_its_message_names() -> None:
    missing = []
    for b in BUILT:
        if b.keywords is None or (b.code, b.variant) not in REGISTRY:
            continue
        named = {
            field.split(".")[0].split("[")[0]
            for _, field, _, _ in string.Formatter().parse(lookup(b.code, b.variant).template)
            if field
        }
        if named - b.keywords:
            missing.append((b.place, b.code, sorted(named - b.keywords)))
    assert missing == []


def test_problems_are_built_through_the_registry() -> None:
    """``Problem(...)`` by hand only restores a stored problem (``Problem(*row)``)."""
    by_hand = [
        f"{path.relative_to(PACKAGE)}:{node.lineno}"
        for path, tree in _trees()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "Problem"
        and not (len(node.args) >= 1 and isinstance(node.args[0], ast.Starred))
    ]
    assert by_hand == [], "build problems with problems.make"


def test_a_problem_has_its_registered_severity_and_message() -> None:
    assert make("file.too_large", size_mb=25.04, limit_mb=20) == Problem(
        "file.too_large", "error", "文件有 25.0 MB，超过 20 MB 的上限；请只保留填报表后重新保存。"
    )
    assert make("row.unknown_code", row=12, code="XYZ99", sheet="填报表", cell="F12") == Problem(
        "row.unknown_code", "warning", "第12行的指标代码“XYZ99”不在指标目录中，未读取。", "填报表", "F12"
    )
    assert make(
        "outlier.peers", severity="error", name="a", value="1", measure_unit="", direction="", median="2"
    ).severity == ("error")


def test_an_unregistered_code_or_wording_fails_fast() -> None:
    with pytest.raises(LookupError, match=r"'cell\.not_a_numbr' is not registered"):
        make("cell.not_a_numbr", name="x", raw="y")
    with pytest.raises(
        LookupError, match=r"'file\.unreadable' has no wording ''; its wordings: \['content', 'open', 'parser'\]"
    ):
        make("file.unreadable", reason="x")


def test_rules_yaml_names_known_confirmable_codes() -> None:
    rules = load_rules()
    relations = {problems.relation_code(r.id) for r in rules.relations}
    assert rules.confirmable <= CONFIRMABLE | relations
    # what the prefixes 'value.above_maximum', 'value.below_minimum', 'rule.' and 'outlier.' matched
    assert rules.confirmable == CONFIRMABLE | relations
    # exact codes, not prefixes
    assert rules.is_confirmable("rule.R01") and not rules.is_confirmable("rule.R011")
    assert not rules.is_confirmable("value.above_maximum_by_far")


@pytest.mark.parametrize(
    ("listed", "says"),
    [
        ("outlier.histroy", "unknown problem code 'outlier.histroy'"),
        ("rule.", "unknown problem code 'rule.'"),  # a prefix, as rules.yaml once had
        ("rule.R99", "unknown problem code 'rule.R99'"),  # no such relation
        ("cell.not_a_number", "a note cannot confirm 'cell.not_a_number'"),
    ],
)
def test_rules_yaml_with_an_unknown_code_is_rejected(tmp_path: Path, listed: str, says: str) -> None:
    text = RULES_FILE.read_text(encoding="utf-8")
    assert "\n  - outlier.history\n" in text
    broken = tmp_path / "rules.yaml"
    broken.write_text(text.replace("\n  - outlier.history\n", f"\n  - {listed}\n"), encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(says)):
        load_rules(broken)
