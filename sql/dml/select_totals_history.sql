-- Township totals of some indicators over a span of years, for the charts' trends, with how
-- many units each came from (a partial year's point is drawn as partial). A year whose
-- totals were never computed has no row.
SELECT year, indicator_code, value, units_reported, units_expected
FROM township_totals
WHERE indicator_code IN :indicator_codes AND year BETWEEN :first_year AND :last_year
ORDER BY year, sort_order;
