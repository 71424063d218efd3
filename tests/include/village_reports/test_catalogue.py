import dataclasses

import numpy
import pytest

from village_reports.catalogue import CATALOGUE_FILE, Catalogue, CatalogueError, check_catalogue, load_catalogue


def test_catalogue_is_consistent(catalogue: Catalogue) -> None:
    assert check_catalogue(catalogue) == []


def test_catalogue_covers_every_report_section(catalogue: Catalogue) -> None:
    assert len(catalogue.indicators) >= 40
    assert {s.code for s in catalogue.sections} == {"FIN", "REV", "LIV", "SAF", "SOC", "ECO", "EFF"}
    for section in catalogue.sections:
        assert catalogue.in_section(section.code), f"section {section.name} has no indicator"


def test_catalogue_has_every_aggregation_rule(catalogue: Catalogue) -> None:
    rules = {i.aggregation for i in catalogue.indicators}
    assert rules == {"sum", "township_only", "ratio", "count_units"}
    assert catalogue.for_reporter("village") and catalogue.for_reporter("township")


def test_codes_are_stable_and_unique(catalogue: Catalogue) -> None:
    codes = catalogue.codes
    assert len(codes) == len(set(codes))
    for code in codes:
        assert code[:3] in {s.code for s in catalogue.sections}, code
        assert code[:3] == catalogue[code].section


def test_every_indicator_has_chinese_name_unit_and_range(catalogue: Catalogue) -> None:
    for ind in catalogue.indicators:
        assert any("\u4e00" <= ch <= "\u9fff" for ch in ind.name), ind.code
        assert ind.measure_unit, ind.code
        assert ind.minimum <= ind.maximum


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"aggregation": "ratio", "numerator": "NOPE01", "denominator": "REV01"}, "ratio part"),
        ({"section": "XXX"}, "unknown section"),
        ({"range": (10.0, 1.0)}, "range minimum above maximum"),
        ({"sentence": "no placeholder"}, "sentence has no"),
        ({"phrase": {"style": "fancy"}}, "unknown phrase style"),
        ({"reporter": "township"}, "needs reporter"),
    ],
)
def test_check_catalogue_finds_contradictions(catalogue: Catalogue, change: dict, complaint: str) -> None:
    broken_indicator = dataclasses.replace(catalogue["REV01"], **change)
    broken = dataclasses.replace(
        catalogue, indicators=tuple(broken_indicator if i.code == "REV01" else i for i in catalogue.indicators)
    )
    assert any(complaint in error for error in check_catalogue(broken))


def test_load_refuses_an_inconsistent_file(tmp_path) -> None:
    text = CATALOGUE_FILE.read_text(encoding="utf-8").replace("section: REV\n", "section: NOPE\n", 1)
    path = tmp_path / "catalogue.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogueError, match="unknown section NOPE"):
        load_catalogue(path)


def test_count_units_condition(catalogue: Catalogue) -> None:
    roads = catalogue["LIV02"]
    assert roads.meets_condition(0.5) and not roads.meets_condition(0)


def test_data_dictionary_lists_every_indicator_with_its_rule(catalogue: Catalogue) -> None:
    from village_reports.catalogue import data_dictionary

    text = data_dictionary(catalogue)
    for ind in catalogue.indicators:
        assert f"| {ind.code} | {ind.name} |" in text
    assert "SOC04 ÷ SOC03 × 100" in text and "LIV03 > 0" in text


def test_every_section_has_key_figures_for_its_table(catalogue: Catalogue) -> None:
    assert {i.section for i in catalogue.key_figures()} == {s.code for s in catalogue.sections}
    no_key = tuple(dataclasses.replace(i, key=False) if i.section == "SAF" else i for i in catalogue.indicators)
    errors = check_catalogue(dataclasses.replace(catalogue, indicators=no_key))
    assert errors == ["section SAF (安全生产): no indicator has key: true"]


@pytest.mark.parametrize(
    ("decimals", "value", "rounded"),
    [
        (1, 12.25, 12.3),
        (1, 784.5, 784.5),
        (0, 1136.5, 1137.0),
        (2, 2.675, 2.68),
        (1, 0.1 + 0.2, 0.3),
        (1, -12.25, -12.3),
        (1, numpy.float64(289.05), 289.1),  # matplotlib hands numpy floats to format_number
    ],
)
def test_totals_round_half_up_as_a_statistics_office_does(
    catalogue: Catalogue, decimals: int, value: float, rounded: float
) -> None:
    """四舍五入: Python's round gives 12.2 for 12.25 (half to even) and 2.67 for 2.675 (its
    binary value is 2.67499…)."""
    indicator = dataclasses.replace(catalogue["REV04"], decimals=decimals)
    assert indicator.round(value) == rounded
