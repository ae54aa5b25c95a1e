package query

import (
	"context"
	"slices"
	"strings"
	"testing"

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
