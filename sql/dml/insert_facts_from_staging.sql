INSERT INTO fact_value (submission_id, indicator_code, unit_code, year, value, raw_text, sheet, cell, note)
SELECT submission_id, indicator_code, unit_code, year, value, raw_text, sheet, cell, note
FROM fact_staging
ON CONFLICT (submission_id, indicator_code) DO UPDATE SET
    value = excluded.value, raw_text = excluded.raw_text, sheet = excluded.sheet, cell = excluded.cell,
    note = excluded.note;
