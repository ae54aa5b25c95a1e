-- Windows need event time: a windowed aggregation over a source without a
-- WATERMARK FOR column is an error at the window.
CREATE SOURCE clicks (page VARCHAR NOT NULL, ms BIGINT, ts TIMESTAMP NOT NULL);
CREATE TABLE counts (window_start TIMESTAMP, page VARCHAR, n BIGINT, PRIMARY KEY (window_start, page));

CREATE JOB tumble_job AS
  INSERT INTO counts
  SELECT window_start, page, count(*)
  FROM TUMBLE(clicks, ts, INTERVAL '10' SECOND)
  GROUP BY window_start, page;

CREATE JOB hop_job AS
  INSERT INTO counts
  SELECT window_start, page, count(*)
  FROM HOP(clicks, ts, INTERVAL '10' SECOND, INTERVAL '1' MINUTE)
  GROUP BY window_start, page;

CREATE JOB group_window_job AS
  INSERT INTO counts
  SELECT TUMBLE_START(ts, INTERVAL '10' SECOND), page, count(*)
  FROM clicks
  GROUP BY TUMBLE(ts, INTERVAL '10' SECOND), page;

-- A watermark on a column that is not a timestamp, or not there.
CREATE SOURCE bad1 (page VARCHAR, ms BIGINT, WATERMARK FOR ms AS ms - 5);
CREATE SOURCE bad2 (page VARCHAR, ts TIMESTAMP, WATERMARK FOR tss AS tss);
