package server

import (
	"encoding/json"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/weir-sql/weir/engine"
	"github.com/weir-sql/weir/pgcatalog"
)

// End-to-end tests against the real engine with the pg_catalog tables
// registered, as `weir serve` runs it.

func startEngineServer(t *testing.T, cfg Config) (*testServer, *engine.Engine) {
	t.Helper()
	e, err := engine.Open(engine.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	pgcatalog.Register(e)
	cfg.Backend = EngineBackend(e)
	ts := startServer(t, cfg)
	// Cleanups run last-in first-out: the server stops before the engine.
	t.Cleanup(func() { e.Close() })
	return ts, e
}

// clientQuery is an entry of shared/pg-clients/queries.json.
type clientQuery struct {
	Client string `json:"client"`
	SQL    string `json:"sql"`
}

func loadClientQueries(t *testing.T) []clientQuery {
	path := os.Getenv("WEIR_PG_CLIENTS_QUERIES")
	if path == "" {
		for _, p := range []string{"../../shared/pg-clients/queries.json", "../shared/pg-clients/queries.json", "/work/shared/pg-clients/queries.json"} {
			if _, err := os.Stat(p); err == nil {
				path = p
				break
			}
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("queries.json not found (set WEIR_PG_CLIENTS_QUERIES): %v", err)
	}
	var qs []clientQuery
	if err := json.Unmarshal(b, &qs); err != nil {
		t.Fatal(err)
	}
	return qs
}

var paramRe = regexp.MustCompile(`\$(\d+)`)

// TestClientQueries runs every statement real clients sent to PostgreSQL
// (shared/pg-clients/queries.json) against Weir with its pg_catalog, with
// a table events of the shape the clients used.
func TestClientQueries(t *testing.T) {
	ts, e := startEngineServer(t, Config{})
	ctx := testCtx(t)
	conn := connectPgx(t, ts.url("weir", ""), 0)
	if _, err := conn.Exec(ctx, "CREATE TABLE events (id BIGINT, name VARCHAR, ts TIMESTAMP, amount DOUBLE, PRIMARY KEY (id))"); err != nil {
		t.Fatal(err)
	}
	tbl, err := e.Catalog().GetTable("events")
	if err != nil {
		t.Fatal(err)
	}
	oid := strconv.Itoa(int(pgcatalog.RelationOID(tbl.ID)))
	var failed []string
	for i, q := range loadClientQueries(t) {
		text := strings.ReplaceAll(q.SQL, "16384", oid)
		n := 0
		for _, m := range paramRe.FindAllStringSubmatch(text, -1) {
			if k, _ := strconv.Atoi(m[1]); k > n {
				n = k
			}
		}
		var err error
		var rows [][][]byte // the last result's rows (simple protocol)
		if strings.HasPrefix(strings.ToLower(text), "copy ") {
			// An empty binary COPY: the signature and the trailer.
			data := copyBinarySignature + "\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff"
			_, err = conn.PgConn().CopyFrom(ctx, strings.NewReader(data), text)
		} else if n == 0 {
			var results []*pgconn.Result
			results, err = conn.PgConn().Exec(ctx, text).ReadAll()
			if len(results) > 0 {
				rows = results[len(results)-1].Rows
			}
		} else {
			params := make([][]byte, n)
			for i := range params {
				params[i] = []byte(clientParam(text, i+1))
			}
			res := conn.PgConn().ExecParams(ctx, text, params, nil, nil, nil).Read()
			err = res.Err
		}
		if want, ok := clientResults[i]; ok && err == nil {
			var got []string
			for _, r := range rows {
				var cells []string
				for _, c := range r {
					cells = append(cells, string(c))
				}
				got = append(got, strings.Join(cells, "|"))
			}
			if g := strings.Join(got, "\n"); g != want {
				failed = append(failed, strconv.Itoa(i)+" "+q.Client+": "+firstLine(text)+"\n    -> got:\n"+g+"\n    want:\n"+want)
			}
		}
		known, isKnown := knownUnsupported[i]
		switch {
		case err != nil && !isKnown:
			failed = append(failed, strconv.Itoa(i)+" "+q.Client+": "+firstLine(text)+"\n    -> "+err.Error())
		case err != nil:
			t.Logf("query %d (%s) still fails as expected (%s): %v", i, q.Client, known, err)
		case isKnown:
			t.Logf("query %d (%s) now works: remove it from knownUnsupported", i, q.Client)
		}
	}
	if len(failed) > 0 {
		t.Errorf("%d client queries failed:\n%s", len(failed), strings.Join(failed, "\n"))
	}
}

// knownUnsupported lists the queries of queries.json (by index) that need
// SQL the engine does not support yet, with the reason; each is logged,
// and one that starts working is reported so that it can be taken off the
// list. Every query runs today: keep it empty.
var knownUnsupported = map[int]string{}

// clientResults are the expected rows (cells joined by |, rows by
// newlines) of metadata queries whose answer matters to their client: the
// columns, the primary key and the index of events (id BIGINT PRIMARY KEY,
// name, ts, amount).
var clientResults = map[int]string{
	11: "|public|events|id|1|events_pkey",
	14: "|public|events|f||events_pkey|3|1|id|A|-1|0|",
	62: "id",
}

// clientParam picks a text value for $i that fits how the query uses it.
func clientParam(text string, i int) string {
	p := "$" + strconv.Itoa(i)
	switch {
	case strings.Contains(text, "ts < "+p):
		return "2026-11-22 10:01:45"
	case strings.Contains(text, "name = "+p), strings.Contains(text, p+"::text"), strings.Contains(text, p+","+"$") && i == 2:
		return "a"
	}
	if strings.Contains(text, "values($1,$2,$3,$4)") {
		return []string{"", "100", "a", "2026-11-22 10:01:45", "1.5"}[i]
	}
	return "1"
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " ..."
	}
	if len(s) > 100 {
		s = s[:100] + "..."
	}
	return s
}
