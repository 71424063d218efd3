-- The unit's figures for the year come from its latest accepted file; earlier ones stay queryable.
UPDATE submission
SET is_current = CASE WHEN submission_id = (
        SELECT latest.submission_id FROM submission latest
        WHERE latest.unit_code = :unit_code AND latest.year = :year
          AND latest.status IN ('accepted', 'accepted_with_warnings')
        ORDER BY latest.received_at DESC, latest.file_name DESC, latest.submission_id DESC
        LIMIT 1) THEN TRUE ELSE FALSE END
WHERE unit_code = :unit_code AND year = :year;
