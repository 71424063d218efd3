-- Township totals of some indicators over a span of years: the charts' trends and the
-- workbook's comparison with last year. A year whose totals were never computed has no row.
SELECT year, indicator_code, value
FROM township_totals
WHERE indicator_code IN :indicator_codes AND year BETWEEN :first_year AND :last_year
ORDER BY year, sort_order;
