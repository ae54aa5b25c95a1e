-- CREATE JOB ... WITH options: each bad option is reported at the option.
CREATE SOURCE readings (
  device VARCHAR NOT NULL, temp DOUBLE, ts TIMESTAMP NOT NULL,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
);
CREATE TABLE per_minute (window_start TIMESTAMP, device VARCHAR, n BIGINT, PRIMARY KEY (window_start, device));

CREATE JOB typo WITH (allowed_latenes = '1 minute') AS
  INSERT INTO per_minute
  SELECT window_start, device, count(*)
  FROM TUMBLE(readings, ts, INTERVAL '1' MINUTE)
  GROUP BY window_start, device;

CREATE JOB bad_duration WITH (parallelism = '2', allowed_lateness = 'a while') AS
  INSERT INTO per_minute
  SELECT window_start, device, count(*)
  FROM TUMBLE(readings, ts, INTERVAL '1' MINUTE)
  GROUP BY window_start, device;

CREATE JOB bad_parallelism WITH (parallelism = '0') AS
  INSERT INTO per_minute
  SELECT window_start, device, count(*)
  FROM TUMBLE(readings, ts, INTERVAL '1' MINUTE)
  GROUP BY window_start, device;

CREATE JOB unknown_operator WITH ("name.window_agg_devices" = 'per_device') AS
  INSERT INTO per_minute
  SELECT window_start, device, count(*)
  FROM TUMBLE(readings, ts, INTERVAL '1' MINUTE)
  GROUP BY window_start, device;

-- Streaming jobs are streams: no ORDER BY or LIMIT, and they must read a source.
CREATE JOB ordered AS
  INSERT INTO per_minute
  SELECT window_start, device, count(*)
  FROM TUMBLE(readings, ts, INTERVAL '1' MINUTE)
  GROUP BY window_start, device
  ORDER BY device;

CREATE JOB from_table AS
  INSERT INTO per_minute SELECT * FROM per_minute;
