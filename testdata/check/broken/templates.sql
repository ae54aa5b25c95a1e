-- Templates: the body is checked where the template is defined (with each
-- parameter standing for a NULL of its type), the parameters where a job
-- is made from it.
CREATE SOURCE readings (
  device VARCHAR NOT NULL, temp DOUBLE, ts TIMESTAMP NOT NULL,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
);
CREATE TABLE hot (device VARCHAR, temp DOUBLE, ts TIMESTAMP);

CREATE TEMPLATE broken_body (threshold DOUBLE) AS
  INSERT INTO hot SELECT device, temp, ts FROM readings
  WHERE temp > ${threshold} AND temperature > 0;

CREATE TEMPLATE hot_devices (threshold DOUBLE, who VARCHAR) AS
  INSERT INTO hot SELECT device, temp, ts FROM readings WHERE temp > ${threshold} AND device <> ${who};

CREATE JOB missing_param FROM TEMPLATE hot_devices WITH (threshold = '80.5');
CREATE JOB bad_value FROM TEMPLATE hot_devices WITH (threshold = 'hot', who = 'x');
CREATE JOB extra_param FROM TEMPLATE hot_devices WITH (threshold = '1', who = 'x', unit = 'C');
CREATE JOB no_template FROM TEMPLATE cold_devices WITH (threshold = '1');
CREATE JOB ok_job FROM TEMPLATE hot_devices WITH (threshold = '80.5', who = 'x');
