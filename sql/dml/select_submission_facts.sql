SELECT f.submission_id, f.unit_code, f.year, f.indicator_code, f.value, f.raw_text, f.sheet, f.cell, f.note
FROM fact_value f
WHERE f.submission_id IN :submission_ids
ORDER BY f.submission_id, f.indicator_code;
