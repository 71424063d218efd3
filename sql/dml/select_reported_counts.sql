-- Per indicator (of those asked for): how many units report a figure in force.
SELECT f.indicator_code, COUNT(f.value) AS units
FROM fact_value f
JOIN submission s ON s.submission_id = f.submission_id AND s.is_current
WHERE f.year = :year AND f.indicator_code IN :indicator_codes
GROUP BY f.indicator_code;
