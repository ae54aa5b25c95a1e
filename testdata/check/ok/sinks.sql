-- Generated sources, stateless jobs into sinks.
CREATE SOURCE gen (id BIGINT, v DOUBLE, ts TIMESTAMP NOT NULL,
                   WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH (connector = 'datagen', rows_per_second = '1000', rows = '10000', seed = '7');
CREATE SOURCE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
                   date_time TIMESTAMP, extra VARCHAR,
                   WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', table = 'bid', events = '100000');

CREATE SINK discard (auction BIGINT, price BIGINT) WITH (connector = 'blackhole');
CREATE SINK print (id BIGINT, v DOUBLE) WITH (connector = 'stdout');

CREATE JOB expensive AS
  INSERT INTO discard SELECT auction, price * 100 FROM bid WHERE price > 1000;
CREATE JOB printed AS
  INSERT INTO print SELECT id, v FROM gen WHERE v BETWEEN 0.25 AND 0.5;

CREATE TABLE max_bids (window_start TIMESTAMP, auction BIGINT, max_price BIGINT,
                       PRIMARY KEY (window_start, auction));
CREATE JOB max_bids_job AS
  INSERT INTO max_bids
  SELECT window_start, auction, max(price)
  FROM TUMBLE(bid, date_time, INTERVAL '10' SECOND, INTERVAL '2' SECOND)
  GROUP BY window_start, auction;
