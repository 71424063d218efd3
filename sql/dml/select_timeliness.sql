SELECT year, unit_code, unit_name, timeliness, first_received, deadline, latest_status, latest_file
FROM timeliness WHERE year = :year ORDER BY unit_code;
