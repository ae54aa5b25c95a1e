-- Nexmark q7: highest bid. The bids with the highest price of their
-- 10-second window: an interval join of the bids with each window's
-- maximum.
-- Run: weir run testdata/nexmark/q7.sql --param events=10000000
CREATE SOURCE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
                   date_time TIMESTAMP, extra VARCHAR,
                   WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', table = 'bid', events = '${events}');
CREATE SINK nexmark_q7 (auction BIGINT, price BIGINT, bidder BIGINT, date_time TIMESTAMP)
  WITH (connector = 'blackhole');
CREATE JOB nexmark_q7 AS
  INSERT INTO nexmark_q7
  SELECT B.auction, B.price, B.bidder, B.date_time
  FROM bid B
  JOIN (
    SELECT MAX(price) AS maxprice, window_end AS date_time
    FROM TUMBLE(bid, date_time, INTERVAL '10' SECOND)
    GROUP BY window_end
  ) B1 ON B.price = B1.maxprice
  WHERE B.date_time BETWEEN B1.date_time - INTERVAL '10' SECOND AND B1.date_time;
