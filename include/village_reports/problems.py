"""Every problem code the pipeline raises, in one table: its severity, the message the clerk
reads in the 回执, and whether a note in 说明（备注） can confirm it.

Code that finds a problem builds it here, ``make("cell.not_a_number", "text", name=…,
raw=…, sheet=…, cell=…, indicator_code=…)``, never from free strings: a code or wording
that is not registered raises ``LookupError`` the first time it is built, and a test
checks that every code the package builds is registered.

A code is stable (the warehouse stores it, analysts query it); its wording may change.
Where one problem is found in more than one way, its code has several wordings, each
named by a ``variant`` (``file.unreadable``: the file cannot be opened, the parser fails,
or the content cannot be read).

The relations of ``data/rules.yaml`` are problems too, with the codes ``rule.<id>``: their
severity and message are written there, next to the rule, and ``relation_type`` makes
their entry. Which confirmable codes a note does confirm is the township's choice, listed
by exact code in ``rules.yaml`` (``confirmable``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, NamedTuple

from village_reports.model import Problem, Severity


class ProblemType(NamedTuple):
    """One registered wording of a problem.

    ``template`` is a ``str.format`` string over ``make``'s keyword arguments (the
    location ``sheet``, ``cell`` and ``indicator_code`` among them). ``confirmable``: a
    figure that is true may raise it (a range, relation or outlier check), so the clerk
    can confirm it with a note; no note can make an unreadable file or cell right."""

    code: str
    severity: Severity
    template: str
    confirmable: bool = False
    variant: str = ""


REQUIRED_MISSING: Final = "value.required_missing"  # listed on its own line in the 回执
RELATION_PREFIX: Final = "rule."

_TYPES: tuple[ProblemType, ...] = (
    # --- the file, before any parser sees it (file_safety, reader) ---------------------
    ProblemType("file.unreadable", "error", "文件无法打开：{reason}。", variant="open"),
    ProblemType("file.unreadable", "error", "文件无法读取（{error}），请重新保存为 .xlsx 后报送。", variant="parser"),
    ProblemType(
        "file.unreadable", "error", "文件内容无法读取（{error}），请重新保存为 .xlsx 后报送。", variant="content"
    ),
    ProblemType("file.empty", "error", "文件是空的（0 字节），请重新保存后报送。"),
    ProblemType(
        "file.too_large",
        "error",
        "文件有 {size_mb:.1f} MB，超过 {limit_mb} MB 的上限；请只保留填报表后重新保存。",
    ),
    ProblemType(
        "file.not_a_workbook",
        "error",
        "这个文件不是 Excel 工作簿（可能是改了扩展名的其他文件），请用镇里下发的模板填写后另存为 .xlsx。",
        variant="renamed",
    ),
    ProblemType(
        "file.not_a_workbook",
        "error",
        "这个压缩文件不是 Excel 工作簿，请用镇里下发的模板填写。",
        variant="archive",
    ),
    ProblemType("file.corrupt", "error", "文件已损坏，无法打开；请在电脑上重新打开、保存后再报送。"),
    ProblemType("file.zip_bomb", "error", "文件解压后异常巨大（疑似压缩炸弹），已拒收；请用镇里下发的模板重新填写。"),
    ProblemType(
        "file.macros",
        "error",
        "文件含有宏（.xlsm），为安全起见不予读取；请在 Excel 中“另存为”普通的 .xlsx 工作簿后重新报送。",
    ),
    ProblemType(
        "file.xml_entities",
        "error",
        "文件内部结构异常（含 XML 实体声明），为安全起见不予读取；请用镇里下发的模板重新填写。",
    ),
    ProblemType(
        "file.too_large_area",
        "error",
        "工作表的内容一直延伸到 {last_cell}（{rows} 行 × {cols} 列），远超填报表的范围，无法读取，已拒收；"
        "请删除表格下方和右侧多余的内容（选中多余的行、列后删除），保存后重新报送。",
    ),
    ProblemType("file.password_protected", "error", "文件设置了打开密码，无法读取；请取消密码后重新报送。"),
    # --- the sheet and its header block (reader) -----------------------------------------
    ProblemType(
        "sheet.table_not_found",
        "error",
        "找不到填报表：没有同时含“指标代码”和“数值”表头的工作表。请使用镇里下发的模板，不要改动表头。",
    ),
    ProblemType(
        "meta.unit_code_missing",
        "warning",
        "表头缺少单位代码，已按文件名认定为 {unit_code}；请使用镇里下发的模板。",
        variant="from_file_name",
    ),
    ProblemType(
        "meta.unit_code_missing",
        "error",
        "表头缺少单位代码，无法确认是哪个村（居）的报表。",
        variant="unknown",
    ),
    ProblemType("meta.year_missing", "warning", "表头缺少报告年度，已按 {year} 年读取。", variant="assumed"),
    ProblemType("meta.year_missing", "error", "表头缺少报告年度，无法确认是哪一年的报表。", variant="unknown"),
    # ``current``: "（2021.1版）", or "" when the year is not known
    ProblemType(
        "template.version_missing",
        "warning",
        "表中没有模板版本号，可能不是镇里下发的模板；请下载最新模板{current}填写。",
    ),
    ProblemType(
        "template.version_old", "warning", "使用的是旧版模板（{version}版），已尽量读取；下次请使用最新模板{current}。"
    ),
    ProblemType(
        "template.version_unknown", "warning", "模板版本“{version}”无法识别；请使用镇里下发的最新模板{current}。"
    ),
    # --- the table's rows (reader) -------------------------------------------------------
    ProblemType("row.total_ignored", "info", "第{row}行是合计行，镇里自行汇总，此行不读取。"),
    ProblemType(
        "row.value_without_code",
        "warning",
        "第{row}行填了数值“{value}”但没有指标代码，未读取；请不要插入新行。",
        variant="no_code",
    ),
    ProblemType(
        "row.value_without_code",
        "warning",
        "第{row}行“{text}”不是指标代码，该行数值未读取。",
        variant="not_a_code",
    ),
    ProblemType("row.unknown_code", "warning", "第{row}行的指标代码“{code}”不在指标目录中，未读取。"),
    ProblemType("row.not_for_this_unit", "warning", "指标“{name}”（{indicator_code}）不由本单位填报，该行未读取。"),
    ProblemType(
        "row.duplicate_code",
        "error",
        "指标“{name}”（{indicator_code}）在{first_cell}和{cell}出现了两次，请删除重复的一行。",
    ),
    ProblemType(
        "row.missing_indicator",
        "warning",
        "表中找不到指标“{name}”（{indicator_code}）这一行，视为未报告；请不要删除指标行。",
    ),
    # --- one cell's content (number_parsing, reader) -------------------------------------
    ProblemType("cell.not_a_number", "error", "“{name}”应填数字，实际是“{raw}”。", variant="not_text"),
    ProblemType("cell.not_a_number", "error", "“{name}”填的是“{raw}”，无法识别为数字，请只填数字。", variant="text"),
    ProblemType(
        "cell.not_a_number", "error", "“{name}”不是百分比指标，请填写{measure_unit}数，不要带“%”。", variant="percent"
    ),
    ProblemType("cell.formula_error", "error", "“{name}”的公式出错（{error}），请改正公式或直接填写数字。"),
    ProblemType(
        "cell.formula_not_calculated",
        "error",
        "“{name}”是没有计算结果的公式（{formula}），请在 Excel 或 WPS 中打开、确认数值后重新保存。",
    ),
    ProblemType("cell.approximate", "warning", "“{name}”填的是约数“{raw}”，已按 {value} 读取；请填写准确数字。"),
    ProblemType("cell.text_number", "info", "“{name}”以文本形式填写“{raw}”，已按 {value}{measure_unit} 读取。"),
    ProblemType(
        "cell.percent_format",
        "info",
        "“{name}”是百分比格式的单元格（存为 {stored}，显示为 {shown}），已按 {shown} 读取。",
    ),
    # --- the figures against the catalogue (validation, with Great Expectations) ---------
    ProblemType("value.unknown_indicator", "error", "指标代码“{indicator_code}”不在指标目录中。"),
    ProblemType("value.unknown_unit", "error", "单位代码“{unit_code}”不在名册中，请使用镇里下发的模板。"),
    ProblemType(
        "value.below_minimum",
        "error",
        "“{name}”填的是 {value:g}，不能小于 {min_value:g}{measure_unit}。",
        confirmable=True,
    ),
    ProblemType(
        "value.above_maximum",
        "error",
        "“{name}”填的是 {value:g}，超出合理范围（最大 {max_value:g}{measure_unit}），请核实。",
        confirmable=True,
    ),
    ProblemType("value.not_whole", "error", "“{name}”应为整数，填的是 {value:g}。"),
    # A compulsory figure left blank. The file is still accepted: a village may send what it
    # has and the rest later, in a fuller file that replaces this one (README, 填报约定). The
    # blank counts as "not reported" in the totals' completeness and is listed in the 回执.
    ProblemType(
        REQUIRED_MISSING,
        "warning",
        "“{name}”没有填写，按未报告统计；没有发生请填 0，有数字请补填后整表重新报送。",
    ),
    ProblemType("table.no_figures", "error", "表中没有填写任何数字，请填写后再报送（没有发生的填 0）。"),
    # --- audit rules (rules; the outliers' severity is set in rules.yaml) ----------------
    ProblemType(
        "outlier.peers",
        "warning",
        "“{name}”填的是 {value}{measure_unit}，{direction}其他村（居）（中位数 {median}{measure_unit}）。"
        "如数字属实，请在“说明（备注）”栏写明原因。",
        confirmable=True,
    ),
    ProblemType(
        "outlier.history",
        "warning",
        "“{name}”填的是 {value}{measure_unit}，与本单位往年（{typical}{measure_unit}）相差很大。"
        "如数字属实，请在“说明（备注）”栏写明原因。",
        confirmable=True,
    ),
    ProblemType(
        "file.wrong_year",
        "error",
        "表内报告年度是 {year} 年，但报送的是 {folder_year} 年的报表；请使用 {folder_year} 年的模板重新填写。",
    ),
    ProblemType(
        "file.other_unit",
        "error",
        "文件名表明是{named_unit}的报表，但表内是{workbook_unit}的报表；请确认是否发错了文件。",
    ),
)

REGISTRY: Final[Mapping[tuple[str, str], ProblemType]] = {(t.code, t.variant): t for t in _TYPES}
"""(code, variant) -> its registered wording."""

CODES: Final[frozenset[str]] = frozenset(t.code for t in _TYPES)
CONFIRMABLE: Final[frozenset[str]] = frozenset(t.code for t in _TYPES if t.confirmable)


def lookup(code: str, variant: str = "") -> ProblemType:
    """The registered wording of ``code``; a ``LookupError`` naming what is registered if none."""
    found = REGISTRY.get((code, variant))
    if found is not None:
        return found
    if code not in CODES:
        raise LookupError(f"problem code {code!r} is not registered in village_reports/problems.py")
    variants = sorted(v for c, v in REGISTRY if c == code)
    raise LookupError(f"problem code {code!r} has no wording {variant!r}; its wordings: {variants}")


def build(
    kind: ProblemType,
    /,
    *,
    severity: Severity | None = None,
    sheet: str = "",
    cell: str = "",
    indicator_code: str = "",
    **fields: Any,
) -> Problem:
    """A problem of ``kind`` at a place, its message filled in from ``fields``.

    ``severity`` overrides the registered one where rules.yaml sets it (the outliers)."""
    message = kind.template.format(sheet=sheet, cell=cell, indicator_code=indicator_code, **fields)
    return Problem(kind.code, severity or kind.severity, message, sheet, cell, indicator_code)


def make(
    code: str,
    variant: str = "",
    /,
    *,
    severity: Severity | None = None,
    sheet: str = "",
    cell: str = "",
    indicator_code: str = "",
    **fields: Any,
) -> Problem:
    """A problem of a registered code (and wording), at a place; see ``build``."""
    return build(
        lookup(code, variant), severity=severity, sheet=sheet, cell=cell, indicator_code=indicator_code, **fields
    )


def relation_type(relation_id: str, severity: Severity, message: str) -> ProblemType:
    """The entry of one relation of rules.yaml: its code is ``rule.<id>``, and a note can
    confirm it, since the figures that break a plausibility rule may be true."""
    return ProblemType(relation_code(relation_id), severity, message, confirmable=True)


def relation_code(relation_id: str) -> str:
    return f"{RELATION_PREFIX}{relation_id}"
