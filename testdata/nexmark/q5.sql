-- Nexmark q5: hot items. The auctions with the most bids in each sliding
-- window (10 seconds, every 2 seconds): two windowed aggregations and a
-- window join.
-- Run: weir run testdata/nexmark/q5.sql --param events=10000000
CREATE SOURCE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
                   date_time TIMESTAMP, extra VARCHAR,
                   WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', table = 'bid', events = '${events}');
CREATE SINK nexmark_q5 (auction BIGINT, num BIGINT) WITH (connector = 'blackhole');
CREATE JOB nexmark_q5 AS
  INSERT INTO nexmark_q5
  SELECT AuctionBids.auction, AuctionBids.num
  FROM (
    SELECT bid.auction, count(*) AS num, window_start AS starttime
    FROM HOP(bid, date_time, INTERVAL '2' SECOND, INTERVAL '10' SECOND)
    GROUP BY window_start, bid.auction
  ) AS AuctionBids
  JOIN (
    SELECT max(CountBids.num) AS maxn, CountBids.starttime_c
    FROM (
      SELECT count(*) AS num, window_start AS starttime_c
      FROM HOP(bid, date_time, INTERVAL '2' SECOND, INTERVAL '10' SECOND)
      GROUP BY bid.auction, window_start
    ) AS CountBids
    GROUP BY CountBids.starttime_c
  ) AS MaxBids
  ON AuctionBids.starttime = MaxBids.starttime_c AND AuctionBids.num >= MaxBids.maxn;
