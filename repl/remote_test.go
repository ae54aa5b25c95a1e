package repl

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/engine"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/server"
)

func TestTextDatum(t *testing.T) {
	cases := []struct {
		oid  uint32
		text string
		want datum.Datum
	}{
		{20, "42", datum.NewInt(42)},
		{23, "-7", datum.NewInt(-7)},
		{701, "1.5", datum.NewFloat(1.5)},
		{16, "t", datum.NewBool(true)},
		{16, "f", datum.NewBool(false)},
		{25, "héllo", datum.NewString("héllo")},
		{1043, "", datum.NewString("")},
		{17, `\x0102ff`, datum.NewBytes([]byte{1, 2, 0xff})},
		{1114, "2024-01-02 03:04:05.5", datum.NewTimestamp(time.Date(2024, 1, 2, 3, 4, 5, 5e8, time.UTC).UnixMicro())},
		{1082, "2024-01-02", datum.NewDate(time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC).Unix() / 86400)},
		{1186, "00:01:00", datum.NewInterval(0, 60e6)},
		// Text that would not survive the round trip is kept as sent.
		{1700, "1.50", datum.NewString("1.50")},
		{1184, "2024-01-02 03:04:05+00", datum.NewString("2024-01-02 03:04:05+00")},
		{1186, "1 minute", datum.NewString("1 minute")},
		// Types Weir does not know (point) stay text.
		{600, "(1,2)", datum.NewString("(1,2)")},
	}
	for _, c := range cases {
		got := textDatum(c.oid, []byte(c.text))
		if got.Kind() != c.want.Kind() || datum.Compare(got, c.want) != 0 {
			t.Errorf("oid %d %q: got %v (%s), want %v (%s)", c.oid, c.text, got, got.Kind(), c.want, c.want.Kind())
		}
	}
	if d := textDatum(23, nil); !d.IsNull() {
		t.Errorf("nil is %v, want NULL", d)
	}
	if got := columnType(600); got != datum.TypeText {
		t.Errorf("unknown oid column type %s", got)
	}
}

func TestByteOffset(t *testing.T) {
	text := "SELECT 'é', x"
	// Character 13 is "x"; it starts at byte 14.
	if got := byteOffset(text, 13); got != 14 {
		t.Errorf("byteOffset = %d, want 14", got)
	}
	if got := byteOffset(text, 0); got != 0 {
		t.Errorf("byteOffset(0) = %d", got)
	}
	if got := byteOffset(text, 99); got != len(text)+1 {
		t.Errorf("byteOffset past the end = %d", got)
	}
}

// serve runs a Weir server for backend on a loopback port and returns a
// connection URL for it.
func serve(t *testing.T, backend server.Backend) string {
	t.Helper()
	srv := server.New(server.Config{Backend: backend})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return "postgres://weir@" + ln.Addr().String() + "/weir?sslmode=disable"
}

