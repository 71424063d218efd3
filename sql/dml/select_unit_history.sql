-- The figures in force of some units over some years (their own history).
SELECT unit_code, year, indicator_code, value
FROM village_indicator_values
WHERE unit_code IN :unit_codes AND year BETWEEN :first_year AND :last_year AND value IS NOT NULL;
