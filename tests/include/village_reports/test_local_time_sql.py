"""The views write times in the settings' zone, not in a zone written into the SQL."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from village_reports import settings, warehouse


def test_the_views_local_time_follows_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "'+480 minutes'" in warehouse._local_time_sql("sqlite")  # Beijing time, all year
    monkeypatch.setattr(settings, "REPORTING_TIMEZONE", "Asia/Kolkata")
    monkeypatch.setattr(settings, "LOCAL_ZONE", ZoneInfo("Asia/Kolkata"))
    assert "'+330 minutes'" in warehouse._local_time_sql("sqlite")
    assert "AT TIME ZONE 'Asia/Kolkata'" in warehouse._local_time_sql("postgresql")


def test_sqlite_refuses_a_zone_with_daylight_saving(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "REPORTING_TIMEZONE", "Europe/Berlin")
    monkeypatch.setattr(settings, "LOCAL_ZONE", ZoneInfo("Europe/Berlin"))
    with pytest.raises(ValueError, match="without daylight saving"):
        warehouse._local_time_sql("sqlite")
