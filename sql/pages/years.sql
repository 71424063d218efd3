-- The upload page and the dashboard: the years the warehouse knows (view completeness).
SELECT year FROM completeness ORDER BY year
