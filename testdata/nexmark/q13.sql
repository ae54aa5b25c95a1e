-- Nexmark q13: bounded side input join. Each bid joined with a table (a
-- side input, read by primary key; later changes to the table apply to
-- later bids).
-- Run: weir run testdata/nexmark/q13.sql --param events=10000000
CREATE SOURCE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
                   date_time TIMESTAMP, extra VARCHAR,
                   WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', table = 'bid', events = '${events}');
CREATE TABLE side_input (key BIGINT PRIMARY KEY, value VARCHAR);
INSERT INTO side_input SELECT g, 'value-' || g FROM generate_series(0, 9999) AS g;
CREATE SINK nexmark_q13 (auction BIGINT, bidder BIGINT, price BIGINT, date_time TIMESTAMP, value VARCHAR)
  WITH (connector = 'blackhole');
CREATE JOB nexmark_q13 AS
  INSERT INTO nexmark_q13
  SELECT B.auction, B.bidder, B.price, B.date_time, S.value
  FROM bid B JOIN side_input S ON MOD(B.auction, 10000) = S.key;
