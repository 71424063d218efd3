-- One row per indicator: the total as village_reports.totals computed it, with its completeness.
INSERT INTO township_total (year, indicator_code, value, units_reported, units_expected)
VALUES (:year, :indicator_code, :value, :units_reported, :units_expected);
