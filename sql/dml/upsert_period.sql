INSERT INTO dim_period (year, period_start, period_end)
VALUES (:year, :period_start, :period_end)
ON CONFLICT (year) DO NOTHING;
