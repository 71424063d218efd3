-- Last year's township totals beside this year's (view year_over_year), with how many
-- units each came from: the report compares only totals that every unit reported
-- (village_reports.totals.comparable). No row where last year has no totals at all;
-- previous_value is NULL where nobody reported the indicator: 上年无数据, never 0.
SELECT indicator_code, previous_value, previous_units_reported, previous_units_expected
FROM year_over_year
WHERE year = :year AND previous_units_expected IS NOT NULL;
