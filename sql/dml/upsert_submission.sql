-- received_at keeps the first time this content was seen: a rerun changes nothing.
INSERT INTO submission (submission_id, content_sha256, unit_code, year, file_name, archive_path, size_bytes, received_at,
                        template_version, status, is_current, error_count, warning_count)
VALUES (:submission_id, :content_sha256, :unit_code, :year, :file_name, :archive_path, :size_bytes, :received_at,
        :template_version, :status, FALSE, :error_count, :warning_count)
ON CONFLICT (submission_id) DO UPDATE SET
    unit_code = excluded.unit_code, template_version = excluded.template_version, status = excluded.status,
    error_count = excluded.error_count, warning_count = excluded.warning_count;
