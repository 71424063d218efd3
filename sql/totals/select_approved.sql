-- A signed-off year's totals as its approval saw them (signoff_total of the approval in
-- force, view signoff_state): totals.compute_year refuses to store different ones. No rows
-- when the year is not locked (never approved, or reopened since).
SELECT snap.indicator_code, snap.value
FROM signoff_state st
JOIN signoff_total snap ON snap.event_id = st.event_id
WHERE st.year = :year AND st.locked;
