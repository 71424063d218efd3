"""The domain model: what a submitted workbook says, what is wrong with it, and its verdict.

Plain data, no behaviour beyond small derived values, and no imports from the rest of the
package, so every stage can use it: the reader fills a ``ReadResult`` with ``Record``s
and ``Problem``s, the checks add problems, ``status_of`` turns them into the submission's
status, and staging and the warehouse store all three. The problem codes themselves, with
their severity and message, are registered in ``problems``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final, Literal, NamedTuple

Severity = Literal["error", "warning", "info"]
"""How grave a problem is: an error sends the file back (退回), a warning is accepted and
flagged for the clerk to check (已接收（有提示）), an info only says what the reader did."""

SEVERITIES: Final[tuple[Severity, ...]] = ("error", "warning", "info")

Status = Literal["accepted", "accepted_with_warnings", "rejected", "received_after_signoff"]
"""A submission's verdict, as the warehouse stores it (``submission.status``)."""

ACCEPTED: Final = "accepted"
ACCEPTED_WITH_WARNINGS: Final = "accepted_with_warnings"
REJECTED: Final = "rejected"
HELD: Final = "received_after_signoff"
"""定稿后收到: a file for a year the statistician has approved and locked. It is received,
kept, read and checked like any other, but its figures never come in force while the
year stays locked; reopening the year reads it again as a new file (``signoff``)."""

Grid = list[list[Any]]
"""One sheet's cells from A1, row by row, as calamine reads them: the 回执 shows them to the
clerk, marked up."""


class Record(NamedTuple):
    """One figure as the unit reported it, and where it stands in their file.

    A named tuple, not a frozen dataclass: a county's night makes 2.5 M of them, several
    times over, and a frozen dataclass costs five times as much to build."""

    unit_code: str | None
    year: int | None
    indicator_code: str
    value: float | None  # None: blank, i.e. not reported
    raw_text: str
    sheet: str
    cell: str
    note: str = ""


@dataclass(frozen=True)
class Problem:
    """Something the clerk should know about; ``code`` is stable, ``message`` is for people.

    Built by ``problems.make`` from the registered code; constructed directly only when a
    stored problem is read back (staging, the warehouse)."""

    code: str
    severity: Severity
    message: str
    sheet: str = ""
    cell: str = ""
    indicator_code: str = ""


@dataclass
class ReadResult:
    """What one workbook says: who sent it, for which year, the figures, and the problems."""

    source: str
    unit_code: str | None = None
    unit_name: str | None = None
    year: int | None = None
    template_version: str | None = None
    sheet: str | None = None
    records: list[Record] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def values(self) -> dict[str, float | None]:
        """Indicator code -> the figure read (None where left blank)."""
        return {r.indicator_code: r.value for r in self.records}


def status_of(problems: Iterable[Problem]) -> Status:
    """A submission's status from its problems: any error rejects it, a warning flags it."""
    severities = {p.severity for p in problems}
    if "error" in severities:
        return REJECTED
    return ACCEPTED_WITH_WARNINGS if "warning" in severities else ACCEPTED
