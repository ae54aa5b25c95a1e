-- Nexmark q5 as a ranking (RisingWave's q5 rewrite, top 3): the three
-- auctions with the most bids in each sliding window (10 seconds, every 2
-- seconds), ranked with ROW_NUMBER() per window (ties: the lower auction
-- id first).
-- Run: weir run testdata/nexmark/q5_rank.sql --param events=10000000
CREATE SOURCE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
                   date_time TIMESTAMP, extra VARCHAR,
                   WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', table = 'bid', events = '${events}');
CREATE SINK nexmark_q5_rank (starttime TIMESTAMP, auction BIGINT, num BIGINT, rank_number BIGINT)
  WITH (connector = 'blackhole');
CREATE JOB nexmark_q5_rank AS
  INSERT INTO nexmark_q5_rank
  SELECT starttime, auction, num, rank_number
  FROM (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY starttime ORDER BY num DESC) AS rank_number
    FROM (
      SELECT bid.auction, count(*) AS num, window_start AS starttime
      FROM HOP(bid, date_time, INTERVAL '2' SECOND, INTERVAL '10' SECOND)
      GROUP BY window_start, bid.auction
    ) AS AuctionBids
  ) AS Ranked
  WHERE rank_number <= 3;
