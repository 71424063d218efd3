-- Every submission, to find those whose 回执 is missing (a load that committed, then died).
SELECT submission_id, unit_code, year, file_name, archive_path, received_at, status
FROM submission
ORDER BY year, unit_code, received_at, file_name, submission_id;
