-- Analysts' views. Dropped and re-created together (dependents first) on every schema apply.
DROP VIEW IF EXISTS year_over_year;
DROP VIEW IF EXISTS completeness;
DROP VIEW IF EXISTS submission_status;
DROP VIEW IF EXISTS township_totals;
DROP VIEW IF EXISTS village_indicator_values;

-- One row per unit, year and indicator: the figures in force (from the current submission).
CREATE VIEW village_indicator_values AS
SELECT f.year, f.unit_code, u.unit_name, u.kind AS unit_kind,
       f.indicator_code, i.indicator_name, i.unit, i.section_name,
       f.value, f.raw_text, f.note, f.sheet, f.cell, s.file_name, f.submission_id
FROM fact_value f
JOIN submission s ON s.submission_id = f.submission_id AND s.is_current
JOIN dim_unit u ON u.unit_code = f.unit_code
JOIN dim_indicator i ON i.indicator_code = f.indicator_code;

CREATE VIEW township_totals AS
SELECT t.year, t.indicator_code, i.indicator_name, i.unit, i.section_name, i.aggregation,
       t.value, t.units_reported, t.units_expected,
       CASE WHEN t.units_expected > 0 THEN 1.0 * t.units_reported / t.units_expected END AS completeness,
       i.sort_order
FROM township_total t
JOIN dim_indicator i ON i.indicator_code = t.indicator_code;

-- Every unit for every year, with its latest file (if any) and whether it is in force.
CREATE VIEW submission_status AS
WITH ranked AS (
    SELECT s.*, ROW_NUMBER() OVER (PARTITION BY s.unit_code, s.year
                                   ORDER BY s.received_at DESC, s.file_name DESC) AS recency
    FROM submission s
)
SELECT p.year, u.unit_code, u.unit_name, u.kind AS unit_kind,
       COALESCE(r.status, 'missing') AS status,
       r.file_name, r.received_at, r.template_version, r.error_count, r.warning_count,
       r.submission_id AS latest_submission_id,
       EXISTS (SELECT 1 FROM submission c
               WHERE c.unit_code = u.unit_code AND c.year = p.year AND c.is_current) AS has_figures
FROM dim_period p
CROSS JOIN dim_unit u
LEFT JOIN ranked r ON r.unit_code = u.unit_code AND r.year = p.year AND r.recency = 1;

CREATE VIEW completeness AS
SELECT year,
       COUNT(*) AS units_expected,
       SUM(CASE WHEN has_figures THEN 1 ELSE 0 END) AS units_with_figures,
       SUM(CASE WHEN status = 'missing' THEN 1 ELSE 0 END) AS units_missing,
       SUM(CASE WHEN status = 'rejected' THEN 1 ELSE 0 END) AS units_rejected,
       1.0 * SUM(CASE WHEN has_figures THEN 1 ELSE 0 END) / COUNT(*) AS completeness_rate
FROM submission_status
GROUP BY year;

CREATE VIEW year_over_year AS
SELECT cur.year, cur.indicator_code, cur.indicator_name, cur.unit,
       cur.value, prev.value AS previous_value,
       cur.value - prev.value AS change,
       CASE WHEN prev.value <> 0 THEN (cur.value - prev.value) / prev.value END AS change_rate
FROM township_totals cur
LEFT JOIN township_totals prev
       ON prev.indicator_code = cur.indicator_code AND prev.year = cur.year - 1;
