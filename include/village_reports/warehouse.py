"""The warehouse: dimensions, submissions, facts with provenance (SQLAlchemy 2).

SQL lives in ``sql/``; this module only binds parameters and draws transaction lines.
Every load is one transaction and an UPSERT keyed by the file's hash, so rerunning a
run, or receiving the same file twice, leaves the warehouse as it was.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, create_engine, event, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.elements import TextClause

from village_reports import settings
from village_reports.catalogue import Catalogue, load_catalogue
from village_reports.intake import Arrival
from village_reports.model import HELD, Problem, ReadResult, Record, status_of
from village_reports.roster import Roster, load_roster

log = logging.getLogger(__name__)

STREAM_ROWS = 10_000  # rows fetched at a time by the streamed reads


def _split(body: str) -> tuple[TextClause, ...]:
    """The statements of a SQL file's text (separated by ';' at the end of a line)."""
    body = "\n".join(line for line in body.splitlines() if not line.strip().startswith("--"))
    return tuple(text(part.strip()) for part in body.split(";\n") if part.strip().rstrip(";").strip())


@cache
def _statements(path: Path) -> tuple[TextClause, ...]:
    return _split(path.read_text(encoding="utf-8"))


def sql(name: str) -> tuple[TextClause, ...]:
    return _statements(settings.sql_dir() / f"{name}.sql")


def _local_time_sql(dialect: str) -> str:
    """SQL that writes a UTC ISO time ({0}) as the township reads it, in the settings'
    zone. PostgreSQL converts by the zone's name. SQLite only adds an offset, which is
    exact for a zone without daylight saving: China has kept UTC+8 all year since 1991."""
    if dialect == "postgresql":
        return f"to_char(({{0}})::timestamptz AT TIME ZONE '{settings.REPORTING_TIMEZONE}', 'YYYY-MM-DD HH24:MI')"
    offsets = {settings.LOCAL_ZONE.utcoffset(datetime(2021, month, 1)) for month in (1, 7)}
    if len(offsets) != 1:
        raise ValueError(f"SQLite's views need a time zone without daylight saving, not {settings.REPORTING_TIMEZONE}")
    minutes = int(offsets.pop().total_seconds() // 60)
    return f"strftime('%Y-%m-%d %H:%M', {{0}}, '{minutes:+d} minutes')"


def _view_statements(dialect: str) -> tuple[TextClause, ...]:
    """sql/views.sql with BEIJING_TIME(x) written in the dialect's own functions."""
    body = (settings.sql_dir() / "views.sql").read_text(encoding="utf-8")
    local = _local_time_sql(dialect)
    return _split(re.sub(r"BEIJING_TIME\(([^()]+)\)", lambda m: local.format(m.group(1)), body))


def run_sql(connection: Connection, name: str, params: dict | list[dict] | None = None) -> None:
    for statement in sql(name):
        connection.execute(statement, params) if params is not None else connection.execute(statement)


_ENGINES: dict[str, Engine] = {}


def get_engine(url: str | None = None) -> Engine:
    """The process's one engine for ``url`` (default: the configured warehouse).

    Without a pool: each connection is opened for a transaction and closed after it. A
    task is a short process that opens a handful of them, and a pooled SQLite connection
    keeps its file open: SQLite reuses such a descriptor for a later open, which then
    writes through a warehouse made read-only since, or to a file replaced since."""
    url = url or settings.warehouse_url()
    if (engine := _ENGINES.get(url)) is not None:
        return engine
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, poolclass=NullPool)
    if engine.dialect.name == "sqlite":
        # several tasks write to the one file: wait for the lock rather than fail
        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout = 30000")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.close()

    _ENGINES[url] = engine
    return engine


BASELINE = "0001"  # the revision equal to the tables of a warehouse made before migrations


