-- The few numbers per total that village_reports.totals turns into the totals, read from a
-- year's provenance (township_total_source) and facts. Three statements, in this order.

-- 1. Per total and source indicator: how many units, and the sum of their cells.
SELECT indicator_code AS total_code, source_code, COUNT(*) AS units, SUM(value) AS value_sum
FROM township_total_source
WHERE year = :year
GROUP BY indicator_code, source_code;

-- 2. Per total drawn from several indicators (a ratio): how many units contributed to 1, 2, ...
-- of its sources. A total whose only source is itself (a sum) needs no such count.
SELECT total_code, sources, COUNT(*) AS units
FROM (
    SELECT indicator_code AS total_code, unit_code, COUNT(*) AS sources
    FROM township_total_source
    WHERE year = :year AND source_code <> indicator_code
    GROUP BY indicator_code, unit_code
) per_unit
GROUP BY total_code, sources;

-- 3. Per indicator (of those asked for, a count_units total's `of`): how many units report a
-- figure in force, whether or not it meets the condition.
SELECT f.indicator_code, COUNT(f.value) AS units
FROM fact_value f
JOIN submission s ON s.submission_id = f.submission_id AND s.is_current
WHERE f.year = :year AND f.indicator_code IN :indicator_codes
GROUP BY f.indicator_code;
