-- One year's audit trail, in the order things happened: decisions and late files.
SELECT what, who, happened_at, happened_at_beijing, reason_or_file, unit_code, event_id
FROM v_signoff_audit WHERE year = :year
ORDER BY happened_at, COALESCE(event_id, 0);
