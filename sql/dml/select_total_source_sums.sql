-- Per total and source indicator: how many units, and the sum of their cells.
SELECT indicator_code AS total_code, source_code, COUNT(*) AS units, SUM(value) AS value_sum
FROM township_total_source
WHERE year = :year
GROUP BY indicator_code, source_code;
