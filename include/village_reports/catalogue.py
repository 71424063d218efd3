"""The indicator catalogue (指标目录): what is reported, by whom, and how it adds up.

Owner of ``data/catalogue.yaml``. Every other stage asks this module, never the file.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import Any, Literal

from village_reports.settings import read_yaml

DATA_DIR = Path(__file__).parent / "data"
CATALOGUE_FILE = DATA_DIR / "catalogue.yaml"

ValueType = Literal["integer", "decimal", "percentage"]
Reporter = Literal["village", "township", "derived"]
Aggregation = Literal["sum", "township_only", "ratio", "count_units"]

VALUE_TYPES: tuple[str, ...] = ("integer", "decimal", "percentage")
REPORTERS: tuple[str, ...] = ("village", "township", "derived")
AGGREGATIONS: tuple[str, ...] = ("sum", "township_only", "ratio", "count_units")
PHRASE_STYLES: tuple[str, ...] = ("exact", "yu", "about", "over", "zero", "cn")

CONDITION_OPERATORS = {
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


class CatalogueError(ValueError):
    """The catalogue file contradicts itself; fixed by editing the file, not at run time."""


def round_half_up(value: float, places: int) -> float:
    """Round half up (四舍五入, as statistics offices round): 12.25 → 12.3 where Python's
    round gives 12.2. The float's shortest decimal form is rounded, so a sum such as 2.675
    (2.67499… in binary) gives 2.68. Every figure we compute or print rounds this way."""
    exponent = Decimal(1).scaleb(-places)
    return float(Decimal(repr(float(value))).quantize(exponent, rounding=ROUND_HALF_UP))  # numpy too


@dataclass(frozen=True)
class Section:
    code: str
    name: str
    heading: str


@dataclass(frozen=True)
class Indicator:
    code: str
    name: str
    measure_unit: str  # 计量单位 (万元, 户, %): a measure, never a reporting unit (村, 居委会)
    section: str
    type: ValueType
    reporter: Reporter
    aggregation: Aggregation
    range: tuple[float, float]
    sentence: str
    decimals: int = 0
    phrase: dict[str, Any] = field(default_factory=lambda: {"style": "exact"})
    quote: str | None = None
    quoted: bool = True
    required: bool = True  # a blank is listed in the 回执 and counts against completeness; false: silent
    key: bool = False  # a key figure: in its section's table of the annual report, and charted over the years
    numerator: str | None = None
    denominator: str | None = None
    scale: float = 1.0
    of: str | None = None
    condition: str | None = None

    @property
    def is_filled_in(self) -> bool:
        """True when a unit types this figure into its workbook (not derived)."""
        return self.reporter != "derived"

    @property
    def number_format(self) -> str:
        """How a workbook shows the figure: thousands separated, in the places it keeps
        (1,137 人; 784.5 万元; 6.52 公里). A percentage is a number of % (72.5), not a fraction."""
        return "#,##0" + ("." + "0" * self.decimals if self.decimals else "")

    def number_format_for(self, value: float | None) -> str:
        """The format of one figure: a whole one without decimals (289 万元, never 289.0),
        others in the places the indicator keeps (784.5 万元)."""
        return "#,##0" if value is None or float(value).is_integer() else self.number_format

    @property
    def input_format(self) -> str:
        """The template's number cell: counts with thousands separated; figures with decimal
        places as typed (General), since a format would print 72 万元 as 72.0."""
        return "#,##0" if self.decimals == 0 else "General"

    @property
    def minimum(self) -> float:
        return self.range[0]

    @property
    def maximum(self) -> float:
        return self.range[1]

    def meets_condition(self, value: float) -> bool:
        """For ``count_units``: does one unit's value of ``of`` count?"""
        if self.condition is None:
            raise CatalogueError(f"{self.code} has no condition")
        op_text, threshold = self.condition.split()
        return CONDITION_OPERATORS[op_text](value, float(threshold))

    def round(self, value: float) -> float:
        """Round to the places this indicator keeps (``round_half_up``)."""
        return round_half_up(value, self.decimals)


