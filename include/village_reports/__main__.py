"""Command line: ``python -m village_reports templates|samples|summary|status|signoff-status|dictionary|upgrade``.

Operators' tools outside Airflow: hand out blank templates, create the sample inbox, and
read an inbox to see what each unit sent.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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
    # the annual report's Word template, for the office to copy and edit (generated, never committed)
    from village_reports.docx_template import write_template as write_report_template

    print(f"annual report template written to {write_report_template(Path(args.out))}")
    return 0


def cmd_samples(args: argparse.Namespace) -> int:
    inbox = Path(args.inbox)
    existing = [p for p in inbox.rglob("*") if p.is_file()] if inbox.exists() else []
    if existing and not args.force:
        print(f"{inbox} already holds {len(existing)} files; sample submissions not written (use --force)")
        return 0
    paths = write_samples(inbox, _years(args.years), drafts=not args.no_drafts)
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
    from sqlalchemy.exc import DBAPIError

    from village_reports import settings, signoff, warehouse

    engine = warehouse.get_engine()
    print(f"数据仓库（warehouse）：{engine.url.render_as_string(hide_password=True)}")
    try:
        with engine.connect() as connection:
            completeness = connection.execute(warehouse.sql("dml/select_completeness")[0]).mappings().all()
            headline = connection.execute(warehouse.sql("dml/select_headline_totals")[0]).mappings().all()
    except DBAPIError:  # no schema yet: nothing has been loaded
        completeness, headline = [], []
    if not completeness:
        print("仓库里还没有任何年度的数据：请先运行 make run，或在 Airflow 中运行 village_reports。")
        return 1
    for row in completeness:
        label = signoff.state(engine, row["year"]).label()  # 草稿 or 定稿, as the outputs say
        print(
            f"{row['year']}年：应报 {row['units_expected']} 个单位，数据在用 {row['units_with_figures']} 个，"
            f"缺报 {row['units_missing']} 个，退回 {row['units_rejected']} 个；{label}"
        )
    for row in headline:
        # a year whose files were all sent back has no figure in force: say so, never "0"
        value = "暂无数据" if row["value"] is None else f"{row['value']:g} {row['unit']}"
        if row["value"] is not None and row["units_reported"] < row["units_expected"]:
            value += f"（应报 {row['units_expected']} 个单位，已报 {row['units_reported']} 个）"
        print(f"  {row['year']} {row['indicator_name']}：{value}")
    print(
        f"汇总结果：{settings.output_dir()}/<年度>/township_totals.csv、township_totals.xlsx、annual_report.docx、annual_report.md"
    )
    return 0


class _ChineseHelp(argparse.HelpFormatter):
    """Help in Chinese, with each option's default where it has one."""

    def add_usage(self, usage: Any, actions: Any, groups: Any, prefix: str | None = None) -> None:
        # argparse names a subcommand by formatting the usage with prefix "": keep it empty
        super().add_usage(usage, actions, groups, "用法：" if prefix is None else prefix)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False, argparse.SUPPRESS) or not action.option_strings:
            return action.help
        return f"{action.help}（默认：%(default)s）"


def cmd_upgrade(args: argparse.Namespace) -> int:
    """Bring the warehouse's tables to the newest revision, then its views and dimensions."""
    import logging

    from sqlalchemy import inspect

    from village_reports import guard, warehouse

    logging.getLogger("alembic").setLevel(logging.WARNING)  # its progress lines say nothing to an operator
    engine = warehouse.get_engine()
    before = warehouse.current_revision(engine)
    adopted = before is None and inspect(engine).has_table("submission")
    with guard.warehouse_lock():  # never two migrations at once
        warehouse.create_schema(engine)
    after = warehouse.current_revision(engine)
    print(f"数据仓库（warehouse）：{engine.url.render_as_string(hide_password=True)}")
    if adopted:
        print(f"仓库建于迁移之前：已按基线版本 {warehouse.BASELINE} 登记，升级到 {after}，数据未动")
    elif before != after:
        print(f"表结构版本：{before or '（新建）'} → {after}")
    else:
        print(f"表结构已是最新版本：{after}")
    return 0


