-- Whether a year is signed off, and by whom (view signoff_state).
SELECT locked, actor, acted_at_beijing FROM signoff_state WHERE year = :year
