-- What an approval vouches for (village_reports.signoff.digest), two statements:
-- 1. the year's stored township totals;
SELECT indicator_code, value, units_reported, units_expected FROM township_total
WHERE year = :year ORDER BY indicator_code;
-- 2. the files in force behind them (a replaced file with the same totals is still a change).
SELECT submission_id FROM submission WHERE year = :year AND is_current ORDER BY submission_id;
