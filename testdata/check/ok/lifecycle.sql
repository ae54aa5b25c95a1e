-- Job lifecycle statements, in the order a job file would use them.
CREATE SOURCE readings (
  device VARCHAR NOT NULL, temp DOUBLE, rpm BIGINT, ts TIMESTAMP NOT NULL,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
);
CREATE TABLE per_minute (window_start TIMESTAMP, device VARCHAR, n BIGINT, timing VARCHAR,
                         PRIMARY KEY (window_start, device));
CREATE TABLE hot (device VARCHAR, temp DOUBLE, ts TIMESTAMP);

CREATE JOB per_minute_job WITH (emit_early = '10 seconds', parallelism = '2') AS
  INSERT INTO per_minute
  SELECT TUMBLE_START(ts, INTERVAL '1' MINUTE), device, count(*), PANE_TIMING()
  FROM readings
  GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE), device;

SHOW JOBS;
EXPLAIN JOB per_minute_job;
SELECT name, state, events_in, late_dropped FROM weir_jobs;
SELECT job, operator, stateful FROM weir_operators ORDER BY operator;
CREATE SNAPSHOT before_filter FOR JOB per_minute_job WITH SOURCE;

-- A filter added upstream keeps the aggregation's name: the update is allowed.
ALTER JOB per_minute_job UPDATE AS
  INSERT INTO per_minute
  SELECT TUMBLE_START(ts, INTERVAL '1' MINUTE), device, count(*), PANE_TIMING()
  FROM readings
  WHERE temp IS NOT NULL
  GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE), device;

DRAIN JOB per_minute_job;
DROP JOB per_minute_job;
CREATE JOB per_minute_job FROM SNAPSHOT before_filter;
CANCEL JOB per_minute_job;
DROP SNAPSHOT before_filter;

CREATE TEMPLATE hot_devices (threshold DOUBLE) AS
  INSERT INTO hot SELECT device, temp, ts FROM readings WHERE temp > ${threshold};
CREATE JOB hot_now FROM TEMPLATE hot_devices WITH (threshold = '80.5');
CANCEL JOB hot_now;
DROP TEMPLATE hot_devices;
DROP TABLE hot;
