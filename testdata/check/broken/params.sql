-- Parameters without a value (no --param): each is reported at its ${,
-- and nothing else is checked.
CREATE SOURCE readings (
  device VARCHAR NOT NULL, temp DOUBLE, ts TIMESTAMP NOT NULL,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH (connector = 'file', path = '${data}/readings.csv');

CREATE TABLE hot (device VARCHAR, temp DOUBLE, ts TIMESTAMP);

-- A template's own parameters are not script parameters.
CREATE TEMPLATE hot_devices (threshold DOUBLE) AS
  INSERT INTO hot SELECT device, temp, ts FROM readings WHERE temp > ${threshold};

CREATE JOB hot_now AS
  INSERT INTO hot SELECT device, temp, ts FROM readings WHERE temp > ${limit} OR temp < ${data};
