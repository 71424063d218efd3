-- Per total drawn from several indicators (a ratio): how many units contributed to 1, 2, ...
-- of its sources. A total whose only source is itself (a sum) needs no such count.
SELECT total_code, sources, COUNT(*) AS units
FROM (
    SELECT indicator_code AS total_code, unit_code, COUNT(*) AS sources
    FROM township_total_source
    WHERE year = :year AND source_code <> indicator_code
    GROUP BY indicator_code, unit_code
) per_unit
GROUP BY total_code, sources;
