-- (content, year) identifies a submission: the same bytes moved to another year folder are read for it.
SELECT content_sha256, year, submission_id FROM submission;
