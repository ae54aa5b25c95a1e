-- Nexmark q2: selection (the bids of a set of auctions).
-- Run: weir run testdata/nexmark/q2.sql --param events=10000000
CREATE SOURCE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
                   date_time TIMESTAMP, extra VARCHAR,
                   WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', table = 'bid', events = '${events}');
CREATE SINK nexmark_q2 (auction BIGINT, price BIGINT) WITH (connector = 'blackhole');
CREATE JOB nexmark_q2 AS
  INSERT INTO nexmark_q2
  SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0;
