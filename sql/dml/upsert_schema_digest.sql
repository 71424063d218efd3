INSERT INTO schema_state (name, digest, applied_at) VALUES ('warehouse', :digest, :applied_at)
ON CONFLICT (name) DO UPDATE SET digest = excluded.digest, applied_at = excluded.applied_at;
