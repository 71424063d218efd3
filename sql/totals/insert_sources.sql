-- The cells behind one total, for one source rule (see village_reports.totals.source_rules):
-- the reported figures in force of :source_code, for count_units only those meeting the condition.
INSERT INTO township_total_source (year, indicator_code, unit_code, source_code, value, sheet, cell)
SELECT f.year, :total_code, f.unit_code, f.indicator_code, f.value, f.sheet, f.cell
FROM fact_value f
JOIN submission s ON s.submission_id = f.submission_id AND s.is_current
WHERE f.year = :year
  AND f.indicator_code = :source_code
  AND f.value IS NOT NULL
  AND CASE CAST(:op AS TEXT)
        WHEN '==' THEN f.value = CAST(:threshold AS DOUBLE PRECISION)
        WHEN '!=' THEN f.value <> CAST(:threshold AS DOUBLE PRECISION)
        WHEN '>' THEN f.value > CAST(:threshold AS DOUBLE PRECISION)
        WHEN '>=' THEN f.value >= CAST(:threshold AS DOUBLE PRECISION)
        WHEN '<' THEN f.value < CAST(:threshold AS DOUBLE PRECISION)
        WHEN '<=' THEN f.value <= CAST(:threshold AS DOUBLE PRECISION)
        ELSE TRUE
      END;
