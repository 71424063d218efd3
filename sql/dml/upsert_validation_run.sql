INSERT INTO validation_run (validation_id, validated_at, submission_ids, success, evaluated, successful, result_json)
VALUES (:validation_id, :validated_at, :submission_ids, :success, :evaluated, :successful, :result_json)
ON CONFLICT (validation_id) DO UPDATE SET
    validated_at = excluded.validated_at, success = excluded.success, evaluated = excluded.evaluated,
    successful = excluded.successful, result_json = excluded.result_json;
