package query

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/weir-sql/weir/catalog"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/planner"
	"github.com/weir-sql/weir/sql"
)

// These tests go from SQL text (sql.ParseOne, planner.BindStatement) to
// rows, over a small fixed data set, with expected results written out.

func sqlDB() *db {
	d := newDB()
	d.table("l", "a bigint", "b bigint", "s text")
	d.table("r", "x bigint", "y bigint", "s text")
	d.table("ev", "ts timestamp", "k text", "v double")
	d.rows["l"] = []datum.Row{
		{i64(1), i64(10), str("x")},
		{i64(2), i64(20), str("y")},
		{i64(2), null, str("y")},
		{null, i64(30), null},
		{i64(3), i64(10), str("z")},
	}
	d.rows["r"] = []datum.Row{
		{i64(2), i64(200), str("y")},
		{i64(3), i64(300), null},
		{null, i64(400), str("x")},
		{i64(4), null, str("w")},
	}
	ts := func(s string) datum.Datum {
		us, err := datum.ParseTimestamp(s)
		if err != nil {
			panic(err)
		}
		return datum.NewTimestamp(us)
	}
	d.rows["ev"] = []datum.Row{
		{ts("2024-01-01 00:00:10"), str("a"), datum.NewFloat(1)},
		{ts("2024-01-01 00:00:50"), str("a"), datum.NewFloat(2)},
		{ts("2024-01-01 00:00:30"), str("b"), datum.NewFloat(3)},
		{ts("2024-01-01 00:01:03"), str("a"), datum.NewFloat(4)},
		{null, str("c"), datum.NewFloat(5)},
	}
	return d
}

// bindSQL parses and binds one statement.
func bindSQL(t *testing.T, d *db, text string) planner.Node {
	t.Helper()
	st, err := sql.ParseOne(text)
	if err != nil {
		t.Fatalf("%s: parse: %v", text, err)
	}
	plan, err := planner.BindStatement(d, st)
	if err != nil {
		t.Fatalf("%s: bind: %v", text, err)
	}
	return plan
}

// querySQL runs text and returns its rows as psql would print them.
func querySQL(t *testing.T, d *db, env *Env, text string) ([]string, error) {
	t.Helper()
	plan := bindSQL(t, d, text)
	rows, err := Run(context.Background(), plan, env)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = pgText(r)
	}
	return out, nil
}