@dataclass(frozen=True)
class Catalogue:
    version: str
    template_revision: int
    older_template_versions: tuple[str, ...]
    sections: tuple[Section, ...]
    indicators: tuple[Indicator, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_code", {i.code: i for i in self.indicators})

    def __getitem__(self, code: str) -> Indicator:
        return self._by_code[code]  # type: ignore[attr-defined]

    def get(self, code: str) -> Indicator | None:
        return self._by_code.get(code)  # type: ignore[attr-defined]

    def __contains__(self, code: object) -> bool:
        return code in self._by_code  # type: ignore[attr-defined]

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(i.code for i in self.indicators)

    def template_version_for(self, year: int) -> str:
        """What the template for ``year`` says in 模板版本: '2022.1'."""
        return f"{year}.{self.template_revision}"

    def template_status(self, version: str, year: int | None) -> Literal["current", "old", "unknown"]:
        """A workbook's 模板版本 against its report year: the current template, an older one
        (an earlier year's or revision's, or one listed), or one we never issued."""
        issued = re.fullmatch(r"(\d{4})\.(\d+)", version.strip())
        if year is None:  # nothing to compare with: any year's current revision will do
            return "current" if issued and int(issued[2]) == self.template_revision else "unknown"
        if version.strip() == self.template_version_for(year):
            return "current"
        if version.strip() in self.older_template_versions:
            return "old"
        if issued and (int(issued[1]), int(issued[2])) < (year, self.template_revision):
            return "old"
        return "unknown"

    def section(self, code: str) -> Section:
        return next(s for s in self.sections if s.code == code)

    def for_reporter(self, reporter: Reporter) -> tuple[Indicator, ...]:
        """The indicators a unit of this kind fills in, in catalogue order."""
        return tuple(i for i in self.indicators if i.reporter == reporter)

    def in_section(self, section_code: str) -> tuple[Indicator, ...]:
        return tuple(i for i in self.indicators if i.section == section_code)

    def key_figures(self, section_code: str | None = None) -> tuple[Indicator, ...]:
        """The key figures (``key: true``), of one section or of all, in catalogue order."""
        return tuple(i for i in self.indicators if i.key and section_code in (None, i.section))


def _indicator(raw: dict[str, Any]) -> Indicator:
    fields = dict(raw)
    fields["range"] = tuple(float(x) for x in fields["range"])
    phrase = fields.get("phrase", {"style": "exact"})
    fields["phrase"] = {"style": phrase} if isinstance(phrase, str) else dict(phrase)
    if "scale" in fields:
        fields["scale"] = float(fields["scale"])
    try:
        return Indicator(**fields)
    except TypeError as exc:
        raise CatalogueError(f"indicator {raw.get('code')}: {exc}") from exc


def check_catalogue(catalogue: Catalogue) -> list[str]:
    """Every inconsistency in the catalogue, as readable sentences (empty when sound)."""
    errors: list[str] = []
    seen: set[str] = set()
    section_codes = {s.code for s in catalogue.sections}
    for ind in catalogue.indicators:
        where = f"{ind.code} ({ind.name})"
        if ind.code in seen:
            errors.append(f"{where}: duplicate code")
        seen.add(ind.code)
        if ind.section not in section_codes:
            errors.append(f"{where}: unknown section {ind.section}")
        if ind.type not in VALUE_TYPES:
            errors.append(f"{where}: unknown type {ind.type}")
        if ind.reporter not in REPORTERS:
            errors.append(f"{where}: unknown reporter {ind.reporter}")
        if ind.aggregation not in AGGREGATIONS:
            errors.append(f"{where}: unknown aggregation {ind.aggregation}")
        if ind.minimum > ind.maximum:
            errors.append(f"{where}: range minimum above maximum")
        if ind.type == "integer" and ind.decimals:
            errors.append(f"{where}: an integer keeps no decimals")
        if "{figure}" not in ind.sentence:
            errors.append(f"{where}: sentence has no {{figure}}")
        if ind.quote is not None and "{figure}" not in ind.quote:
            errors.append(f"{where}: quote has no {{figure}}")
        if ind.phrase.get("style") not in PHRASE_STYLES:
            errors.append(f"{where}: unknown phrase style {ind.phrase.get('style')}")
        expected_reporter = {
            "sum": ("village",),
            "township_only": ("township",),
            "ratio": ("derived",),
            "count_units": ("derived",),
        }.get(ind.aggregation, ())
        if ind.reporter not in expected_reporter:
            errors.append(f"{where}: aggregation {ind.aggregation} needs reporter {expected_reporter}")
        if ind.aggregation == "ratio":
            for part in (ind.numerator, ind.denominator):
                if part not in catalogue or not catalogue[part].is_filled_in:
                    errors.append(f"{where}: ratio part {part} is not a filled-in indicator")
            parts = [catalogue[p] for p in (ind.numerator, ind.denominator) if p in catalogue]
            if len(parts) == 2 and parts[0].reporter != parts[1].reporter:
                errors.append(f"{where}: ratio parts come from different reporters")
        if ind.aggregation == "count_units":
            if ind.of not in catalogue or catalogue[ind.of].reporter != "village":
                errors.append(f"{where}: count_units needs a village indicator in 'of'")
            parts = (ind.condition or "").split()
            if len(parts) != 2 or parts[0] not in CONDITION_OPERATORS:
                errors.append(f"{where}: condition must read like '> 0'")
    for section in catalogue.sections:  # each section's table in the annual report needs a row
        if not catalogue.key_figures(section.code):
            errors.append(f"section {section.code} ({section.name}): no indicator has key: true")
    return errors


def _parse(raw: dict[str, Any]) -> Catalogue:
    return Catalogue(
        version=str(raw["catalogue_version"]),
        template_revision=int(raw["template_revision"]),
        older_template_versions=tuple(str(v) for v in raw.get("older_template_versions", [])),
        sections=tuple(Section(**s) for s in raw["sections"]),
        indicators=tuple(_indicator(i) for i in raw["indicators"]),
    )


@cache
def load_catalogue(path: Path = CATALOGUE_FILE) -> Catalogue:
    """The catalogue, checked; raises CatalogueError listing every inconsistency."""
    catalogue = _parse(read_yaml(path))
    errors = check_catalogue(catalogue)
    if errors:
        raise CatalogueError("; ".join(errors))
    return catalogue


_AGGREGATION_TEXT = {
    "sum": "各村（居）数值求和",
    "township_only": "镇本级直报",
    "ratio": "两项汇总数之比",
    "count_units": "符合条件的村（居）个数",
}
_REPORTER_TEXT = {"village": "各村（居）", "township": "镇本级", "derived": "自动计算"}


def data_dictionary(catalogue: Catalogue) -> str:
    """The catalogue as a Markdown data dictionary for analysts (generated, never edited)."""
    lines = [
        "# 数据字典 · Data dictionary",
        "",
        f"Generated from the indicator catalogue, version {catalogue.version} "
        f"(template version <year>.{catalogue.template_revision}, e.g. {catalogue.template_version_for(2022)}).",
        "`indicator_code` is the key in `dim_indicator`, `fact_value`, `township_totals` and",
        "`village_indicator_values`. A blank value (NULL) means 'not reported'; 0 means 'none'.",
        "",
    ]
    for section in catalogue.sections:
        lines += [
            f"## {section.code} {section.name}",
            "",
            "| 代码 code | 指标名称 name | 单位 unit | 类型 type | 填报 reporter "
            "| 汇总方式 aggregation | 合理范围 range |",
            "|---|---|---|---|---|---|---|",
        ]
        for ind in catalogue.in_section(section.code):
            rule = _AGGREGATION_TEXT[ind.aggregation]
            if ind.aggregation == "ratio":
                rule += f"：{ind.numerator} ÷ {ind.denominator} × {ind.scale:g}"
            elif ind.aggregation == "count_units":
                rule += f"：{ind.of} {ind.condition}"
            low, high = (f"{x:g}" for x in ind.range)
            lines.append(
                f"| {ind.code} | {ind.name} | {ind.measure_unit} | {ind.type} | "
                f"{_REPORTER_TEXT[ind.reporter]} | {rule} | {low}–{high} |"
            )
        lines.append("")
    return "\n".join(lines)
