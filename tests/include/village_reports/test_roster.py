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
