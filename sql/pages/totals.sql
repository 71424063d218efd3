-- The dashboard's township totals of one year, with last year's and the change
-- (views township_totals and year_over_year; change is NULL where the years are not
-- comparable), in the catalogue's order.
SELECT t.indicator_code, t.indicator_name, t.unit, t.section_name, t.value,
       y.previous_value, y.change, y.change_rate, t.units_reported, t.units_expected,
       y.previous_units_reported, y.previous_units_expected, y.comparable
FROM township_totals t
LEFT JOIN year_over_year y ON y.year = t.year AND y.indicator_code = t.indicator_code
WHERE t.year = :year
ORDER BY t.sort_order, t.indicator_code
