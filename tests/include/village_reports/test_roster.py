import dataclasses

from village_reports.roster import Roster, check_roster


def test_roster_has_eighteen_units_and_the_township(roster: Roster) -> None:
    assert len(roster.villages) == 18
    assert roster.township.reporter == "township"
    assert all(u.reporter == "village" for u in roster.villages)
    assert check_roster(roster) == []


def test_roster_uses_the_names_the_report_gives(roster: Roster) -> None:
    names = {u.name for u in roster.villages}
    assert {"鸣山村", "白若村", "中兴村"} <= names


def test_placeholders_are_marked_plainly(roster: Roster) -> None:
    for unit in roster.villages:
        assert unit.placeholder == ("待核定" in unit.name), unit


def test_a_roster_with_duplicates_or_a_wrong_township_is_refused(roster: Roster) -> None:
    assert check_roster(roster) == []
    twin = dataclasses.replace(roster.villages[1], code=roster.villages[0].code)
    township = dataclasses.replace(roster.township, kind="村")
    broken = dataclasses.replace(roster, villages=(*roster.villages[:1], twin, *roster.villages[2:]), township=township)
    assert check_roster(broken) == ["duplicate unit codes", "the township's kind must be 镇本级"]
