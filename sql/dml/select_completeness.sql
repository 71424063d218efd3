SELECT year, units_expected, units_with_figures, units_missing, units_rejected
FROM completeness ORDER BY year;
