-- The bundled IoT example: a file source, a keyed table, a windowed job.
CREATE SOURCE readings (
  device  VARCHAR NOT NULL,
  temp    DOUBLE,
  rpm     BIGINT,
  ts      TIMESTAMP NOT NULL,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH (connector = 'file', path = 'readings.csv', format = 'csv');

CREATE TABLE per_minute (
  window_start TIMESTAMP,
  device       VARCHAR,
  n            BIGINT,
  avg_temp     DOUBLE,
  max_rpm      BIGINT,
  PRIMARY KEY (window_start, device)
);

CREATE JOB per_minute_job AS
  INSERT INTO per_minute
  SELECT window_start, device, count(*) AS n, round(avg(temp), 2) AS avg_temp, max(rpm) AS max_rpm
  FROM TUMBLE(readings, ts, INTERVAL '1' MINUTE)
  GROUP BY window_start, window_end, device;

SELECT * FROM per_minute ORDER BY window_start, device LIMIT 24;

SELECT device, sum(n) AS readings, round(avg(avg_temp), 2) AS avg_temp, max(max_rpm) AS max_rpm
FROM per_minute GROUP BY device ORDER BY device;
