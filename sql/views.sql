-- Analysts' views. Dropped and re-created together (dependents first) on every schema apply.
-- Times: the *_at / first_received / deadline columns are ISO 8601 UTC, for machines; each
-- has a *_beijing twin, 'YYYY-MM-DD HH:MM' in Beijing time, as the outputs and 回执 show it;
-- the twins come last, so that the columns before them keep their places.
-- BEIJING_TIME(x) is written per dialect by village_reports.warehouse.
DROP VIEW IF EXISTS v_signoff_audit;
DROP VIEW IF EXISTS signoff_state;
DROP VIEW IF EXISTS quarantine;
DROP VIEW IF EXISTS file_accounting;
DROP VIEW IF EXISTS received_files;
DROP VIEW IF EXISTS timeliness;
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
               WHERE c.unit_code = u.unit_code AND c.year = p.year AND c.is_current) AS has_figures,
       BEIJING_TIME(r.received_at) AS received_at_beijing
FROM dim_period p
CROSS JOIN dim_unit u
LEFT JOIN ranked r ON r.unit_code = u.unit_code AND r.year = p.year AND r.recency = 1;

CREATE VIEW completeness AS
SELECT year,
       COUNT(*) AS units_expected,
       SUM(CASE WHEN has_figures THEN 1 ELSE 0 END) AS units_with_figures,
       SUM(CASE WHEN status = 'missing' THEN 1 ELSE 0 END) AS units_missing,
       SUM(CASE WHEN status = 'rejected' THEN 1 ELSE 0 END) AS units_rejected,
       1.0 * SUM(CASE WHEN has_figures THEN 1 ELSE 0 END) / COUNT(*) AS completeness_rate,
       -- sent, but only after the year was signed off: not missing, and not in the totals
       SUM(CASE WHEN status = 'received_after_signoff' AND NOT has_figures THEN 1 ELSE 0 END)
           AS units_received_after_signoff
FROM submission_status
GROUP BY year;

-- change and change_rate only where the two years are comparable: both totals come from
-- every unit that reports the indicator (village_reports.totals.comparable says the same).
-- A partial year's sum against a full year's is not a fall; comparable says why it is NULL.
CREATE VIEW year_over_year AS
WITH paired AS (
    SELECT cur.year, cur.indicator_code, cur.indicator_name, cur.unit,
           cur.value, prev.value AS previous_value,
           cur.units_reported, cur.units_expected,
           prev.units_reported AS previous_units_reported, prev.units_expected AS previous_units_expected,
           CASE WHEN cur.value IS NOT NULL AND prev.value IS NOT NULL
                     AND cur.units_expected > 0 AND cur.units_reported = cur.units_expected
                     AND prev.units_expected > 0 AND prev.units_reported = prev.units_expected
                THEN 1 ELSE 0 END AS comparable
    FROM township_totals cur
    LEFT JOIN township_totals prev
           ON prev.indicator_code = cur.indicator_code AND prev.year = cur.year - 1
)
SELECT year, indicator_code, indicator_name, unit, value, previous_value,
       CASE WHEN comparable = 1 THEN value - previous_value END AS change,
       CASE WHEN comparable = 1 AND previous_value <> 0 THEN (value - previous_value) / previous_value END AS change_rate,
       units_reported, units_expected, previous_units_reported, previous_units_expected, comparable
FROM paired;

-- Every file ever received and what became of it.
CREATE VIEW received_files AS
SELECT r.year, r.received_at, r.file_name, s.unit_code, r.submission_id, r.receipt_id,
       CASE WHEN r.is_duplicate THEN 'duplicate' ELSE s.status END AS outcome,
       s.is_current, s.error_count, s.warning_count, s.archive_path,
       BEIJING_TIME(r.received_at) AS received_at_beijing
FROM file_receipt r
LEFT JOIN submission s ON s.submission_id = r.submission_id;

-- received = accepted + accepted_with_warnings + rejected + duplicate + received_after_signoff, per year.
CREATE VIEW file_accounting AS
SELECT year,
       COUNT(*) AS received,
       SUM(CASE WHEN outcome = 'accepted' THEN 1 ELSE 0 END) AS accepted,
       SUM(CASE WHEN outcome = 'accepted_with_warnings' THEN 1 ELSE 0 END) AS accepted_with_warnings,
       SUM(CASE WHEN outcome = 'rejected' THEN 1 ELSE 0 END) AS rejected,
       SUM(CASE WHEN outcome = 'duplicate' THEN 1 ELSE 0 END) AS duplicate,
       SUM(CASE WHEN outcome IS NULL THEN 1 ELSE 0 END) AS unaccounted,
       SUM(CASE WHEN outcome = 'received_after_signoff' THEN 1 ELSE 0 END) AS received_after_signoff
