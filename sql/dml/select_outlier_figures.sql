-- Figures in force for the years an outlier check compares with (same year and earlier).
SELECT unit_code, year, indicator_code, value
FROM village_indicator_values
WHERE year BETWEEN :first_year AND :last_year AND value IS NOT NULL;
