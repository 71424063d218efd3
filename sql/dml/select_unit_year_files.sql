-- Every file of some units for some years, oldest first: what a 回执 says replaced what.
SELECT submission_id, unit_code, year, file_name, archive_path, received_at, status, is_current
FROM submission
WHERE unit_code IN :unit_codes AND year IN :years
ORDER BY unit_code, year, received_at, file_name, submission_id;
