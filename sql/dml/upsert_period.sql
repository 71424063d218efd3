INSERT INTO dim_period (year, period_start, period_end, deadline)
VALUES (:year, :period_start, :period_end, :deadline)
ON CONFLICT (year) DO UPDATE SET deadline = excluded.deadline;
