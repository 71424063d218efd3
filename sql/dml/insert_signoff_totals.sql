-- An approval's snapshot of the year's stored totals: the next review lists what moved since.
INSERT INTO signoff_total (event_id, indicator_code, value)
SELECT :event_id, indicator_code, value FROM township_total WHERE year = :year;