func openEngine(t *testing.T) *engine.Engine {
	t.Helper()
	e, err := engine.Open(engine.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// fakeBackend gives every connection the same fake session.
type fakeBackend struct{ f *fakeSession }

func (b fakeBackend) NewSession(string, string) engine.SessionAPI { return b.f }

// TestRemoteTypes reads values of every type through a Weir server and
// checks that they arrive as the datums the embedded engine returns.
func TestRemoteTypes(t *testing.T) {
	e := openEngine(t)
	ctx := context.Background()
	r, err := Connect(ctx, serve(t, server.EngineBackend(e)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	setup := `CREATE TABLE t (i INT, b BIGINT, d DOUBLE, s VARCHAR, ok BOOLEAN, ts TIMESTAMP, day DATE, iv INTERVAL, raw BYTEA, PRIMARY KEY (i));
INSERT INTO t VALUES (1, 9000000000, 1.5, 'é', true, TIMESTAMP '2024-01-02 03:04:05.5', DATE '2024-01-02', INTERVAL '1' MINUTE, '\x01ff'),
                     (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`
	results, err := r.Exec(ctx, setup)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 || results[0].Tag != "CREATE TABLE" || results[1].Tag != "INSERT 0 2" {
		t.Fatalf("setup results: %+v", results)
	}
	const q = "SELECT * FROM t ORDER BY i"
	remote, err := r.Exec(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	local, err := e.NewSession().Exec(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	got, want := remote[0], local[0]
	if len(got.Columns) != len(want.Columns) {
		t.Fatalf("columns %v, want %v", got.Columns, want.Columns)
	}
	for i := range want.Columns {
		if got.Columns[i] != want.Columns[i] {
			t.Errorf("column %d: %v, want %v", i, got.Columns[i], want.Columns[i])
		}
	}
	if len(got.Rows) != len(want.Rows) {
		t.Fatalf("rows %v, want %v", got.Rows, want.Rows)
	}
	for i := range want.Rows {
		for j := range want.Rows[i] {
			g, w := got.Rows[i][j], want.Rows[i][j]
			if g.Kind() != w.Kind() || datum.Compare(g, w) != 0 {
				t.Errorf("row %d column %s: %v (%s), want %v (%s)", i, want.Columns[j].Name, g, g.Kind(), w, w.Kind())
			}
		}
	}
	if got.Tag != "SELECT 2" {
		t.Errorf("tag %q", got.Tag)
	}

	// An error carries its SQLSTATE and a byte offset into the text (the
	// protocol counts characters).
	text := "SELECT 'é', * FROM nosuch"
	_, err = r.Exec(ctx, text)
	pe := pgerr.Wrap(err)
	if pe.Code != pgerr.UndefinedTable || pe.Pos != strings.Index(text, "nosuch")+1 {
		t.Errorf("error %s at %d (%v), want 42P01 at %d", pe.Code, pe.Pos, err, strings.Index(text, "nosuch")+1)
	}
	// The connection stays usable.
	if res, err := r.Exec(ctx, "SELECT 1 AS one"); err != nil {
		t.Errorf("after an error: %v", err)
	} else if len(res) != 1 || len(res[0].Rows) != 1 {
		t.Errorf("after an error: %+v", res)
	}
}

// TestRemoteNoticesAndCancel uses a fake session behind a real server:
// notices arrive with their result, and canceling the context of a running
// statement cancels it on the server without losing the connection.
func TestRemoteNoticesAndCancel(t *testing.T) {
	f := newFakeSession()
	blocked := make(chan struct{}, 1)
	f.onBlock = func() { blocked <- struct{}{} }
	ctx := context.Background()
	r, err := Connect(ctx, serve(t, fakeBackend{f}))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	res, err := r.Exec(ctx, "SELECT notice('hi there')")
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || len(res[0].Notices) != 1 || res[0].Notices[0] != "hi there" {
		t.Fatalf("notices: %+v", res)
	}

	cctx, cancel := context.WithCancel(ctx)
	go func() {
		<-blocked
		cancel()
	}()
	_, err = r.Exec(cctx, "SELECT pg_sleep_forever()")
	if pgerr.Code(err) != pgerr.QueryCanceled {
		t.Fatalf("canceled statement: %v (%s)", err, pgerr.Code(err))
	}
	conn := r.conn
	res, err = r.Exec(ctx, "SELECT 5")
	if err != nil || len(res) != 1 || res[0].Rows[0][0].Int() != 5 {
		t.Fatalf("after cancel: %+v, %v", res, err)
	}
	if r.conn != conn {
		t.Errorf("the connection was replaced; a cancel request should have kept it")
	}
}

// TestBothModes runs one script on an embedded session and through a
// server with --connect: the shell prints the same.
func TestBothModes(t *testing.T) {
	script := `CREATE TABLE t (k VARCHAR, n BIGINT, x DOUBLE, PRIMARY KEY (k));
INSERT INTO t VALUES ('a', 1, 0.5), ('b', NULL, NULL);
SELECT * FROM t ORDER BY k;
CREATE SOURCE s (k VARCHAR, ts TIMESTAMP NOT NULL, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND);
\d
\d t
\d s
\x
SELECT k, n FROM t ORDER BY k;
\x
\pset null ∅
SELECT n FROM t ORDER BY k;
SELECT *
  FROM nosuch;
`
	run := func(cfg Config) string {
		var out bytes.Buffer
		cfg.In, cfg.Out, cfg.Err = strings.NewReader(script), &out, &out
		if err := Run(context.Background(), cfg); err != ErrStopped {
			t.Errorf("Run: %v, want ErrStopped", err)
		}
		return out.String()
	}
	embedded := run(Config{Session: openEngine(t).NewSession()})
	remote := run(Config{ConnectURL: serve(t, server.EngineBackend(openEngine(t)))})
	if embedded != remote {
		t.Errorf("embedded:\n%s\nremote:\n%s", embedded, remote)
	}
	for _, want := range []string{"(2 rows)", `Table "t"`, "Watermark: FOR ts AS ts - INTERVAL '1' SECOND", "-[ RECORD 2 ]", " ∅\n",
		"<stdin>:14: ERROR:  42P01: relation \"nosuch\" does not exist\nLINE 2:   FROM nosuch;\n               ^\n"} {
		if !strings.Contains(embedded, want) {
			t.Errorf("output lacks %q:\n%s", want, embedded)
		}
	}
}