FROM received_files
GROUP BY year;

-- Rejected files, kept in the archive, with every reason (退回原因).
CREATE VIEW quarantine AS
SELECT f.year, f.received_at, f.file_name, f.unit_code, f.archive_path,
       p.seq, p.sheet, p.cell, p.indicator_code, p.message, f.received_at_beijing
FROM received_files f
JOIN submission_problem p ON p.submission_id = f.submission_id AND p.severity = 'error'
WHERE f.outcome = 'rejected';

-- On time, late, missing or rejected, per unit and year, against the deadline; a unit
-- whose only files came after the year was signed off is received_after_signoff (sent,
-- not in the totals), and its first_received is when the first of them came.
CREATE VIEW timeliness AS
SELECT st.year, st.unit_code, st.unit_name,
       CASE WHEN st.has_figures AND ok.first_received <= p.deadline THEN 'on_time'
            WHEN st.has_figures THEN 'late'
            WHEN st.status = 'rejected' THEN 'rejected'
            WHEN st.status = 'received_after_signoff' THEN 'received_after_signoff'
            ELSE 'missing' END AS timeliness,
       ok.first_received, p.deadline, st.status AS latest_status, st.file_name AS latest_file,
       BEIJING_TIME(ok.first_received) AS first_received_beijing, BEIJING_TIME(p.deadline) AS deadline_beijing
FROM submission_status st
JOIN dim_period p ON p.year = st.year
LEFT JOIN (
    SELECT unit_code, year,
           COALESCE(MIN(CASE WHEN status IN ('accepted', 'accepted_with_warnings') THEN received_at END),
                    MIN(CASE WHEN status = 'received_after_signoff' THEN received_at END)) AS first_received
    FROM submission WHERE status IN ('accepted', 'accepted_with_warnings', 'received_after_signoff')
    GROUP BY unit_code, year
) ok ON ok.unit_code = st.unit_code AND ok.year = st.year;

-- Each signed-off year's lock: its latest approval or reopening (village_reports.signoff).
-- A year without either is a draft, unlocked. locked is true while that event is an approval.
CREATE VIEW signoff_state AS
SELECT e.year, CASE WHEN e.action = 'approved' THEN TRUE ELSE FALSE END AS locked,
       e.event_id, e.action, e.actor, e.acted_at, e.reason, e.data_as_of, e.totals_digest,
       BEIJING_TIME(e.acted_at) AS acted_at_beijing
FROM signoff_event e
WHERE e.event_id = (SELECT MAX(l.event_id) FROM signoff_event l
                    WHERE l.year = e.year AND l.action IN ('approved', 'reopened'));

-- The sign-off's audit trail, one row per thing that happened to a year (order by happened_at):
-- approved (审核通过), sent_back (退回), reopened (重新开放), with who and why; and the files
-- that came late: received_late (after the deadline) and received_after_signoff (while the
-- year stood approved: by status while it waits, by time once a reopening has loaded it).
CREATE VIEW v_signoff_audit AS
SELECT e.year, e.action AS what, e.actor AS who, e.acted_at AS happened_at,
       e.reason AS reason_or_file, NULL AS unit_code, e.data_as_of, e.event_id, NULL AS submission_id,
       BEIJING_TIME(e.acted_at) AS happened_at_beijing
FROM signoff_event e
UNION ALL
SELECT s.year, CASE WHEN s.after_signoff = 1 THEN 'received_after_signoff' ELSE 'received_late' END AS what,
       COALESCE(u.unit_name, s.unit_code, '未识别') AS who, s.received_at AS happened_at,
       s.file_name AS reason_or_file, s.unit_code, NULL AS data_as_of, NULL AS event_id, s.submission_id,
       BEIJING_TIME(s.received_at) AS happened_at_beijing
FROM (
    SELECT s.*,
           CASE WHEN s.status = 'received_after_signoff' OR EXISTS (
                    SELECT 1 FROM signoff_event a
                    WHERE a.year = s.year AND a.action = 'approved' AND a.acted_at <= s.received_at
                      AND NOT EXISTS (SELECT 1 FROM signoff_event r
                                      WHERE r.year = a.year AND r.action = 'reopened'
                                        AND r.event_id > a.event_id AND r.acted_at <= s.received_at))
                THEN 1 ELSE 0 END AS after_signoff
    FROM submission s
) s
JOIN dim_period p ON p.year = s.year
LEFT JOIN dim_unit u ON u.unit_code = s.unit_code
WHERE s.received_at > p.deadline OR s.after_signoff = 1;
