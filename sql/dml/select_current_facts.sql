SELECT f.unit_code, f.year, f.indicator_code, f.value, f.raw_text, f.sheet, f.cell, f.note
FROM fact_value f
JOIN submission s ON s.submission_id = f.submission_id AND s.is_current
WHERE f.year = :year
ORDER BY f.unit_code, f.indicator_code;
