-- One year's sign-off state (village_reports.signoff.state), three statements in this order.
-- 1. The year's latest decision of any kind.
SELECT action FROM signoff_event WHERE year = :year ORDER BY event_id DESC LIMIT 1;
-- 2. Its lock: the latest approval or reopening.
SELECT locked, actor, acted_at FROM signoff_state WHERE year = :year;
-- 3. The time of its data: the latest file loaded for it (a held file is not in the data).
SELECT MAX(received_at) FROM submission WHERE year = :year AND status <> 'received_after_signoff';
