-- The most recent Great Expectations runs, newest first (the validation report).
SELECT validation_id, validated_at, submission_ids, success, evaluated, successful, result_json
FROM validation_run
ORDER BY validated_at DESC, validation_id
LIMIT :limit;
