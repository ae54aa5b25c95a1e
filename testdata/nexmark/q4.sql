-- Nexmark q4: average price for a category. The closing (maximum) price of
-- each auction, from the bids made while it was open, averaged per
-- category: a join bounded by the auction's expiry, a continuous
-- aggregation, and an average over its updating results.
-- Run: weir run testdata/nexmark/q4.sql --param events=10000000
CREATE SOURCE auction (id BIGINT, item_name VARCHAR, description VARCHAR, initial_bid BIGINT, reserve BIGINT,
                       date_time TIMESTAMP, expires TIMESTAMP, seller BIGINT, category BIGINT, extra VARCHAR,
                       WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', table = 'auction', events = '${events}');
CREATE SOURCE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
                   date_time TIMESTAMP, extra VARCHAR,
                   WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', table = 'bid', events = '${events}');
CREATE SINK nexmark_q4 (category BIGINT, avg DOUBLE) WITH (connector = 'blackhole');
CREATE JOB nexmark_q4 AS
  INSERT INTO nexmark_q4
  SELECT Q.category, AVG(Q.final) AS avg
  FROM (
    SELECT MAX(B.price) AS final, A.category
    FROM auction A, bid B
    WHERE A.id = B.auction AND B.date_time BETWEEN A.date_time AND A.expires
    GROUP BY A.id, A.category
  ) Q
  GROUP BY Q.category;
