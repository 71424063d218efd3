-- The figures in force for one year, unit by unit (streamed). Driven from the submissions
-- in force, whose facts come in primary-key order: no sort of a county's million rows.
SELECT s.unit_code, f.indicator_code, f.value
FROM submission s
JOIN fact_value f ON f.submission_id = s.submission_id
WHERE s.year = :year AND s.is_current
ORDER BY s.unit_code, f.indicator_code;
