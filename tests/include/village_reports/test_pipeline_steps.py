"""Pipeline steps that need no warehouse: reporting years and batch plans."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from village_reports.pipeline import plan_batches, reporting_year, summarise_loads


@pytest.mark.parametrize(
    ("logical_date", "year"),
    [
        (datetime(2021, 12, 31, 16, 0, tzinfo=UTC), 2021),  # 2022-01-01 00:00 in Shanghai
        (datetime(2022, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=8))), 2021),
        (datetime(2022, 6, 30, 12, 0, tzinfo=UTC), 2021),
        (datetime(2021, 12, 31, 15, 59, tzinfo=UTC), 2020),  # still 2021-12-31 in Shanghai
    ],
)
def test_reporting_year_is_taken_in_shanghai_time(logical_date: datetime, year: int) -> None:
    assert reporting_year(logical_date) == year


def test_reporting_year_refuses_naive_dates() -> None:
    with pytest.raises(ValueError, match="timezone"):
        reporting_year(datetime(2022, 1, 1))


def _arrival(name: str, year: int = 2021) -> dict:
    return {"file_name": name, "year": year}


def test_one_file_per_batch_labels_the_village() -> None:
    batches = plan_batches([_arrival("MT02_白若村_2021.xlsx"), _arrival("MT01_鸣山村_2021.xlsx")])
    assert [b["label"] for b in batches] == ["2021 MT01_鸣山村_2021", "2021 MT02_白若村_2021"]


def test_batch_size_groups_files() -> None:
    batches = plan_batches([_arrival(f"MT{i:02d}.xlsx") for i in range(1, 8)], batch_size=3)
    assert [len(b["arrivals"]) for b in batches] == [3, 3, 1]
    assert batches[0]["label"].startswith("3 files")


@pytest.mark.parametrize(
    ("files", "batches", "largest"), [(18, 18, 1), (1_000, 16, 63), (24_000, 16, 1_500), (490_000, 327, 1_500)]
)
def test_batches_stay_few_and_bounded_in_size(files: int, batches: int, largest: int) -> None:
    planned = plan_batches([_arrival(f"U{i:06d}.xlsx") for i in range(files)])
    assert len(planned) == batches and max(len(b["arrivals"]) for b in planned) == largest
    assert sum(len(b["arrivals"]) for b in planned) == files


def test_summarise_loads_counts_statuses_and_skips_failed_batches() -> None:
    loaded = [[{"status": "accepted", "year": 2021}], None, [{"status": "rejected", "year": 2020}]]
    assert summarise_loads(loaded) == {"files": 2, "statuses": {"accepted": 1, "rejected": 1}, "years": [2020, 2021]}
