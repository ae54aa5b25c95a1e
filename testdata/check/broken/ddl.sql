-- Definitions: columns, keys, connectors and their options.
CREATE SOURCE readings (
  device VARCHAR NOT NULL,
  device VARCHAR,
  ts     TIMESTAMP NOT NULL
);
CREATE SOURCE gen (n BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts) WITH (connector = 'datagen', rows_per_sec = '10');
CREATE SOURCE kafka_in (n BIGINT) WITH (connector = 'kinesis');
CREATE SOURCE csv_in (n BIGINT) WITH (connector = 'file', path = 'in.csv', format = 'xml');
CREATE TABLE t (a BIGINT, b VARCHAR, PRIMARY KEY (c));
CREATE TABLE u (a BIGINT, b SOMETYPE);
CREATE TABLE v (a BIGINT);
CREATE TABLE v (a BIGINT);
CREATE SINK out (a BIGINT) WITH (connector = 'nowhere');
DROP TABLE w;
