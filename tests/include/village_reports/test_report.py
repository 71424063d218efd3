import dataclasses
from pathlib import Path

import pytest

from village_reports.catalogue import Catalogue
from village_reports.report import chinese_numeral, phrase, sentence, write_sources_csv


@pytest.mark.parametrize(
    ("code", "value", "words"),
    [
        ("REV18", 208, "200余"),  # yu, step 10
        ("REV18", 200, "200"),  # a round figure is said exactly, not '200余'
        ("REV07", 2046, "2000余"),
        ("LIV08", 20486, "2万余"),
        ("REV14", 2013, "约2000"),
        ("REV14", 2061, "约2100"),
        ("REV16", 10860, "过万"),
        ("REV16", 9800, "9800"),
        ("REV17", 9800.5, "9800.5万"),
        ("REV02", 0, "未发生一例"),
        ("REV02", 2, "发生2例"),
        ("LIV05", 3, "三"),
        ("ECO04", 2, "两"),
        ("EFF14", 210.5, "210"),
        ("REV04", 784.5, "784.5"),
        ("SAF09", 0.725, "0.725"),
        ("FIN01", 289.0, "289"),
    ],
)
def test_phrase_follows_the_reports_style(catalogue: Catalogue, code: str, value: float, words: str) -> None:
    assert phrase(value, catalogue[code]) == words


def test_sentence_puts_the_figure_in_the_reports_words(catalogue: Catalogue) -> None:
    assert sentence(1137, catalogue["REV01"]) == "全镇共纳入低保救助对象1137人"


def test_chinese_numerals() -> None:
    assert [chinese_numeral(n) for n in (0, 3, 10, 12, 20, 35)] == ["零", "三", "十", "十二", "二十", "三十五"]


def test_unknown_style_is_refused(catalogue: Catalogue) -> None:
    odd = dataclasses.replace(catalogue["REV01"], phrase={"style": "poetic"})
    with pytest.raises(ValueError, match="unknown phrase style"):
        phrase(1, odd)


def test_sources_csv_lists_every_cell_and_tallies_them_per_total(tmp_path: Path, roster) -> None:
    def cells(n: int, code: str) -> list[dict]:
        return [
            {"indicator_code": code, "unit_code": f"U{i:03d}", "unit_name": f"{i}村", "source_code": code,
             "value": 1.0, "sheet": "填报表", "cell": "F7"}
            for i in range(n)
        ]  # fmt: skip

    path = tmp_path / "sources.csv"
    tallies = write_sources_csv(path, iter(cells(3, "REV01") + cells(1000, "REV02")), roster)
    assert (tallies["REV01"]["REV01"].villages, tallies["REV02"]["REV02"].villages) == (3, 1000)
    assert tallies["REV02"]["REV02"].describe() == "1000个村（居）填报表 F7"
    assert len(path.read_text(encoding="utf-8-sig").splitlines()) == 1 + 3 + 1000
