-- Nexmark q1: currency conversion (dollars to euros).
-- Run: weir run testdata/nexmark/q1.sql --param events=10000000
CREATE SOURCE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
                   date_time TIMESTAMP, extra VARCHAR,
                   WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', table = 'bid', events = '${events}');
CREATE SINK nexmark_q1 (auction BIGINT, bidder BIGINT, price DOUBLE, date_time TIMESTAMP)
  WITH (connector = 'blackhole');
CREATE JOB nexmark_q1 AS
  INSERT INTO nexmark_q1
  SELECT auction, bidder, 0.908 * price AS price, date_time FROM bid;
