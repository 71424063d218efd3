"""Validation with Great Expectations (GX Core 1.x), one run per batch of submissions.

The suite is generated from the catalogue: known codes, known units, ranges, whole
numbers where the indicator counts things, and required figures. Records are validated
in long form with their bounds joined on, so one run checks any number of units, and each
failure maps back through its row id to a file and a cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import pandas as pd

from village_reports import problems
from village_reports.catalogue import Catalogue, load_catalogue
from village_reports.model import Problem, ReadResult, Record
from village_reports.roster import Roster, load_roster

SUITE_NAME = "village_submission"


def _expectations(catalogue: Catalogue, roster: Roster) -> list[Any]:
    """The suite; each expectation's meta names the problem its failure is (problems.py
    holds its severity and message)."""
    import great_expectations.expectations as gxe

    codes = [i.code for i in catalogue.indicators if i.is_filled_in]
    pair = {"ignore_row_if": "either_value_is_missing", "or_equal": True}
    checks = [
        (
            gxe.ExpectColumnValuesToBeInSet(column="indicator_code", value_set=codes),
            problems.lookup("value.unknown_indicator"),
        ),
        (
            # the roster is looked up when the frame is built: a county's 24,000 codes as a
            # value_set would be copied and serialised by GX on every run
            gxe.ExpectColumnValuesToNotBeNull(column="roster_unit"),
            problems.lookup("value.unknown_unit"),
        ),
        (
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="value", column_B="min_value", **pair),
            problems.lookup("value.below_minimum"),
        ),
        (
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="max_value", column_B="value", **pair),
            problems.lookup("value.above_maximum"),
        ),
        (
            # null unless the indicator counts things; nulls are not checked
            gxe.ExpectColumnValuesToBeInSet(column="whole_remainder", value_set=[0.0]),
            problems.lookup("value.not_whole"),
        ),
        (
            # compulsory indicators left blank (a cell with unreadable text has its own error)
            gxe.ExpectColumnValuesToNotBeNull(column="answer"),
            problems.lookup(problems.REQUIRED_MISSING),
        ),
    ]
    for expectation, kind in checks:
        expectation.meta = {"problem_code": kind.code}
    return [expectation for expectation, _ in checks]


@cache
def _validation_definition() -> Any:
    """Built once per process: GX's import and context cost seconds, a run ~50 ms."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (
        context.data_sources.add_pandas("submissions")
        .add_dataframe_asset("records")
        .add_batch_definition_whole_dataframe("batch")
    )
    suite = context.suites.add(
        gx.ExpectationSuite(name=SUITE_NAME, expectations=_expectations(load_catalogue(), load_roster()))
    )
    return context.validation_definitions.add(gx.ValidationDefinition(name=SUITE_NAME, data=batch, suite=suite))


def records_frame(results: Sequence[ReadResult], catalogue: Catalogue | None = None) -> pd.DataFrame:
    """All records of a batch in long form, with each indicator's bounds joined on.

    Built from the records as tuples, then column-wise: a batch of 3,000 files is 320,000
    rows, and a dict per row cost more than the validation itself."""
    catalogue = catalogue or load_catalogue()
    roster = load_roster()
    rows = [record for result in results for record in result.records]
    frame = pd.DataFrame.from_records(rows, columns=Record._fields)
    frame.insert(0, "row_id", range(len(frame)))
    frame.insert(1, "result_index", [index for index, result in enumerate(results) for _ in result.records])
    units = {code: code for code in frame["unit_code"].dropna().unique() if roster.get(code)}
    frame["roster_unit"] = frame["unit_code"].map(units)
    codes = frame["indicator_code"]
    known = [catalogue[code] for code in codes.unique() if code in catalogue]
    frame["name"] = codes.map({i.code: i.name for i in known}).fillna(codes)
    frame["measure_unit"] = codes.map({i.code: i.measure_unit for i in known}).fillna("")
    frame["min_value"] = codes.map({i.code: i.minimum for i in known}).astype("float64")
    frame["max_value"] = codes.map({i.code: i.maximum for i in known}).astype("float64")
    value = frame["value"].astype("float64")
    frame["value"] = value
    counts_things = codes.isin({i.code for i in known if i.type == "integer"})
    frame["whole_remainder"] = (value - value.fillna(0).astype("int64")).where(counts_things & value.notna())
    # null only where a compulsory cell was left blank
    required = codes.isin({i.code for i in known if i.required})
    blank_allowed = (frame["raw_text"] != "") | ~required
    frame["answer"] = value.where(value.notna(), pd.Series(0.0, index=frame.index).where(blank_allowed))
    return frame[list(_FRAME_COLUMNS)]


_FRAME_COLUMNS = (
    "row_id",
    "result_index",
    "unit_code",
    "roster_unit",
    "indicator_code",
    "name",
    "measure_unit",
    "value",
    "min_value",
    "max_value",
    "whole_remainder",
    "answer",
    "sheet",
    "cell",
)


@dataclass(frozen=True)
class ValidationOutcome:
    problems: list[list[Problem]]  # per result, in batch order
    success: bool
    statistics: dict[str, Any]
    result_json: dict[str, Any]


def run_expectations(results: Sequence[ReadResult]) -> ValidationOutcome:
    """Run the generated suite once over every record of the batch."""
    frame = records_frame(results)
    per_result: list[list[Problem]] = [[] for _ in results]
    if frame.empty:
        return ValidationOutcome(per_result, True, {"evaluated_expectations": 0}, {})
    run = _validation_definition().run(
        batch_parameters={"dataframe": frame},
        result_format={"result_format": "COMPLETE", "unexpected_index_column_names": ["row_id"]},
    )
    by_row = frame.set_index("row_id")
    for expectation_result in run.results:
        if expectation_result.success:
            continue
        kind = problems.lookup(expectation_result.expectation_config.meta["problem_code"])
        for index in expectation_result.result.get("unexpected_index_list") or []:
            row_id = index["row_id"] if isinstance(index, dict) else index
            row = by_row.loc[int(row_id)]
            fields = {k: ("" if pd.isna(v) else v) for k, v in row.items()}
            # the place is the row's own; the other columns fill in the message
            where = {key: str(fields.pop(key)) for key in ("sheet", "cell", "indicator_code")}
            per_result[int(row["result_index"])].append(problems.build(kind, **where, **fields))
    for index, result in enumerate(results):
        if result.records and all(record.value is None for record in result.records):
            per_result[index].append(problems.make("table.no_figures", sheet=result.sheet or ""))
    summary = {
        "suite": SUITE_NAME,
        "success": bool(run.success),
        "statistics": dict(run.statistics),
        "results": [
            {
                "expectation": r.expectation_config.type,
                "column": r.expectation_config.kwargs.get("column") or r.expectation_config.kwargs.get("column_A"),
                "success": bool(r.success),
                "element_count": r.result.get("element_count"),
                "unexpected_count": r.result.get("unexpected_count"),
            }
            for r in run.results
        ],
    }
    # a compact record of the run: GX's own describe_dict() of a COMPLETE result costs
    # more than the validation itself at scale
    return ValidationOutcome(per_result, bool(run.success), dict(run.statistics), summary)
