-- The figures in force of some indicators for one year, unit by unit: the shares chart.
SELECT s.unit_code, f.indicator_code, f.value
FROM submission s
JOIN fact_value f ON f.submission_id = s.submission_id
WHERE s.year = :year AND s.is_current AND f.indicator_code IN :indicator_codes
ORDER BY f.indicator_code, s.unit_code;
