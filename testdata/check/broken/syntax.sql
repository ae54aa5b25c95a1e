-- check-param: table=readings
-- check-param: size=INTERVAL '1' MINUTE
-- Malformed SQL: every statement gets its own error, positioned in the file
-- as written (before ${param} expansion).
CREATE SOURCE ${table} (
  device VARCHAR NOT NULL,
  temp   DOUBLE,
  ts     TIMESTAMP NOT NULL,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
);

CREATE TABEL per_minute (device VARCHAR);

CREATE TABLE per_minute (window_start TIMESTAMP, device VARCHAR, n BIGINT,
                         PRIMARY KEY (window_start, device);

CREATE JOB per_minute_job AS
  INSERT INTO per_minute
  SELECT window_start, device, count(*)
  FROM TUMBLE(${table}, ts, ${size})
  GROUP BY window_start, device
  HAVING;

SELECT device, FROM ${table};

SELECT ${table}.device, tmp FROM ${table} WHERE device = ${table}.dev;

SELECT 'unterminated FROM ${table};
