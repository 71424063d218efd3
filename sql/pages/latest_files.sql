-- The dashboard's latest files received, newest first, with what became of each (view received_files).
SELECT year, received_at_beijing, file_name, unit_code, outcome, error_count, warning_count, is_current
FROM received_files
ORDER BY received_at DESC, file_name
LIMIT :limit
