-- Names and types that do not resolve, in jobs and in batch statements.
CREATE SOURCE readings (
  device VARCHAR NOT NULL, temp DOUBLE, rpm BIGINT, ts TIMESTAMP NOT NULL,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
);
CREATE TABLE per_minute (window_start TIMESTAMP, device VARCHAR, n BIGINT, avg_temp DOUBLE,
                         PRIMARY KEY (window_start, device));

CREATE JOB undefined_source AS
  INSERT INTO per_minute
  SELECT window_start, device, count(*), avg(temp)
  FROM TUMBLE(reading, ts, INTERVAL '1' MINUTE)
  GROUP BY window_start, device;

CREATE JOB undefined_column AS
  INSERT INTO per_minute
  SELECT window_start, device, count(*), avg(temperature)
  FROM TUMBLE(readings, ts, INTERVAL '1' MINUTE)
  GROUP BY window_start, device;

CREATE JOB undefined_table AS
  INSERT INTO per_hour
  SELECT window_start, device, count(*), avg(temp)
  FROM TUMBLE(readings, ts, INTERVAL '1' HOUR)
  GROUP BY window_start, device;

CREATE JOB wrong_type AS
  INSERT INTO per_minute
  SELECT window_start, device, device, avg(temp)
  FROM TUMBLE(readings, ts, INTERVAL '1' MINUTE)
  GROUP BY window_start, device;

CREATE JOB not_grouped AS
  INSERT INTO per_minute
  SELECT window_start, device, rpm, avg(temp)
  FROM TUMBLE(readings, ts, INTERVAL '1' MINUTE)
  GROUP BY window_start, device;

CREATE JOB no_such_function AS
  INSERT INTO per_minute
  SELECT window_start, device, count(*), average(temp)
  FROM TUMBLE(readings, ts, INTERVAL '1' MINUTE)
  GROUP BY window_start, device;

SELECT device, n FROM per_minute WHERE n > 'many';
UPDATE per_minute SET n = n + 1 WHERE devic = 'a';
DELETE FROM per_hour;
INSERT INTO per_minute (window_start, device, n, avg_temp, extra) VALUES (now(), 'a', 1, 1.0, 1);