def cmd_signoff_status(args: argparse.Namespace) -> int:
    """Each year's sign-off, as the outputs print it: 草稿 with the time of its data, or 定稿."""
    from sqlalchemy.exc import DBAPIError

    from village_reports import signoff, warehouse

    engine = warehouse.get_engine()
    try:
        known = warehouse.years(engine)
    except DBAPIError:  # no schema yet: nothing has been loaded
        known = []
    years = [args.year] if args.year is not None else known
    if not years:
        print("仓库里还没有任何年度的数据。")
        return 1
    for year in years:
        print(f"{year}年：{signoff.state(engine, year).label() if year in known else '尚无数据'}")
        if args.audit and year in known:
            for row in warehouse.signoff_audit(engine, year):
                what = AUDIT_WHAT.get(row["what"], row["what"])
                print(f"  {row['happened_at_beijing']}  {what}  {row['who']}  {row['reason_or_file'] or ''}".rstrip())
    return 0


AUDIT_WHAT = {
    "approved": "审核通过",
    "sent_back": "退回",
    "reopened": "重新开放",
    "received_late": "逾期报送",
    "received_after_signoff": "定稿后收到",
}  # v_signoff_audit.what, as the statistician reads it


def _chinese(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """argparse's own words ("options", "show this help message") in Chinese."""
    parser._optionals.title = "选项"
    parser.add_argument("-h", "--help", action="help", help="显示帮助并退出")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _chinese(
        argparse.ArgumentParser(
            prog="python -m village_reports",
            description="村级报表的操作工具（不经 Airflow）：生成空白模板和示例报表，读取收件箱，查看仓库概况。",
            formatter_class=_ChineseHelp,
            add_help=False,
        )
    )
    commands = parser.add_subparsers(dest="command", required=True, title="命令", metavar="命令")

    def command(name: str, summary: str) -> argparse.ArgumentParser:
        return _chinese(
            commands.add_parser(name, help=summary, description=summary, formatter_class=_ChineseHelp, add_help=False)
        )

    templates = command("templates", "为名册中每个单位生成空白模板，并生成年度工作总结的 Word 模板")
    templates.add_argument("--out", default="output/templates", help="模板写入的文件夹，按年度分子文件夹")
    templates.add_argument("--years", help="年度，逗号分隔，如 2021,2022；不填则为示例数据的年度")
    samples = command("samples", "在空收件箱中写入示例报表（收件箱里已有文件时不写）")
    samples.add_argument("--inbox", default="data/inbox", help="收件箱文件夹")
    samples.add_argument("--years", help="年度，逗号分隔；不填则为示例数据的年度")
    samples.add_argument("--force", action="store_true", help="收件箱里已有文件也照样写入")
    samples.add_argument(
        "--no-drafts", action="store_true", help="不写示例的初稿和先报文件（它们演示退回和替换，不改变合计）"
    )
    summary = command("summary", "逐个读取收件箱中的报表，每个文件一行")
    summary.add_argument("--inbox", default="data/inbox", help="收件箱文件夹")
    summary.add_argument("-v", "--verbose", action="store_true", help="列出每个问题")
    command("status", "仓库概况：各年度报送完整性和主要合计数")
    status = command("signoff-status", "各年度的审核定稿状态（草稿或定稿）")
    status.add_argument("--year", type=int, help="只看这一年度")
    status.add_argument(
        "--audit", action="store_true", help="并列出审核记录：审核、退回、重新开放和逾期、定稿后收到的文件"
    )
    command("upgrade", "把数据仓库的表结构升级到最新版本（建于迁移之前的仓库先按基线登记），再重建视图")
    dictionary = command("dictionary", "由指标目录生成数据字典")
    dictionary.add_argument("--out", default="output/data_dictionary.md", help="数据字典文件")
    args = parser.parse_args(argv)
    handlers = {
        "templates": cmd_templates,
        "samples": cmd_samples,
        "summary": cmd_summary,
        "status": cmd_status,
        "dictionary": cmd_dictionary,
        "upgrade": cmd_upgrade,
        "signoff-status": cmd_signoff_status,
    }
    handler = handlers[args.command]
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
