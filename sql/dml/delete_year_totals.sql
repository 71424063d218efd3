DELETE FROM township_total_source WHERE year = :year;
DELETE FROM township_total WHERE year = :year;