def _alembic_config(connection: Connection | None = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(settings.migrations_dir()))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return str(ScriptDirectory.from_config(_alembic_config()).get_current_head())


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> str:
    """Bring the warehouse's tables to the newest revision, in one transaction; returns it.

    A warehouse made before migrations (tables, no ``alembic_version``) is adopted: stamped
    at the baseline, which equals its tables, then upgraded. The views go first, since
    SQLite's batch mode cannot copy a table that a view uses; ``create_schema`` makes them
    again. The caller holds the warehouse lock (``prepare_warehouse``), so two runs never
    migrate at once."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    head = head_revision()
    with engine.begin() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
        if current == head:
            return head
        config = _alembic_config(connection)
        if current is None and inspect(connection).has_table("submission"):
            command.stamp(config, BASELINE)
            log.info("数据仓库建于迁移之前：已按基线版本 %s 登记（表结构相同）", BASELINE)
        for statement in _view_statements(connection.dialect.name):
            if str(statement).startswith("DROP VIEW"):
                connection.execute(statement)
        command.upgrade(config, "head")
        run_sql(connection, "dml/delete_schema_digest")
        log.info("数据仓库表结构已升级：%s → %s", current or "（新建）", head)
    return head


def create_schema(engine: Engine, catalogue: Catalogue | None = None, roster: Roster | None = None) -> None:
    """Tables by migration (``upgrade``), then the views and the unit and indicator
    dimensions, made again whenever they, the catalogue, the roster or the revision
    changed; safe to run any number of times."""
    catalogue = catalogue or load_catalogue()
    roster = roster or load_roster()
    revision = upgrade(engine)
    units = [
        {"unit_code": u.code, "unit_name": u.name, "kind": u.kind, "placeholder": u.placeholder} for u in roster.units
    ]
    indicators = [
        {
            "indicator_code": i.code,
            "indicator_name": i.name,
            "unit": i.measure_unit,
            "section_code": i.section,
            "section_name": catalogue.section(i.section).name,
            "value_type": i.type,
            "decimals": i.decimals,
            "reporter": i.reporter,
            "aggregation": i.aggregation,
            "min_value": i.minimum,
            "max_value": i.maximum,
            "sort_order": n,
        }
        for n, i in enumerate(catalogue.indicators)
    ]
    digest = hashlib.sha256(
        json.dumps(
            [revision, (settings.sql_dir() / "views.sql").read_text(encoding="utf-8"), units, indicators],
            ensure_ascii=False,
            sort_keys=True,
        ).encode()
    ).hexdigest()
    if _applied_digest(engine) == digest:
        return
    with engine.begin() as connection:
        for statement in _view_statements(connection.dialect.name):
            connection.execute(statement)
        run_sql(connection, "dml/upsert_unit", units)
        run_sql(connection, "dml/upsert_indicator", indicators)
        run_sql(
            connection,
            "dml/upsert_schema_digest",
            {"digest": digest, "applied_at": datetime.now(UTC).isoformat(timespec="seconds")},
        )


def _applied_digest(engine: Engine) -> str | None:
    try:
        with engine.connect() as connection:
            return connection.execute(sql("dml/select_schema_digest")[0]).scalar()
    except DBAPIError:
        return None  # a new warehouse: no schema_state table yet


def known_submissions(engine: Engine) -> dict[tuple[str, int], str]:
    """Every stored submission's id by its content's SHA-256 and its year."""
    with engine.connect() as connection:
        rows = connection.execute(sql("dml/select_known_submissions")[0])
        return {(content, year): submission_id for content, year, submission_id in rows}


def locked_year_receipts(engine: Engine) -> set[str]:
    """The receipts of every file of the signed-off years: a reprocess leaves them alone."""
    with engine.connect() as connection:
        return {row[0] for row in connection.execute(sql("dml/select_locked_year_receipts")[0])}


def known_receipts(engine: Engine) -> set[str]:
    """Files already received at their inbox path with their content, and done with: a
    file held while its year was signed off is not, once the year is reopened."""
    with engine.connect() as connection:
        return {row[0] for row in connection.execute(sql("dml/select_known_receipts")[0])}


def waiting_receipts(engine: Engine) -> dict[str, str]:
    """Receipt -> received_at of the files held while their year was signed off, whose
    year is reopened: the next run reads and loads them, as received when they came."""
    with engine.connect() as connection:
        return {row[0]: row[1] for row in connection.execute(sql("dml/select_waiting_receipts")[0])}


def _receipt(arrival: Arrival) -> dict[str, object]:
    return {
        "receipt_id": arrival.receipt_id,
        "submission_id": arrival.submission_id,
        "year": arrival.year,
        "file_name": arrival.file_name,
        "received_at": arrival.received_at,
        "is_duplicate": arrival.duplicate,
    }


def record_duplicates(engine: Engine, arrivals: Iterable[Arrival]) -> None:
    """Account for files whose content was already received: never read twice, never lost."""
    rows = [_receipt(a) for a in arrivals if a.duplicate]
    if rows:
        with engine.begin() as connection:
            run_sql(connection, "dml/upsert_receipt", rows)


def _period(year: int) -> dict[str, object]:
    from village_reports.rules import load_rules

    return {
        "year": year,
        "period_start": f"{year}-01-01",
        "period_end": f"{year}-12-31",
        "deadline": load_rules().deadline(year),
    }


def record_validation(engine: Engine, submission_ids: list[str], outcome: dict[str, Any]) -> None:
    """Keep one Great Expectations run in the validation history."""
    ids = sorted(submission_ids)
    row = {
        "validation_id": hashlib.sha256("\n".join(ids).encode()).hexdigest(),
        "validated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "submission_ids": json.dumps(ids),
        "success": bool(outcome["success"]),
        "evaluated": int(outcome["statistics"].get("evaluated_expectations", 0)),
        "successful": int(outcome["statistics"].get("successful_expectations", 0)),
        "result_json": json.dumps(outcome["result"], ensure_ascii=False, default=str),
    }
    with engine.begin() as connection:
        run_sql(connection, "dml/upsert_validation_run", row)


PEERS_PER_INDICATOR = 200


def peer_figures(engine: Engine, years: Iterable[int]) -> list[tuple[str, int, str, float]]:
    """(unit, year, indicator, value): a bounded sample of the figures in force per indicator."""
    statement = sql("dml/select_peer_figures")[0].bindparams(bindparam("years", expanding=True))
    with engine.connect() as connection:
        rows = connection.execute(statement, {"years": sorted(set(years)), "per_indicator": PEERS_PER_INDICATOR})
        return [tuple(row) for row in rows]  # type: ignore[misc]


def unit_history(
    engine: Engine, unit_codes: Iterable[str], first_year: int, last_year: int
) -> list[tuple[str, int, str, float]]:
    """(unit, year, indicator, value) in force for some units over some years."""
    codes = sorted(set(unit_codes))
    if not codes:
        return []
    statement = sql("dml/select_unit_history")[0].bindparams(bindparam("unit_codes", expanding=True))
    with engine.connect() as connection:
        rows = connection.execute(statement, {"unit_codes": codes, "first_year": first_year, "last_year": last_year})
        return [tuple(row) for row in rows]  # type: ignore[misc]


def unit_year_files(engine: Engine, pairs: Iterable[tuple[str, int]]) -> dict[tuple[str, int], list[dict[str, Any]]]:
    """Every file received for each (unit, year) of ``pairs``, oldest first."""
    pairs = set(pairs)
    found: dict[tuple[str, int], list[dict[str, Any]]] = {pair: [] for pair in pairs}
    if not pairs:
        return found
    statement = sql("dml/select_unit_year_files")[0].bindparams(
        bindparam("unit_codes", expanding=True), bindparam("years", expanding=True)
    )
    params = {"unit_codes": sorted({u for u, _ in pairs}), "years": sorted({y for _, y in pairs})}
    with engine.connect() as connection:
        for row in connection.execute(statement, params).mappings():
            key = (row["unit_code"], row["year"])
            if key in found:
                found[key].append({**row, "is_current": bool(row["is_current"])})
    return found


def received_names(engine: Engine) -> set[tuple[int, str]]:
    """(year, file name) of every file received so far."""
    with engine.connect() as connection:
        return {(row[0], row[1]) for row in connection.execute(sql("dml/select_received_names")[0])}


def all_submissions(engine: Engine) -> Iterator[dict[str, Any]]:
    """Every submission's name, place and status, streamed (a county keeps 24,000 a year)."""
    with engine.connect() as connection:
        result = connection.execution_options(yield_per=STREAM_ROWS).execute(sql("dml/select_all_submissions")[0])
        for row in result.mappings():
            yield dict(row)


