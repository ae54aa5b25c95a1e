-- Nexmark q8: monitor new users. The persons who opened an auction in the
-- 10-second window in which they registered: a window join of two
-- windowed aggregations.
-- Run: weir run testdata/nexmark/q8.sql --param events=10000000
CREATE SOURCE person (id BIGINT, name VARCHAR, email_address VARCHAR, credit_card VARCHAR, city VARCHAR,
                      state VARCHAR, date_time TIMESTAMP, extra VARCHAR,
                      WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', table = 'person', events = '${events}');
CREATE SOURCE auction (id BIGINT, item_name VARCHAR, description VARCHAR, initial_bid BIGINT, reserve BIGINT,
                       date_time TIMESTAMP, expires TIMESTAMP, seller BIGINT, category BIGINT, extra VARCHAR,
                       WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', table = 'auction', events = '${events}');
CREATE SINK nexmark_q8 (id BIGINT, name VARCHAR, starttime TIMESTAMP) WITH (connector = 'blackhole');
CREATE JOB nexmark_q8 AS
  INSERT INTO nexmark_q8
  SELECT P.id, P.name, P.starttime
  FROM (
    SELECT id, name, window_start AS starttime, window_end AS endtime
    FROM TUMBLE(person, date_time, INTERVAL '10' SECOND)
    GROUP BY id, name, window_start, window_end
  ) P
  JOIN (
    SELECT seller, window_start AS starttime, window_end AS endtime
    FROM TUMBLE(auction, date_time, INTERVAL '10' SECOND)
    GROUP BY seller, window_start, window_end
  ) A
  ON P.id = A.seller AND P.starttime = A.starttime AND P.endtime = A.endtime;
