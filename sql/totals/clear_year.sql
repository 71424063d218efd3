-- A year's totals are recomputed whole: first its provenance and totals go.
DELETE FROM township_total_source WHERE year = :year;
DELETE FROM township_total WHERE year = :year;
