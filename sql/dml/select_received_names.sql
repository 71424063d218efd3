-- The (year, file name) of every file received: a register's time applies to a name's first file only.
SELECT DISTINCT year, file_name FROM file_receipt;
