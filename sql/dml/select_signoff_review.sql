-- What a review shows (village_reports.signoff.review), four statements in this order.
-- 1. The year's latest approval, whose snapshot the totals are compared with.
SELECT event_id, actor, acted_at FROM signoff_event
WHERE year = :year AND action = 'approved' ORDER BY event_id DESC LIMIT 1;
-- 2. The year's stored totals, in catalogue order, beside that snapshot's value.
SELECT t.indicator_code, t.indicator_name, t.unit, t.value, snap.value AS approved_value,
       CASE WHEN snap.indicator_code IS NULL THEN 0 ELSE 1 END AS in_snapshot
FROM township_totals t
LEFT JOIN signoff_total snap ON snap.event_id = :event_id AND snap.indicator_code = t.indicator_code
WHERE t.year = :year
ORDER BY t.sort_order;
-- 3. How many warnings stand on the files in force (the clerks were asked to check them);
SELECT COUNT(*)
FROM submission_problem p
JOIN submission s ON s.submission_id = p.submission_id AND s.is_current
WHERE s.year = :year AND p.severity = 'warning';
-- 4. and the first :limit of them, by unit and indicator.
SELECT s.unit_code, COALESCE(u.unit_name, s.unit_code) AS unit_name, p.indicator_code, p.message
FROM submission_problem p
JOIN submission s ON s.submission_id = p.submission_id AND s.is_current
LEFT JOIN dim_unit u ON u.unit_code = s.unit_code
WHERE s.year = :year AND p.severity = 'warning'
ORDER BY s.unit_code, p.indicator_code, p.seq
LIMIT :limit;
