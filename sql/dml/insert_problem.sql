INSERT INTO submission_problem (submission_id, seq, code, severity, sheet, cell, indicator_code, message)
VALUES (:submission_id, :seq, :code, :severity, :sheet, :cell, :indicator_code, :message);
