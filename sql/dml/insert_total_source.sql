INSERT INTO township_total_source (year, indicator_code, unit_code, source_code, value, sheet, cell)
VALUES (:year, :indicator_code, :unit_code, :source_code, :value, :sheet, :cell);
