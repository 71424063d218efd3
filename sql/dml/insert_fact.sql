INSERT INTO fact_value (submission_id, indicator_code, unit_code, year, value, raw_text, sheet, cell, note)
VALUES (:submission_id, :indicator_code, :unit_code, :year, :value, :raw_text, :sheet, :cell, :note);
