SELECT year FROM dim_period ORDER BY year;
