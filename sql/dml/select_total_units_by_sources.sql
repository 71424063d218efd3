-- Per total: how many units contributed to 1, 2, ... of its sources (a ratio needs both).
SELECT total_code, sources, COUNT(*) AS units
FROM (
    SELECT indicator_code AS total_code, unit_code, COUNT(*) AS sources
    FROM township_total_source
    WHERE year = :year
    GROUP BY indicator_code, unit_code
) per_unit
GROUP BY total_code, sources;