def stored_result(engine: Engine, submission_id: str, file_name: str) -> ReadResult:
    """A submission as it was loaded (figures with their cells, and problems), rebuilt
    from the warehouse: what its 回执 said, without reading or judging the file again."""
    facts, problems = sql("dml/select_stored_submission")
    with engine.connect() as connection:
        records = [Record(*row) for row in connection.execute(facts, {"submission_id": submission_id})]
        found = [Problem(*row) for row in connection.execute(problems, {"submission_id": submission_id})]
    first = records[0] if records else None
    return ReadResult(
        file_name,
        unit_code=first.unit_code if first else None,
        year=first.year if first else None,
        sheet=first.sheet if first else None,
        records=records,
        problems=found,
    )


def timeliness(engine: Engine, year: int) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(sql("dml/select_timeliness")[0], {"year": year}).mappings()]


def signoff_audit(engine: Engine, year: int) -> list[dict[str, Any]]:
    """The year's sign-offs, send-backs, reopenings and late files, oldest first."""
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(sql("dml/select_signoff_audit")[0], {"year": year}).mappings()]


FACT_COLUMNS = ("submission_id", "indicator_code", "unit_code", "year", "value", "raw_text", "sheet", "cell", "note")


def _copy_facts(connection: Connection, facts: list[dict[str, Any]]) -> None:
    """PostgreSQL: COPY the batch's facts into a staging table, then one set-based insert."""
    run_sql(connection, "dml/pg_create_fact_staging")
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY fact_staging ({', '.join(FACT_COLUMNS)}) FROM STDIN") as copy:
        for fact in facts:
            copy.write_row([fact[c] for c in FACT_COLUMNS])
    run_sql(connection, "dml/insert_facts_from_staging")


