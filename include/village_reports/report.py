"""The annual report's words: township figures phrased the way the report phrases them.

'200余个', '约2000亩', '过万亩', '无一例', '第三名': the catalogue says which style each
figure takes; this module turns a computed total into those words.
"""

from __future__ import annotations

import math

from village_reports.catalogue import Indicator

_CN_DIGITS = "零一二三四五六七八九"


def format_number(value: float, places: int) -> str:
    """'784.5', '289', '0.725': fixed places, then trailing zeros dropped."""
    text = f"{value:.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def chinese_numeral(n: int, two: str = "二") -> str:
    """Small whole numbers in Chinese: 3 -> 三, 12 -> 十二, 2 -> 两 when asked."""
    if not 0 <= n < 100:
        return str(n)
    if n == 2:
        return two
    tens, ones = divmod(n, 10)
    if tens == 0:
        return _CN_DIGITS[ones]
    return ("" if tens == 1 else _CN_DIGITS[tens]) + "十" + (_CN_DIGITS[ones] if ones else "")


def phrase(value: float, indicator: Indicator) -> str:
    """The figure as the report words it (without the unit)."""
    spec = indicator.phrase
    style = spec.get("style", "exact")
    places = int(spec.get("places", indicator.decimals))
    exact = format_number(value, places)
    if style == "exact":
        if spec.get("rounding") == "down":
            factor = 10**places
            return format_number(math.floor(value * factor + 1e-9) / factor, places)
        return exact
    if style == "yu":
        step = float(spec["step"])
        base = math.floor(value / step + 1e-9) * step
        if base <= 0 or math.isclose(base, value):
            return exact  # '余' says "more than"; an exact round figure is said as it is
        if spec.get("scale") == "万":
            return f"{format_number(base / 10_000, 0)}万余"
        return f"{format_number(base, 0)}余"
    if style == "about":
        step = float(spec["step"])
        return f"约{format_number(round(value / step) * step, 0)}"
    if style == "over":
        if value > float(spec["threshold"]):
            return str(spec["word"])
        return str(spec.get("otherwise", "{n}")).format(n=exact)
    if style == "zero":
        return str(spec["zero"]) if value == 0 else str(spec["other"]).format(n=exact)
    if style == "cn":
        return chinese_numeral(round(value), str(spec.get("two", "二")))
    raise ValueError(f"{indicator.code}: unknown phrase style {style}")


def sentence(value: float, indicator: Indicator) -> str:
    return indicator.sentence.format(figure=phrase(value, indicator))
