-- Batch SQL on tables: reference data, DML and queries.
CREATE TABLE devices (id VARCHAR, site VARCHAR, installed DATE, PRIMARY KEY (id));
CREATE TABLE sites (name VARCHAR, region VARCHAR, PRIMARY KEY (name));

INSERT INTO devices VALUES ('pump-01', 'north', DATE '2023-05-01'), ('pump-02', 'south', DATE '2023-06-01');
INSERT INTO sites VALUES ('north', 'eu'), ('south', 'us');
UPDATE devices SET site = 'north' WHERE id = 'pump-02';
DELETE FROM sites WHERE region = 'us';

SELECT d.id, s.region FROM devices d LEFT JOIN sites s ON d.site = s.name ORDER BY d.id;

WITH per_site AS (SELECT site, count(*) AS n FROM devices GROUP BY site)
SELECT site, n FROM per_site WHERE n > 0
UNION ALL
SELECT 'total', count(*) FROM devices
ORDER BY 1 LIMIT 10;

EXPLAIN SELECT id FROM devices WHERE installed > DATE '2023-01-01';
SELECT name, state FROM weir_jobs;
SET application_name = 'ci';
SHOW TABLES;
