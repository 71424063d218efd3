-- Every cell behind a year's totals, with the unit's name, in report order (streamed to the outputs).
SELECT t.indicator_code, t.unit_code, u.unit_name, t.source_code, t.value, t.sheet, t.cell
FROM township_total_source t
JOIN dim_indicator i ON i.indicator_code = t.indicator_code
LEFT JOIN dim_unit u ON u.unit_code = t.unit_code
WHERE t.year = :year
ORDER BY i.sort_order, t.unit_code, t.source_code;
