-- Nexmark q0: pass-through (measures the cost of reading and writing).
-- Run: weir run testdata/nexmark/q0.sql --param events=10000000
CREATE SOURCE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
                   date_time TIMESTAMP, extra VARCHAR,
                   WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', table = 'bid', events = '${events}');
CREATE SINK nexmark_q0 (auction BIGINT, bidder BIGINT, price BIGINT, date_time TIMESTAMP)
  WITH (connector = 'blackhole');
CREATE JOB nexmark_q0 AS
  INSERT INTO nexmark_q0
  SELECT auction, bidder, price, date_time FROM bid;
