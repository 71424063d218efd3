-- Up to :per_indicator figures in force per year and indicator: enough for a robust
-- median and MAD, and bounded however many units report.
SELECT unit_code, year, indicator_code, value FROM (
    SELECT unit_code, year, indicator_code, value,
           ROW_NUMBER() OVER (PARTITION BY year, indicator_code ORDER BY unit_code) AS n
    FROM village_indicator_values
    WHERE year IN :years AND value IS NOT NULL
) ranked
WHERE n <= :per_indicator;
