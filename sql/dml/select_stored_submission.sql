-- One submission as it was loaded: its figures, then its problems (to write its 回执 again).
SELECT unit_code, year, indicator_code, value, raw_text, sheet, cell, note
FROM fact_value WHERE submission_id = :submission_id
ORDER BY sheet, LENGTH(cell), cell;
SELECT code, severity, message, sheet, cell, indicator_code
FROM submission_problem WHERE submission_id = :submission_id
ORDER BY seq;
