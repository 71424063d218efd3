-- The figures `python -m village_reports status` prints after a run.
SELECT year, indicator_name, value, unit, units_reported, units_expected FROM township_totals
WHERE indicator_code IN ('REV01', 'REV19', 'REV03', 'REV04', 'LIV01')
ORDER BY year, sort_order;
