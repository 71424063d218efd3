-- One decision on a year; never updated or deleted (the audit trail).
INSERT INTO signoff_event (year, action, actor, acted_at, reason, data_as_of, totals_digest, run_id)
VALUES (:year, :action, :actor, :acted_at, :reason, :data_as_of, :totals_digest, :run_id)
RETURNING event_id;
