-- Receipts whose file needs nothing more. Left out: a file held while its year was signed
-- off, once the year is reopened: the next run's discovery reads and loads it again.
SELECT r.receipt_id FROM file_receipt r
WHERE NOT EXISTS (
    SELECT 1 FROM submission s
    WHERE s.submission_id = r.submission_id AND s.status = 'received_after_signoff' AND NOT r.is_duplicate
      AND NOT EXISTS (SELECT 1 FROM signoff_state l WHERE l.year = s.year AND l.locked)
);
