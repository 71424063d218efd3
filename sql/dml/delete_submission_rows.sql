DELETE FROM fact_value WHERE submission_id = :submission_id;
DELETE FROM submission_problem WHERE submission_id = :submission_id;
