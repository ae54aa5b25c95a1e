-- check-param: data=.
-- check-param: size=INTERVAL '10' SECOND
-- check-param: threshold=80
-- Parameters (weir run --param, weir check --param).
CREATE SOURCE readings (
  device VARCHAR NOT NULL, temp DOUBLE, rpm BIGINT, ts TIMESTAMP NOT NULL,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH (connector = 'file', path = '${data}/readings.csv');

CREATE TABLE hot (window_start TIMESTAMP, window_end TIMESTAMP, device VARCHAR, peak DOUBLE,
                  PRIMARY KEY (window_start, device));

CREATE JOB hot_job WITH (allowed_lateness = '30 seconds') AS
  INSERT INTO hot
  SELECT window_start, window_end, device, max(temp)
  FROM HOP(readings, ts, ${size}, INTERVAL '1' MINUTE)
  WHERE temp > ${threshold}
  GROUP BY window_start, window_end, device;
