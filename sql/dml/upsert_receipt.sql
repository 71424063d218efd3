-- A receipt is written once: the first time this content arrived at this path.
INSERT INTO file_receipt (receipt_id, submission_id, year, file_name, received_at, is_duplicate)
VALUES (:receipt_id, :submission_id, :year, :file_name, :received_at, :is_duplicate)
ON CONFLICT (receipt_id) DO NOTHING;
