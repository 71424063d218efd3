"""Command line: ``python -m village_reports templates|samples|summary``.

Operators' tools outside Airflow: hand out blank templates, create the sample inbox, and
read an inbox to see what each unit sent.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from village_reports.catalogue import load_catalogue
from village_reports.reader import read_workbook
from village_reports.roster import load_roster
from village_reports.samples import load_plan, write_samples
from village_reports.template import write_template


def _years(text: str | None) -> list[int]:
    return [int(y) for y in text.split(",")] if text else list(load_plan().years)


def cmd_templates(args: argparse.Namespace) -> int:
    for year in _years(args.years):
        for unit in load_roster().units:
            write_template(Path(args.out) / str(year), unit, year)
    print(f"blank templates written under {args.out}/<year>/")
    return 0


def cmd_samples(args: argparse.Namespace) -> int:
    inbox = Path(args.inbox)
    existing = [p for p in inbox.rglob("*") if p.is_file()] if inbox.exists() else []
    if existing and not args.force:
        print(f"{inbox} already holds {len(existing)} files; sample submissions not written (use --force)")
        return 0
    paths = write_samples(inbox, _years(args.years))
    print(f"{len(paths)} sample submissions written under {inbox}/<year>/")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    """Read every workbook in the inbox and print one line per file."""
    catalogue = load_catalogue()
    roster = load_roster()
    inbox = Path(args.inbox)
    files = sorted(p for p in inbox.rglob("*") if p.is_file())
    if not files:
        print(f"no files under {inbox}")
        return 1
    print(f"{'年度':<6}{'单位代码':<8}{'填报数':>6}{'空白':>6}{'错误':>6}{'提示':>6}  单位名称 / 文件")
    for path in files:
        year_hint = int(path.parent.name) if path.parent.name.isdigit() else None
        result = read_workbook(path, catalogue, default_year=year_hint)
        unit = roster.get(result.unit_code or "")
        filled = sum(r.value is not None for r in result.records)
        blank = sum(r.value is None for r in result.records)
        errors = sum(p.severity == "error" for p in result.problems)
        others = len(result.problems) - errors
        name = unit.name if unit else (result.unit_name or "?")
        counts = f"{filled:>8}{blank:>8}{errors:>8}{others:>8}"
        print(f"{result.year or '?':<8}{result.unit_code or '?':<10}{counts}  {name} / {path.name}")
        for problem in result.problems if args.verbose else ():
            print(f"{'':>10}[{problem.severity}] {problem.sheet}!{problem.cell} {problem.message}")
    return 0


def cmd_dictionary(args: argparse.Namespace) -> int:
    from village_reports.catalogue import data_dictionary

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(data_dictionary(load_catalogue()), encoding="utf-8")
    print(f"data dictionary written to {out}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """The warehouse at a glance: completeness per year and the headline totals."""
    from village_reports import settings, warehouse

    engine = warehouse.get_engine()
    with engine.connect() as connection:
        completeness = connection.execute(warehouse.sql("dml/select_completeness")[0]).mappings().all()
        headline = connection.execute(warehouse.sql("dml/select_headline_totals")[0]).mappings().all()
    print(f"warehouse: {engine.url.render_as_string(hide_password=True)}")
    for row in completeness:
        print(
            f"{row['year']}年：应报 {row['units_expected']} 个单位，数据在用 {row['units_with_figures']} 个，"
            f"缺报 {row['units_missing']} 个，退回 {row['units_rejected']} 个"
        )
    for row in headline:
        # a year whose files were all sent back has no figure in force: say so, never "0"
        value = "暂无数据" if row["value"] is None else f"{row['value']:g} {row['unit']}"
        print(f"  {row['year']} {row['indicator_name']}：{value}")
    print(f"outputs: {settings.output_dir()}/<year>/township_totals.csv, township_totals.xlsx, annual_report.md")
    return 0 if completeness else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m village_reports", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    templates = commands.add_parser("templates", help="write blank templates for every unit")
    templates.add_argument("--out", default="output/templates")
    templates.add_argument("--years", help="comma-separated, default: the sample years")
    samples = commands.add_parser("samples", help="write sample submissions into an empty inbox")
    samples.add_argument("--inbox", default="data/inbox")
    samples.add_argument("--years")
    samples.add_argument("--force", action="store_true", help="write even if the inbox is not empty")
    summary = commands.add_parser("summary", help="read every workbook in the inbox")
    summary.add_argument("--inbox", default="data/inbox")
    summary.add_argument("-v", "--verbose", action="store_true", help="list every problem")
    commands.add_parser("status", help="completeness and headline totals from the warehouse")
    dictionary = commands.add_parser("dictionary", help="write the data dictionary generated from the catalogue")
    dictionary.add_argument("--out", default="output/data_dictionary.md")
    args = parser.parse_args(argv)
    handlers = {
        "templates": cmd_templates,
        "samples": cmd_samples,
        "summary": cmd_summary,
        "status": cmd_status,
        "dictionary": cmd_dictionary,
    }
    handler = handlers[args.command]
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
