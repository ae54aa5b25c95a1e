package server

import (
	"context"
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func connectPgx(t *testing.T, url string, mode pgx.QueryExecMode) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueryExecMode = mode
	conn, err := pgx.ConnectConfig(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

var pgxModes = []struct {
	name string
	mode pgx.QueryExecMode
}{
	{"cache_statement", pgx.QueryExecModeCacheStatement},
	{"cache_describe", pgx.QueryExecModeCacheDescribe},
	{"describe_exec", pgx.QueryExecModeDescribeExec},
	{"exec", pgx.QueryExecModeExec},
	{"simple_protocol", pgx.QueryExecModeSimpleProtocol},
}

// TestPgxModes runs the same work in each of pgx's query modes: the
// default caches prepared statements and reads binary results, the simple
// protocol interpolates parameters client-side.
func TestPgxModes(t *testing.T) {
	for _, m := range pgxModes {
		for _, backend := range []string{"fake", "engine"} {
			t.Run(m.name+"/"+backend, func(t *testing.T) {
				var ts *testServer
				if backend == "engine" {
					ts, _ = startEngineServer(t, Config{})
				} else {
					ts = startServer(t, Config{})
				}
				ctx := testCtx(t)
				conn := connectPgx(t, ts.url("alice", ""), m.mode)
				if _, err := conn.Exec(ctx, "CREATE TABLE events (id int8, name text, ts timestamptz, amount float8)"); err != nil {
					t.Fatal(err)
				}
				t0 := time.Date(2026, 11, 22, 10, 1, 45, 443455000, time.UTC)
				for i := 1; i <= 3; i++ {
					tag, err := conn.Exec(ctx, "insert into events(id,name,ts,amount) values($1,$2,$3,$4)",
						int64(i), []string{"a", "b", "a"}[i-1], t0.Add(time.Duration(i)*time.Second), 1.5*float64(i))
					if err != nil {
						t.Fatal(err)
					}
					if tag.String() != "INSERT 0 1" {
						t.Fatalf("tag %q", tag)
					}
				}
				rows, err := conn.Query(ctx, "select id, name, ts, amount from events where name = $1", "a")
				if err != nil {
					t.Fatal(err)
				}
				type ev struct {
					id     int64
					name   string
					ts     time.Time
					amount float64
				}
				var got []ev
				for rows.Next() {
					var e ev
					if err := rows.Scan(&e.id, &e.name, &e.ts, &e.amount); err != nil {
						t.Fatal(err)
					}
					got = append(got, e)
				}
				if err := rows.Err(); err != nil {
					t.Fatal(err)
				}
				if len(got) != 2 || got[0].id != 1 || got[1].id != 3 || got[1].amount != 4.5 ||
					!got[1].ts.Equal(t0.Add(3*time.Second)) {
					t.Fatalf("got %+v", got)
				}
				// The same statement again (cached).
				var n int64
				if err := conn.QueryRow(ctx, "select id from events where name = $1", "b").Scan(&n); err != nil || n != 2 {
					t.Fatalf("n=%d err=%v", n, err)
				}
				// Errors carry SQLSTATEs and leave the connection usable.
				_, err = conn.Exec(ctx, "select * from nosuch")
				if pgCode(err) != "42P01" {
					t.Fatalf("want 42P01, got %v", err)
				}
				if err := conn.Ping(ctx); err != nil {
					t.Fatal(err)
				}
				// A transaction.
				tx, err := conn.Begin(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := tx.Exec(ctx, "insert into events(id,name) values($1,$2)", int64(9), "tx"); err != nil {
					t.Fatal(err)
				}
				if err := tx.Commit(ctx); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestPgxTypes round-trips every type Weir has through parameters and
// results, in pgx's binary-preferring default mode and in text.
func TestPgxTypes(t *testing.T) {
	forBackends(t, testPgxTypes)
}

// forBackends runs a test against the fake backend and the real engine.
func forBackends(t *testing.T, f func(t *testing.T, ts *testServer)) {
	t.Run("fake", func(t *testing.T) { f(t, startServer(t, Config{})) })
	t.Run("engine", func(t *testing.T) {
		ts, _ := startEngineServer(t, Config{})
		f(t, ts)
	})
}

func testPgxTypes(t *testing.T, ts *testServer) {
	for _, m := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol} {
		conn := connectPgx(t, ts.url("alice", ""), m)
		ctx := testCtx(t)
		check := func(sql string, arg, dst any, eq func() bool) {
			t.Helper()
			if err := conn.QueryRow(ctx, sql, arg).Scan(dst); err != nil {
				t.Fatalf("mode %v: %s: %v", m, sql, err)
			}
			if !eq() {
				t.Fatalf("mode %v: %s: got %v, sent %v", m, sql, dst, arg)
			}
		}
		var b bool
		check("select $1::bool", true, &b, func() bool { return b })
		var i2 int16
		check("select $1::int2", int16(-7), &i2, func() bool { return i2 == -7 })
		var i4 int32
		check("select $1::int4", int32(1<<30), &i4, func() bool { return i4 == 1<<30 })
		var i8 int64
		check("select $1::int8", int64(math.MinInt64+1), &i8, func() bool { return i8 == math.MinInt64+1 })
		var f4 float32
		check("select $1::float4", float32(0.1), &f4, func() bool { return f4 == 0.1 })
		var f8 float64
		check("select $1::float8", 1e300, &f8, func() bool { return f8 == 1e300 })
		var num pgtype.Numeric
		check("select $1::numeric", pgtype.Numeric{Int: big.NewInt(-12345), Exp: -2, Valid: true}, &num, func() bool {
			f, _ := num.Float64Value()
			return f.Float64 == -123.45
		})
		var s string
		check("select $1::text", "héllo\tworld", &s, func() bool { return s == "héllo\tworld" })
		var vc string
		check("select $1::varchar", "v", &vc, func() bool { return vc == "v" })
		var by []byte
		check("select $1::bytea", []byte{0, 1, 255}, &by, func() bool { return string(by) == "\x00\x01\xff" })
		d0 := time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)
		var d time.Time
		check("select $1::date", d0, &d, func() bool { return d.Equal(d0) })
		t0 := time.Date(1999, 12, 31, 23, 59, 59, 123456000, time.UTC)
		var tt time.Time
		check("select $1::timestamp", t0, &tt, func() bool { return tt.Equal(t0) })
		var tz time.Time
		check("select $1::timestamptz", t0.In(time.FixedZone("x", 3600)), &tz, func() bool { return tz.Equal(t0) })
		var iv pgtype.Interval
		check("select $1::interval", pgtype.Interval{Months: 14, Days: 3, Microseconds: 4_000_500, Valid: true}, &iv, func() bool {
			return iv.Months == 14 && iv.Days == 3 && iv.Microseconds == 4_000_500
		})
		u := [16]byte{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 1, 2, 3, 4, 5, 6, 7, 8}
		var uu pgtype.UUID
		check("select $1::uuid", pgtype.UUID{Bytes: u, Valid: true}, &uu, func() bool { return uu.Bytes == u })
		var js map[string]any
		check("select $1::json", `{"a": 1}`, &js, func() bool { return js["a"] == 1.0 })
		var o uint32
		check("select $1::oid", uint32(4000000000), &o, func() bool { return o == 4000000000 })
		var null *int64
		check("select $1::int8", nil, &null, func() bool { return null == nil })
	}
}

// TestPgxCopyFrom loads rows with pgx's CopyFrom (binary COPY).
func TestPgxCopyFrom(t *testing.T) { forBackends(t, testPgxCopyFrom) }

func testPgxCopyFrom(t *testing.T, ts *testServer) {
	ctx := testCtx(t)
	conn := connectPgx(t, ts.url("alice", ""), pgx.QueryExecModeCacheStatement)
	if _, err := conn.Exec(ctx, "CREATE TABLE events (id int8, name text, ts timestamptz, amount float8)"); err != nil {
		t.Fatal(err)
	}
	const n = 5000
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	src := pgx.CopyFromSlice(n, func(i int) ([]any, error) {
		var name any = "row"
		if i%10 == 0 {
			name = nil
		}
		return []any{int64(i), name, t0.Add(time.Duration(i) * time.Millisecond), float64(i) / 4}, nil
	})
	got, err := conn.CopyFrom(ctx, pgx.Identifier{"events"}, []string{"id", "name", "ts", "amount"}, src)
	if err != nil {
		t.Fatal(err)
	}
	if got != n {
		t.Fatalf("copied %d", got)
	}
	var cnt int
	rows, _ := conn.Query(ctx, "select id, name, ts, amount from events")
	for rows.Next() {
		var id int64
		var name *string
		var ts time.Time
		var amount float64
		if err := rows.Scan(&id, &name, &ts, &amount); err != nil {
			t.Fatal(err)
		}
		if !ts.Equal(t0.Add(time.Duration(id)*time.Millisecond)) || amount != float64(id)/4 || (name == nil) != (id%10 == 0) {
			t.Fatalf("row %d: %v %v %v", id, name, ts, amount)
		}
		cnt++
	}
	if rows.Err() != nil || cnt != n {
		t.Fatalf("read %d rows: %v", cnt, rows.Err())
	}
	// A copy into a missing table fails cleanly.
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"nosuch"}, []string{"id"}, pgx.CopyFromRows([][]any{{1}}))
	if pgCode(err) != "42P01" {
		t.Fatalf("want 42P01, got %v", err)
	}
	if err := conn.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestPgxBatch sends a pipelined batch.
func TestPgxBatch(t *testing.T) { forBackends(t, testPgxBatch) }

func testPgxBatch(t *testing.T, ts *testServer) {
	ctx := testCtx(t)
	conn := connectPgx(t, ts.url("alice", ""), pgx.QueryExecModeCacheStatement)
	if _, err := conn.Exec(ctx, "CREATE TABLE b (x int8)"); err != nil {
		t.Fatal(err)
	}
	b := &pgx.Batch{}
	b.Queue("SELECT 1")
	for i := 0; i < 50; i++ {
		b.Queue("INSERT INTO b VALUES ($1)", int64(i))
	}
	b.Queue("SELECT x FROM b WHERE x = $1", int64(42))
	br := conn.SendBatch(ctx, b)
	for i := 0; i < 51; i++ {
		if _, err := br.Exec(); err != nil {
			t.Fatal(i, err)
		}
	}
	var x int64
	if err := br.QueryRow().Scan(&x); err != nil || x != 42 {
		t.Fatal(x, err)
	}
	if err := br.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestPgxCancel cancels a running statement with a CancelRequest.
func TestPgxCancel(t *testing.T) {
	ts := startServer(t, Config{})
	ctx := testCtx(t)
	conn := connectPgx(t, ts.url("alice", ""), pgx.QueryExecModeCacheStatement)
	errc := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := conn.PgConn().Exec(ctx, "SELECT pg_sleep(30)").ReadAll()
		errc <- err
	}()
	// A cancel that arrives before the statement starts is a no-op (as in
	// PostgreSQL), so cancel until the statement ends, not after a guess.
	var err error
	for done := false; !done; {
		if cerr := conn.PgConn().CancelRequest(ctx); cerr != nil {
			t.Fatal(cerr)
		}
		select {
		case err = <-errc:
			done = true
		case <-time.After(100 * time.Millisecond):
		}
	}
	if pgCode(err) != "57014" || !strings.Contains(err.Error(), "user request") {
		t.Fatalf("want 57014, got %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatal("cancel took too long")
	}
	// The connection goes on.
	if err := conn.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	// statement_timeout cancels too.
	if _, err := conn.Exec(ctx, "SET statement_timeout = 100"); err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, "SELECT pg_sleep(30)")
	if pgCode(err) != "57014" || !strings.Contains(err.Error(), "statement timeout") {
		t.Fatalf("want statement timeout, got %v", err)
	}
}

// TestSCRAM checks password authentication: pgx sends an empty SCRAM user
// name; the startup user is authenticated.
func TestSCRAM(t *testing.T) {
	ts := startServer(t, Config{Password: "s3cret", Users: map[string]string{"bob": "bobpw"}})
	ctx := testCtx(t)
	for _, c := range []struct {
		user, pw string
		ok       bool
	}{
		{"alice", "s3cret", true},
		{"bob", "bobpw", true},
		{"bob", "s3cret", false},
		{"alice", "wrong", false},
		{"alice", "", false},
	} {
		conn, err := pgx.Connect(ctx, ts.url(c.user, c.pw))
		if c.ok {
			if err != nil {
				t.Fatalf("%s/%s: %v", c.user, c.pw, err)
			}
			var who string
			if err := conn.QueryRow(ctx, "SHOW session_authorization").Scan(&who); err != nil || who != c.user {
				t.Fatalf("session_authorization %q %v", who, err)
			}
			conn.Close(ctx)
			continue
		}
		if err == nil {
			conn.Close(ctx)
			t.Fatalf("%s/%s: logged in", c.user, c.pw)
		}
		if c.pw != "" && pgCode(err) != "28P01" {
			t.Fatalf("%s/%s: want 28P01, got %v", c.user, c.pw, err)
		}
	}
	// Only configured users without a shared password.
	ts2 := startServer(t, Config{Users: map[string]string{"bob": "bobpw"}})
	if _, err := pgx.Connect(ctx, ts2.url("carol", "bobpw")); pgCode(err) != "28P01" {
		t.Fatalf("unknown user: %v", err)
	}
}
