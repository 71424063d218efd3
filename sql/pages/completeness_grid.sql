-- The dashboard's units × years: each unit's standing per year (view timeliness).
SELECT year, unit_code, timeliness FROM timeliness ORDER BY year, unit_code
