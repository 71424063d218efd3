-- Files held while their year was signed off, whose year is reopened: read again by the
-- next run, as received when they first came.
SELECT r.receipt_id, r.received_at, s.year FROM file_receipt r
JOIN submission s ON s.submission_id = r.submission_id
WHERE s.status = 'received_after_signoff' AND NOT r.is_duplicate
  AND NOT EXISTS (SELECT 1 FROM signoff_state l WHERE l.year = s.year AND l.locked);
