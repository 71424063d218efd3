SELECT submission_id FROM submission;
