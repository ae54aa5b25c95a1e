-- Jobs that plan but are probably wrong: warnings, not errors (exit 0).
CREATE SOURCE readings (
  device VARCHAR NOT NULL, temp DOUBLE, rpm BIGINT, ts TIMESTAMP NOT NULL,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
);

-- The key misses the window: every minute overwrites the device's row.
CREATE TABLE by_device (window_start TIMESTAMP, device VARCHAR, n BIGINT, PRIMARY KEY (device));
CREATE JOB per_minute_job AS
  INSERT INTO by_device
  SELECT window_start, device, count(*)
  FROM TUMBLE(readings, ts, INTERVAL '1' MINUTE)
  GROUP BY window_start, device;

-- The key misses a group column (group-window form).
CREATE TABLE by_window (w TIMESTAMP, device VARCHAR, n BIGINT, PRIMARY KEY (w));
CREATE JOB per_window_job AS
  INSERT INTO by_window
  SELECT TUMBLE_START(ts, INTERVAL '1' MINUTE) AS w, device, count(*)
  FROM readings
  GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE), device;

-- The key misses both (HOP): it holds an aggregate.
CREATE TABLE by_count (window_start TIMESTAMP, device VARCHAR, n BIGINT, PRIMARY KEY (n));
CREATE JOB hop_job AS
  INSERT INTO by_count
  SELECT window_start, device, count(*)
  FROM HOP(readings, ts, INTERVAL '10' SECOND, INTERVAL '1' MINUTE)
  GROUP BY window_start, device;

-- No key with late panes: each pane is another row.
CREATE TABLE log (window_start TIMESTAMP, device VARCHAR, n BIGINT);
CREATE JOB late_job WITH (allowed_lateness = '1 minute') AS
  INSERT INTO log
  SELECT window_start, device, count(*)
  FROM TUMBLE(readings, ts, INTERVAL '1' MINUTE)
  GROUP BY window_start, device;

-- A non-windowed aggregation keeps every device's state forever.
CREATE TABLE totals (device VARCHAR, n BIGINT, PRIMARY KEY (device));
CREATE JOB totals_job AS
  INSERT INTO totals SELECT device, count(*) FROM readings GROUP BY device;

-- ... and into a table without a key it appends every update.
CREATE TABLE totals_log (device VARCHAR, n BIGINT);
CREATE JOB totals_log_job AS
  INSERT INTO totals_log SELECT device, count(*) FROM readings GROUP BY device;

-- A global count(DISTINCT) keeps every distinct value.
CREATE TABLE devices (n BIGINT);
CREATE JOB devices_job AS
  INSERT INTO devices SELECT count(DISTINCT device) FROM readings;

-- Lateness and early panes need windows.
CREATE TABLE hot (device VARCHAR, temp DOUBLE);
CREATE JOB hot_job WITH (allowed_lateness = '1 minute', emit_early = '5 seconds') AS
  INSERT INTO hot SELECT device, temp FROM readings WHERE temp > 80;
