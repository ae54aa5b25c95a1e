-- Lifecycle statements checked against the jobs this file defines.
CREATE SOURCE readings (
  device VARCHAR NOT NULL, temp DOUBLE, ts TIMESTAMP NOT NULL,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
);
CREATE TABLE per_minute (window_start TIMESTAMP, device VARCHAR, n BIGINT, PRIMARY KEY (window_start, device));

CREATE JOB per_minute_job AS
  INSERT INTO per_minute
  SELECT window_start, device, count(*)
  FROM TUMBLE(readings, ts, INTERVAL '1' MINUTE)
  GROUP BY window_start, device;

-- The name is taken while the job runs.
CREATE JOB per_minute_job AS
  INSERT INTO per_minute
  SELECT window_start, device, count(*)
  FROM TUMBLE(readings, ts, INTERVAL '1' MINUTE)
  GROUP BY window_start, device;

-- The group key's type changes: the state cannot be carried over.
ALTER JOB per_minute_job UPDATE AS
  INSERT INTO per_minute
  SELECT window_start, device, count(*)
  FROM TUMBLE(readings, ts, INTERVAL '1' MINUTE)
  GROUP BY window_start, device, temp;

EXPLAIN JOB per_minte_job;
CREATE SNAPSHOT s1 FOR JOB per_minte_job;
CREATE JOB restored FROM SNAPSHOT s1;
DROP TABLE per_minute;
DRAIN JOB per_minute_job;
DRAIN JOB per_minute_job;
CANCEL JOB nobody;

-- A relaunch continues the drained job, so it must keep its stateful operators.
CREATE JOB per_minute_job AS
  INSERT INTO per_minute
  SELECT window_start, device, count(*)
  FROM TUMBLE(readings, ts, INTERVAL '1' MINUTE)
  GROUP BY window_start, device, temp;

-- So must a restore from a snapshot.
CREATE JOB other_job AS
  INSERT INTO per_minute
  SELECT window_start, device, count(*)
  FROM TUMBLE(readings, ts, INTERVAL '1' MINUTE)
  GROUP BY window_start, device;
CREATE SNAPSHOT s2 FOR JOB other_job;
CREATE JOB restored FROM SNAPSHOT s2 AS
  INSERT INTO per_minute
  SELECT window_start, device, sum(1)
  FROM TUMBLE(readings, ts, INTERVAL '1' MINUTE)
  GROUP BY window_start, device;
