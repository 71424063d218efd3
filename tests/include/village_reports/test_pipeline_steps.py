"""Pipeline steps that need no warehouse: reporting years and batch plans."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from village_reports.pipeline import (
    batch_label,
    batch_ref,
    group_arrivals,
    reporting_year,
    summarise_loads,
    years_to_report,
)


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
    batches = group_arrivals([_arrival("MT02_白若村_2021.xlsx"), _arrival("MT01_鸣山村_2021.xlsx")])
    assert [batch_label(b) for b in batches] == ["2021 MT01_鸣山村_2021", "2021 MT02_白若村_2021"]


def test_batch_size_groups_files() -> None:
    batches = group_arrivals([_arrival(f"MT{i:02d}.xlsx") for i in range(1, 8)], batch_size=3)
    assert [len(b) for b in batches] == [3, 3, 1]
    assert batch_label(batches[0]).startswith("3 files")


@pytest.mark.parametrize(
    ("files", "batches", "largest"),
    [(18, 18, 1), (101, 1, 101), (1_000, 2, 500), (24_000, 8, 3_000), (490_000, 164, 3_000)],
)
def test_batches_stay_few_and_bounded_in_size(files: int, batches: int, largest: int) -> None:
    planned = group_arrivals([_arrival(f"U{i:06d}.xlsx") for i in range(files)])
    assert len(planned) == batches and max(len(b) for b in planned) == largest
    assert sum(len(b) for b in planned) == files


def test_the_plan_of_a_countrys_night_fits_in_one_xcom() -> None:
    """plan_batches returns one reference per batch: at 490,000 files, with long Chinese
    file names, the list stays under 64 KiB as Airflow stores it (JSON), even in batches
    of the smallest size."""
    import json

    arrivals = [
        {**_arrival(f"U{i:06d}_某某县某某镇某某村民委员会_2021年度统计报表（修改稿）.xlsx"), "receipt_id": str(i)}
        for i in range(490_000)
    ]
    refs = [batch_ref("scheduled__2026-11-29T18:00:00+00:00", chunk) for chunk in group_arrivals(arrivals)]
    assert len(refs) == 164 and len(json.dumps(refs)) < 64 * 1024
    smallest = [batch_ref("scheduled__2026-11-29T18:00:00+00:00", c) for c in group_arrivals(arrivals, 1_500)]
    assert len(smallest) == 327 and len(json.dumps(smallest)) < 64 * 1024


def test_summarise_loads_counts_statuses_and_skips_failed_batches() -> None:
    loaded = [
        [{"status": "accepted", "year": 2021, "file_name": "a.xlsx"}],
        None,
        [{"status": "rejected", "year": 2020, "file_name": "b.xlsx"}],
    ]
    assert summarise_loads(loaded) == {
        "files": 2,
        "statuses": {"accepted": 1, "rejected": 1},
        "years": [2020, 2021],
        "rejected": ["b.xlsx"],
    }


def test_summaries_of_summaries_add_up_and_stay_small() -> None:
    """What load tasks return (a summary each) sums like the per-file lines it replaces."""
    batch = [{"status": "rejected", "year": 2021, "file_name": f"{i}.xlsx"} for i in range(1_500)]
    one = summarise_loads([batch])
    assert one["rejected"] == [f"{i}.xlsx" for i in range(20)] and one["files"] == 1_500
    assert summarise_loads([one, one, None]) == {**one, "files": 3_000, "statuses": {"rejected": 3_000}}
    assert summarise_loads(one) == one  # a night of one batch: Airflow passes its result alone


def test_township_report_does_the_years_the_asset_event_names(monkeypatch) -> None:
    from village_reports import pipeline

    monkeypatch.setattr(pipeline, "reporting_years", lambda: [2019, 2020, 2021])
    assert years_to_report([{"years": [2021], "files": 1}, {"years": [2020, 2021]}]) == [2020, 2021]
    assert years_to_report([{"years": [], "files": 0}]) == []  # a night with nothing new
    assert years_to_report(None) == [2019, 2020, 2021]  # triggered by hand
    assert years_to_report([{}]) == [2019, 2020, 2021]  # an event that does not say