def _insert_many(connection: Connection, name: str, rows: list[dict[str, Any]]) -> None:
    """A bulk INSERT. On SQLite the rows go straight to the driver, whose named style is
    the SQL files' own: SQLAlchemy's per-row parameter handling took 2.7× as long."""
    if connection.dialect.name != "sqlite":
        run_sql(connection, name, rows)
        return
    for statement in sql(name):
        connection.exec_driver_sql(statement.text, rows)


def _status(result: ReadResult, year: int, locked: set[int]) -> str:
    """A file's status: its problems' verdict, or held when its year is signed off (its
    problems are stored all the same, for its 回执 and for when the year is reopened)."""
    return HELD if year in locked else status_of(result.problems)


def locked_years(connection: Connection) -> set[int]:
    """The years signed off and not reopened since (``village_reports.signoff``)."""
    return {row[0] for row in connection.execute(sql("dml/select_locked_years")[0])}


def load_submissions(engine: Engine, items: Sequence[tuple[Arrival, ReadResult]]) -> list[str]:
    """Store a batch of files (receipts, figures, problems) in one transaction; their statuses.

    A file for a year that is signed off is stored as ``received_after_signoff``: never in
    force, so the year's totals stay as approved. The lock is read in the same transaction,
    and ``signoff`` records a decision under the warehouse lock that a load holds, so a
    file is either loaded before an approval (and the review's digest sees it) or held.

    Interrupted anywhere (a killed process, a lost connection), the transaction leaves the
    warehouse as it was, and the files are still new to the next run. PostgreSQL loads
    the figures with COPY; SQLite with one executemany.
    """
    if not items:
        return []
    with engine.begin() as connection:
        locked = locked_years(connection)
        statuses, submissions, receipts, facts, problem_rows = [], [], [], [], []
        for arrival, result in items:
            problems = result.problems
            year = arrival.year  # the folder it was sent for; a workbook stating another year is rejected
            status = _status(result, year, locked)
            statuses.append(status)
            submissions.append(
                {
                    "submission_id": arrival.submission_id,
                    "content_sha256": arrival.sha256,
                    "unit_code": result.unit_code,
                    "year": year,
                    "file_name": arrival.file_name,
                    "archive_path": arrival.archive_path,
                    "size_bytes": arrival.size,
                    "received_at": arrival.received_at,
                    "template_version": result.template_version,
                    "status": status,
                    "error_count": sum(p.severity == "error" for p in problems),
                    "warning_count": sum(p.severity == "warning" for p in problems),
                }
            )
            receipts.append(_receipt(arrival))
            facts += [
                {**r._asdict(), "submission_id": arrival.submission_id, "year": year}
                for r in result.records
                if r.unit_code is not None
            ]
            problem_rows += [
                {**vars(p), "submission_id": arrival.submission_id, "seq": n} for n, p in enumerate(problems)
            ]
        periods = [_period(y) for y in sorted({a.year for a, _ in items})]
        current = [
            {"unit_code": u, "year": y} for u, y in sorted({(r.unit_code, a.year) for a, r in items if r.unit_code})
        ]
        run_sql(connection, "dml/upsert_period", periods)
        run_sql(connection, "dml/upsert_submission", submissions)
        run_sql(connection, "dml/upsert_receipt", receipts)
        run_sql(connection, "dml/delete_submission_rows", [{"submission_id": s["submission_id"]} for s in submissions])
        if facts and engine.dialect.name == "postgresql":
            _copy_facts(connection, facts)
        elif facts:
            _insert_many(connection, "dml/insert_fact", facts)
        if problem_rows:
            _insert_many(connection, "dml/insert_problem", problem_rows)
        if current:
            run_sql(connection, "dml/refresh_current", current)  # a held file is never made current
    return statuses


