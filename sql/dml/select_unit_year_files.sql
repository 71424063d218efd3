-- Every file of some units for some years, oldest first: what a 回执 says replaced what;
-- with the year's latest approval (who, when), which a file held after it names.
SELECT s.submission_id, s.unit_code, s.year, s.file_name, s.archive_path, s.received_at, s.status, s.is_current,
       a.actor AS approved_by, a.acted_at AS approved_at
FROM submission s
LEFT JOIN signoff_event a ON a.year = s.year AND a.event_id = (
    SELECT MAX(l.event_id) FROM signoff_event l WHERE l.year = s.year AND l.action = 'approved')
WHERE s.unit_code IN :unit_codes AND s.year IN :years
ORDER BY s.unit_code, s.year, s.received_at, s.file_name, s.submission_id;
