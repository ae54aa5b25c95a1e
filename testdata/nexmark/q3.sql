-- Nexmark q3: local item suggestion. Who is selling in OR, ID or CA in
-- category 10? A regular join of two streams (no time bound: its state
-- grows with the number of persons and auctions).
-- Run: weir run testdata/nexmark/q3.sql --param events=10000000
CREATE SOURCE auction (id BIGINT, item_name VARCHAR, description VARCHAR, initial_bid BIGINT, reserve BIGINT,
                       date_time TIMESTAMP, expires TIMESTAMP, seller BIGINT, category BIGINT, extra VARCHAR,
                       WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', table = 'auction', events = '${events}');
CREATE SOURCE person (id BIGINT, name VARCHAR, email_address VARCHAR, credit_card VARCHAR, city VARCHAR,
                      state VARCHAR, date_time TIMESTAMP, extra VARCHAR,
                      WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', table = 'person', events = '${events}');
CREATE SINK nexmark_q3 (name VARCHAR, city VARCHAR, state VARCHAR, id BIGINT)
  WITH (connector = 'blackhole');
CREATE JOB nexmark_q3 AS
  INSERT INTO nexmark_q3
  SELECT P.name, P.city, P.state, A.id
  FROM auction AS A INNER JOIN person AS P ON A.seller = P.id
  WHERE A.category = 10 AND (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA');
