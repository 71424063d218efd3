-- Who sent some submissions, and what became of them (the validation report names them).
SELECT s.submission_id, s.year, s.unit_code, COALESCE(u.unit_name, s.unit_code, '未识别') AS unit_name,
       s.file_name, s.status
FROM submission AS s
LEFT JOIN dim_unit AS u ON u.unit_code = s.unit_code
WHERE s.submission_id IN :submission_ids;