func TestSQL(t *testing.T) {
	cases := []struct {
		sql    string
		want   string // rows separated by ';', columns by spaces
		sorted bool   // compare in order (the query sorts)
		params []datum.Datum
	}{
		{sql: "SELECT a, b FROM l WHERE b > 10", want: "2 20; NULL 30"},
		{sql: "SELECT * FROM l JOIN r ON a = x", want: "2 20 y 2 200 y; 2 NULL y 2 200 y; 3 10 z 3 300 NULL"},
		{sql: "SELECT a, x FROM l LEFT JOIN r ON a = x", want: "1 NULL; 2 2; 2 2; NULL NULL; 3 3"},
		{sql: "SELECT a, x FROM l RIGHT JOIN r ON a = x", want: "2 2; 2 2; 3 3; NULL NULL; NULL 4"},
		{sql: "SELECT a, x FROM l FULL JOIN r ON a = x", want: "1 NULL; 2 2; 2 2; NULL NULL; 3 3; NULL NULL; NULL 4"},
		{sql: "SELECT a, x FROM l FULL JOIN r ON a = x AND b > 15", want: "1 NULL; 2 2; 2 NULL; NULL NULL; 3 NULL; NULL 3; NULL NULL; NULL 4"},
		{sql: "SELECT l.s, count(*) FROM l JOIN r ON l.s = r.s GROUP BY l.s", want: "x 1; y 2"},
		{sql: "SELECT s, count(*), count(b), sum(b), min(b), max(a) FROM l GROUP BY s ORDER BY s", sorted: true,
			want: "x 1 1 10 10 1; y 2 1 20 20 2; z 1 1 10 10 3; NULL 1 1 30 30 NULL"},
		{sql: "SELECT count(*), sum(b) FROM l WHERE a > 10", want: "0 NULL"},
		{sql: "SELECT count(*) FROM l WHERE a > 10 GROUP BY s", want: ""},
		{sql: "SELECT s FROM l GROUP BY s HAVING count(*) > 1", want: "y"},
		{sql: "SELECT DISTINCT s FROM l ORDER BY s DESC", sorted: true, want: "NULL; z; y; x"},
		{sql: "SELECT a FROM l ORDER BY a DESC NULLS LAST", sorted: true, want: "3; 2; 2; 1; NULL"},
		{sql: "SELECT a, b FROM l ORDER BY b, a DESC LIMIT 3", sorted: true, want: "3 10; 1 10; 2 20"},
		{sql: "SELECT a FROM l ORDER BY a LIMIT 2 OFFSET 1", sorted: true, want: "2; 2"},
		{sql: "SELECT a FROM l ORDER BY a NULLS FIRST LIMIT $1 OFFSET $2", sorted: true, want: "1; 2", params: []datum.Datum{i64(2), i64(1)}},
		{sql: "SELECT a FROM l LIMIT ALL", want: "1; 2; 2; NULL; 3"},
		{sql: "SELECT a FROM l UNION SELECT x FROM r", want: "1; 2; 3; 4; NULL"},
		{sql: "SELECT a FROM l UNION ALL SELECT x FROM r", want: "1; 2; 2; NULL; 3; 2; 3; NULL; 4"},
		{sql: "SELECT a FROM l INTERSECT SELECT x FROM r", want: "2; 3; NULL"},
		{sql: "SELECT a FROM l INTERSECT ALL SELECT x FROM r", want: "2; 3; NULL"},
		{sql: "SELECT a FROM l EXCEPT SELECT x FROM r", want: "1"},
		{sql: "SELECT a FROM l EXCEPT ALL SELECT x FROM r", want: "1; 2"},
		{sql: "SELECT a FROM l WHERE a IN (SELECT x FROM r)", want: "2; 2; 3"},
		{sql: "SELECT a FROM l WHERE a NOT IN (SELECT x FROM r)", want: ""},
		{sql: "SELECT a FROM l WHERE a NOT IN (SELECT x FROM r WHERE x IS NOT NULL)", want: "1"},
		{sql: "SELECT a FROM l WHERE EXISTS (SELECT 1 FROM r WHERE y > 300)", want: "1; 2; 2; NULL; 3"},
		{sql: "SELECT a FROM l WHERE EXISTS (SELECT 1 FROM r WHERE y > 1000)", want: ""},
		{sql: "SELECT a, (SELECT max(y) FROM r) AS m FROM l WHERE a = 1", want: "1 400"},
		{sql: "SELECT a FROM l WHERE b = (SELECT min(b) FROM l) ORDER BY a", sorted: true, want: "1; 3"},
		{sql: "WITH c AS (SELECT a, count(*) AS n FROM l GROUP BY a) SELECT c.a, d.n FROM c JOIN c AS d ON c.a = d.a", want: "1 1; 2 2; 3 1"},
		{sql: "SELECT * FROM (SELECT a, b FROM l WHERE b IS NOT NULL) t WHERE a < 3", want: "1 10; 2 20"},
		{sql: "SELECT $1::bigint + 1, $2", want: "42 hi", params: []datum.Datum{i64(41), str("hi")}},
		{sql: "VALUES (1, 'a'), (2, NULL)", want: "1 a; 2 NULL"},
		{sql: "SELECT 1 + 1", want: "2"},
		// Windows over all rows: every pane is complete.
		{sql: "SELECT k, window_start, window_end, count(*), sum(v) FROM TUMBLE(ev, ts, INTERVAL '1' MINUTE) GROUP BY k, window_start, window_end",
			want: "a 2024-01-01 00:00:00 2024-01-01 00:01:00 2 3; b 2024-01-01 00:00:00 2024-01-01 00:01:00 1 3; a 2024-01-01 00:01:00 2024-01-01 00:02:00 1 4"},
		{sql: "SELECT window_start, count(*) FROM HOP(ev, ts, INTERVAL '30' SECOND, INTERVAL '1' MINUTE) GROUP BY window_start, window_end ORDER BY window_start", sorted: true,
			want: "2023-12-31 23:59:30 1; 2024-01-01 00:00:00 3; 2024-01-01 00:00:30 3; 2024-01-01 00:01:00 1"},
		{sql: "SELECT k, ts, window_start FROM TUMBLE(ev, ts, INTERVAL '1' MINUTE) WHERE k = 'b'", want: "b 2024-01-01 00:00:30 2024-01-01 00:00:00"},
		{sql: "SELECT k, TUMBLE_START(ts, INTERVAL '1' MINUTE), count(*), pane_timing(), pane_index() FROM ev GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE), k",
			want: "a 2024-01-01 00:00:00 2 ON_TIME 0; b 2024-01-01 00:00:00 1 ON_TIME 0; a 2024-01-01 00:01:00 1 ON_TIME 0"},
	}
	for _, c := range cases {
		d := sqlDB()
		env := d.env()
		env.Params = c.params
		got, err := querySQL(t, d, env, c.sql)
		if err != nil {
			t.Errorf("%s: %v\n%s", c.sql, err, planner.ExplainLogical(bindSQL(t, d, c.sql)))
			continue
		}
		var want []string
		if c.want != "" {
			for _, r := range strings.Split(c.want, ";") {
				want = append(want, strings.Join(splitCols(strings.TrimSpace(r)), "\t"))
			}
		}
		if !c.sorted {
			slices.Sort(got)
			slices.Sort(want)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s:\n%s\ngot:\n%s\nwant:\n%s", c.sql, planner.ExplainLogical(bindSQL(t, d, c.sql)),
				strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// splitCols splits an expected row at spaces, keeping timestamps
// ("2024-01-01 00:00:00") together.
func splitCols(r string) []string {
	f := strings.Fields(r)
	var out []string
	for i := 0; i < len(f); i++ {
		if i+1 < len(f) && len(f[i]) == 10 && f[i][4] == '-' && f[i][7] == '-' && strings.Count(f[i+1], ":") == 2 {
			out = append(out, f[i]+" "+f[i+1])
			i++
			continue
		}
		out = append(out, f[i])
	}
	return out
}

func TestSQLErrors(t *testing.T) {
	for _, c := range []struct{ sql, code string }{
		{"SELECT a FROM l LIMIT $1", "2201W"},
		{"SELECT a FROM l OFFSET $1", "2201X"},
		{"SELECT (SELECT x FROM r)", "21000"},
		{"SELECT a / 0 FROM l", pgerr.DivisionByZero},
		{"SELECT now()", pgerr.InternalError}, // no clock in Env
	} {
		d := sqlDB()
		env := d.env()
		env.Params = []datum.Datum{i64(-1)}
		_, err := querySQL(t, d, env, c.sql)
		if got := pgerr.Code(err); got != c.code {
			t.Errorf("%s: %v (%s), want %s", c.sql, err, got, c.code)
		}
	}
}

// TestSQLDML checks what the engine gets for INSERT ... SELECT, UPDATE and
// DELETE.
func TestSQLDML(t *testing.T) {
	d := sqlDB()
	d.table("t", "a bigint", "b bigint", "s text")
	ins := bindSQL(t, d, "INSERT INTO t SELECT a, b * 2, s FROM l WHERE a >= 2")
	checkBag(t, "insert", run(t, ins, d.env()), []datum.Row{{i64(2), i64(40), str("y")}, {i64(2), null, str("y")}, {i64(3), i64(20), str("z")}})

	up := bindSQL(t, d, "UPDATE l SET b = b + a, s = 'q' WHERE a = 2")
	u, ok := up.(*planner.Update)
	if !ok {
		t.Fatalf("UPDATE bound to %T", up)
	}
	old, new, err := UpdateRows(context.Background(), u, d.env())
	if err != nil {
		t.Fatal(err)
	}
	checkSeq(t, "update old", old, []datum.Row{{i64(2), i64(20), str("y")}, {i64(2), null, str("y")}})
	checkSeq(t, "update new", new, []datum.Row{{i64(2), i64(22), str("q")}, {i64(2), null, str("q")}})

	del := bindSQL(t, d, "DELETE FROM l WHERE b IS NULL OR s = 'x'")
	checkBag(t, "delete", run(t, del, d.env()), []datum.Row{{i64(1), i64(10), str("x")}, {i64(2), null, str("y")}})
}

// TestSQLBatch covers what only batch queries have: window functions,
// set-returning functions, arrays (as text) and correlated subqueries.
func TestSQLBatch(t *testing.T) {
	cases := []struct {
		sql    string
		want   string
		sorted bool
	}{
		// Window functions.
		{sql: "SELECT a, b, row_number() OVER (PARTITION BY s ORDER BY b) FROM l", want: "1 10 1; 2 20 1; 2 NULL 2; NULL 30 1; 3 10 1"},
		{sql: "SELECT b, rank() OVER (ORDER BY b), dense_rank() OVER (ORDER BY b) FROM l", want: "10 1 1; 10 1 1; 20 3 2; 30 4 3; NULL 5 4"},
		{sql: "SELECT s, b, sum(b) OVER (PARTITION BY s), count(*) OVER () FROM l", want: "x 10 10 5; y 20 20 5; y NULL 20 5; NULL 30 30 5; z 10 10 5"},
		{sql: "SELECT b, sum(b) OVER (ORDER BY b) FROM l", want: "10 20; 10 20; 20 40; 30 70; NULL 70"},
		{sql: "SELECT b, sum(b) OVER (ORDER BY b ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) FROM l", want: "10 10; 10 20; 20 40; 30 70; NULL 70"},
		{sql: "SELECT a, lag(a) OVER (ORDER BY a), lead(a, 1, 0) OVER (ORDER BY a) FROM l WHERE a IS NOT NULL", want: "1 NULL 2; 2 1 2; 2 2 3; 3 2 0"},
		{sql: "SELECT a, ntile(2) OVER (ORDER BY a), cume_dist() OVER (ORDER BY a) FROM l WHERE a IS NOT NULL", want: "1 1 0.25; 2 1 0.75; 2 2 0.75; 3 2 1"},
		{sql: "SELECT a, first_value(b) OVER (PARTITION BY a ORDER BY b), last_value(b) OVER (PARTITION BY a ORDER BY b ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) FROM l WHERE a = 2",
			want: "2 20 NULL; 2 20 NULL"},
		{sql: "SELECT s, count(*), rank() OVER (ORDER BY count(*) DESC) FROM l GROUP BY s", want: "x 1 2; y 2 1; NULL 1 2; z 1 2"},
		{sql: "SELECT a, row_number() OVER (ORDER BY a DESC) AS n FROM l ORDER BY n", sorted: true, want: "NULL 1; 3 2; 2 3; 2 4; 1 5"},
		// Set-returning functions.
		{sql: "SELECT * FROM generate_series(1, 3)", want: "1; 2; 3"},
		{sql: "SELECT g FROM generate_series(5, 1, -2) g", sorted: true, want: "5; 3; 1"},
		{sql: "SELECT a, g FROM l, generate_series(1, a) g WHERE a < 3", want: "1 1; 2 1; 2 2; 2 1; 2 2"},
		{sql: "SELECT unnest(ARRAY[1, 2, 3]), generate_series(1, 2)", want: "1 1; 2 2; 3 NULL"},
		{sql: "SELECT x FROM unnest('{a,b}'::text[]) AS x", want: "a; b"},
		{sql: "SELECT (information_schema._pg_expandarray('{7,8}')).x, (information_schema._pg_expandarray('{7,8}')).n", want: "7 1; 8 2"},
		{sql: "SELECT (s.k).x, (s.k).n FROM (SELECT information_schema._pg_expandarray('5 6') AS k) s", want: "5 1; 6 2"},
		{sql: "SELECT generate_subscripts('{a,b,c}', 1), generate_subscripts('5 6', 1)", want: "1 0; 2 1; 3 NULL"},
		{sql: "SELECT count(*) FROM l, generate_series(1, 3) g WHERE g = a", want: "4"},
		// Arrays.
		{sql: "SELECT (ARRAY[10, 20, 30])[2] + 1, ('{a,b}'::text[])[3], ('5 6'::int2vector)[0], ('[0:1]={5,6}')[1]", want: "21 NULL 5 6"},
		{sql: "SELECT a FROM l WHERE a = ANY ('{1,3}')", want: "1; 3"},
		{sql: "SELECT a FROM l WHERE a <> ALL (ARRAY[1, 2])", want: "3"},
		{sql: "SELECT 1 = ANY ('{NULL,2}'), 2 = ANY ('{NULL,2}'), 1 = ALL ('{}'), 'b' = ANY (ARRAY['a', 'b'])", want: "NULL t t t"},
		{sql: "SELECT array_to_string(ARRAY['a', NULL, 'c'], ',', '*'), array_upper('{1,2,3}', 1), array_lower('[0:1]={5,6}', 1), cardinality('{}')", want: "a,*,c 3 0 0"},
		{sql: `SELECT ARRAY['x,y', 'a"b', NULL, ''], string_to_array('a,b', ',')`, want: `{"x,y","a\"b",NULL,""} {a,b}`},
		{sql: "SELECT ARRAY(SELECT a FROM l WHERE a IS NOT NULL ORDER BY a)", want: "{1,2,2,3}"},
		{sql: "SELECT string_agg(s, '|'), array_agg(a) FROM (SELECT s, a FROM l ORDER BY a) t", want: "x|y|y|z {1,2,2,3,NULL}"},
		{sql: "SELECT row(1, 'a,b', NULL)", want: `(1,"a,b",)`},
		{sql: "SELECT 7 & 3, 7 | 8, 5 # 1, 1 << 4, -16 >> 2, ~5, 1::smallint & 3::smallint", want: "3 15 4 16 -4 -6 1"},
		// Correlated subqueries.
		{sql: "SELECT a, (SELECT count(*) FROM r WHERE r.x = l.a) FROM l", want: "1 0; 2 1; 2 1; NULL 0; 3 1"},
		{sql: "SELECT a FROM l WHERE EXISTS (SELECT 1 FROM r WHERE r.s = l.s)", want: "1; 2; 2"},
		{sql: "SELECT a FROM l WHERE NOT EXISTS (SELECT 1 FROM r WHERE r.s = l.s)", want: "NULL; 3"},
		{sql: "SELECT a FROM l WHERE b IN (SELECT y / 10 FROM r WHERE r.x = l.a)", want: "2"},
		{sql: "SELECT a FROM l WHERE b NOT IN (SELECT y / 10 FROM r WHERE r.x = l.a)", want: "1; NULL; 3"},
		{sql: "SELECT a FROM l WHERE EXISTS (SELECT 1 FROM r WHERE r.x = l.a AND EXISTS (SELECT 1 FROM r r2 WHERE r2.y > l.b * 10))", want: "2; 3"},
		{sql: "SELECT l.a, r.x FROM l JOIN r ON r.x = (SELECT max(x) FROM r r3 WHERE r3.x <= l.a)", want: "2 2; 2 2; 3 3"},
		{sql: "SELECT s, (SELECT count(*) FROM r WHERE r.s = l.s) FROM l GROUP BY s", want: "x 1; y 1; NULL 0; z 0"},
		{sql: "SELECT a, ARRAY(SELECT x FROM r WHERE r.x <= l.a ORDER BY x) FROM l WHERE a IS NOT NULL", want: "1 {}; 2 {2}; 2 {2}; 3 {2,3}"},
		{sql: "SELECT a FROM l WHERE a = (SELECT x FROM (SELECT x FROM r WHERE r.x = l.a) d)", want: "2; 2; 3"},
		// WHERE conditions become join conditions.
		{sql: "SELECT a, x FROM l, r WHERE a = x AND y > 250", want: "3 3"},
		{sql: "SELECT l.a, r.x FROM l LEFT JOIN r ON l.a = r.x AND r.y < 250 WHERE l.b > 5", want: "1 NULL; 2 2; NULL NULL; 3 NULL"},
	}
	for _, c := range cases {
		d := sqlDB()
		got, err := querySQL(t, d, d.env(), c.sql)
		if err != nil {
			t.Errorf("%s: %v", c.sql, err)
			continue
		}
		var want []string
		if c.want != "" {
			for _, r := range strings.Split(c.want, ";") {
				want = append(want, strings.Join(splitCols(strings.TrimSpace(r)), "\t"))
			}
		}
		if !c.sorted {
			slices.Sort(got)
			slices.Sort(want)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s:\n%s\ngot:\n%s\nwant:\n%s", c.sql, planner.ExplainLogical(bindSQL(t, d, c.sql)),
				strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	for _, c := range []struct{ sql, code string }{
		{"SELECT (SELECT x FROM r WHERE r.s IS NOT NULL OR l.a > 0) FROM l", "21000"},
		{"SELECT * FROM generate_series(1, 3, 0)", pgerr.InvalidParameterValue},
		{"SELECT ntile(0) OVER () FROM l", "22014"},
		{"SELECT ('{a,{b}}'::text[])[1]", pgerr.FeatureNotSupported},
	} {
		d := sqlDB()
		_, err := querySQL(t, d, d.env(), c.sql)
		if got := pgerr.Code(err); got != c.code {
			t.Errorf("%s: %v (%s), want %s", c.sql, err, got, c.code)
		}
	}
}

// TestPointLookup checks that a filter fixing a keyed table's primary key
// reads through Env.Lookup, and that other filters scan.
func TestPointLookup(t *testing.T) {
	d := newDB()
	kv := d.table("kv", "k bigint", "v text")
	kv.Table = &catalog.Table{ID: kv.ID, Name: "kv", Columns: kv.Columns, PrimaryKey: []int{0}}
	d.rows["kv"] = []datum.Row{{i64(1), str("one")}, {i64(2), str("two")}}
	lookups := 0
	env := d.env()
	env.Lookup = func(_ context.Context, rel *catalog.Relation, key datum.Row) (datum.Row, bool, error) {
		lookups++
		for _, r := range d.rows[rel.Name] {
			if datum.Compare(r[0], key[0]) == 0 {
				return r, true, nil
			}
		}
		return nil, false, nil
	}
	for _, c := range []struct {
		sql     string
		params  []datum.Datum
		want    string
		lookups int
	}{
		{"SELECT v FROM kv WHERE k = 2", nil, "two", 1},
		{"SELECT v FROM kv WHERE k = $1 AND v = 'one'", []datum.Datum{i64(1)}, "one", 1},
		{"SELECT v FROM kv WHERE k = $1 AND v = 'x'", []datum.Datum{i64(1)}, "", 1},
		{"SELECT v FROM kv WHERE k = 3", nil, "", 1},
		{"SELECT v FROM kv WHERE k > 1", nil, "two", 0},
		{"SELECT v FROM kv WHERE k = 1 OR k = 2", nil, "one; two", 0},
	} {
		lookups, d.scans["kv"] = 0, 0
		env.Params = c.params
		got, err := querySQL(t, d, env, c.sql)
		if err != nil {
			t.Fatalf("%s: %v", c.sql, err)
		}
		slices.Sort(got)
		if strings.Join(got, "; ") != c.want || lookups != c.lookups || (c.lookups > 0) == (d.scans["kv"] > 0) {
			t.Errorf("%s: got %q with %d lookups and %d scans, want %q with %d lookups", c.sql, got, lookups, d.scans["kv"], c.want, c.lookups)
		}
	}
}