def years(engine: Engine) -> list[int]:
    with engine.connect() as connection:
        return [row[0] for row in connection.execute(sql("dml/select_years")[0])]


def current_values_by_unit(engine: Engine, year: int) -> Iterator[tuple[str, dict[str, float | None]]]:
    """The figures in force for one year, one unit at a time (streamed: a county's
    millions of figures never sit in memory together)."""
    with engine.connect() as connection:
        rows = connection.execution_options(stream_results=True, yield_per=STREAM_ROWS).execute(
            sql("dml/select_current_facts")[0], {"year": year}
        )
        unit, values = None, {}
        for row in rows:
            if row.unit_code != unit:
                if unit is not None:
                    yield unit, values
                unit, values = row.unit_code, {}
            values[row.indicator_code] = row.value
        if unit is not None:
            yield unit, values


# ---- the charts' data (issue 13): small, a few rows per unit or per indicator and year ------


def totals_history(
    engine: Engine, indicator_codes: Iterable[str], first_year: int, last_year: int
) -> list[dict[str, Any]]:
    """(year, indicator_code, value, units_reported, units_expected) of the stored township
    totals of some indicators."""
    codes = sorted(set(indicator_codes))
    if not codes:
        return []
    statement = sql("dml/select_totals_history")[0].bindparams(bindparam("indicator_codes", expanding=True))
    params = {"indicator_codes": codes, "first_year": first_year, "last_year": last_year}
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(statement, params).mappings()]


def timeliness_history(engine: Engine, first_year: int, last_year: int) -> list[dict[str, Any]]:
    """(year, unit_code, timeliness) of every unit in each year of the span."""
    params = {"first_year": first_year, "last_year": last_year}
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(sql("dml/select_timeliness_history")[0], params).mappings()]


def village_figures(engine: Engine, year: int, indicator_codes: Iterable[str]) -> list[dict[str, Any]]:
    """(unit_code, indicator_code, value): the figures in force of some indicators for one year."""
    codes = sorted(set(indicator_codes))
    if not codes:
        return []
    statement = sql("dml/select_village_figures")[0].bindparams(bindparam("indicator_codes", expanding=True))
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(statement, {"year": year, "indicator_codes": codes}).mappings()]
