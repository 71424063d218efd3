-- Each unit's standing (on time, late, rejected, received after sign-off, missing) over a
-- span of years: the completeness chart.
SELECT year, unit_code, timeliness
FROM timeliness
WHERE year BETWEEN :first_year AND :last_year
ORDER BY year, unit_code;
