-- The receipts of the files of signed-off years (view signoff_state): a reprocess after a
-- rule or catalogue change reads every other file again, and leaves these years as approved.
SELECT r.receipt_id
FROM file_receipt r
JOIN submission s ON s.submission_id = r.submission_id
JOIN signoff_state l ON l.year = s.year AND l.locked;
