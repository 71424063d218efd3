-- Last year's township totals beside this year's (view year_over_year), for the annual
-- report's key-figure tables. previous_value is NULL when last year has no totals or
-- nobody reported the indicator: the report says 上年无数据, never 0.
SELECT indicator_code, previous_value FROM year_over_year WHERE year = :year;
