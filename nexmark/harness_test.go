package nexmark

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/weir-sql/weir/connector"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/engine"
)

// queryDir holds the Nexmark queries, one file each.
var queryDir = filepath.Join("..", "testdata", "nexmark")

// stream says which events a run generates: `events` events (all kinds) at
// `rate` events per second of event time (0: the connector's default of
// 10,000,000, one millisecond per 10,000 events).
type stream struct {
	events int64
	rate   int64
}

// querySQL returns query q's file (q0, q1, ...) for stream s.
func querySQL(t testing.TB, q string, s stream) string {
	b, err := os.ReadFile(filepath.Join(queryDir, q+".sql"))
	if err != nil {
		t.Fatal(err)
	}
	opts := fmt.Sprintf("events = '%d'", s.events)
	if s.rate > 0 {
		opts += fmt.Sprintf(", event_rate = '%d'", s.rate)
	}
	text := strings.ReplaceAll(string(b), "events = '${events}'", opts)
	if strings.Contains(strings.ReplaceAll(text, "--param events=", ""), "${") {
		t.Fatalf("%s.sql: unexpanded parameter in %s", q, text)
	}
	return text
}

var sinkRE = regexp.MustCompile(`(?s)CREATE SINK (\w+) \((.*?)\)\s*WITH \(connector = 'blackhole'\);`)

// asTable turns the query's blackhole sink into a table (keyed by pk, if
// given), so the test can read what the job wrote.
func asTable(t testing.TB, text string, pk string) string {
	if !sinkRE.MatchString(text) {
		t.Fatalf("no blackhole sink in %s", text)
	}
	return sinkRE.ReplaceAllStringFunc(text, func(m string) string {
		sub := sinkRE.FindStringSubmatch(m)
		cols := sub[2]
		if pk != "" {
			cols += ", PRIMARY KEY (" + pk + ")"
		}
		return "CREATE TABLE " + sub[1] + " (" + cols + ");"
	})
}

// runOptions tune the engine a query runs on.
type runOptions struct {
	parallelism int
	bundle      int
	// stops closes and reopens the engine that many times while the job
	// runs: it resumes from its last commits.
	stops int
}

// runQuery runs query q over stream s on a fresh in-memory engine, its
// sink turned into a table, to completion, and returns that table's rows
// formatted (see formatRow), sorted.
func runQuery(t testing.TB, q string, s stream, pk string, o runOptions) []string {
	t.Helper()
	opts := engine.Options{FS: vfs.NewMem(), Parallelism: o.parallelism, BundleSize: o.bundle, NoSync: true}
	e, err := engine.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { e.Close() }()
	ss := e.NewSession()
	ctx := context.Background()
	script := asTable(t, querySQL(t, q, s), pk)
	if _, err := ss.Exec(ctx, script); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	for i := 0; i < o.stops; i++ {
		// Stop once the job is some way in (or over).
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			r, err := ss.Exec(ctx, "SELECT state, events_in FROM weir_jobs")
			if err != nil {
				t.Fatal(err)
			}
			if row := r[0].Rows[0]; row[0].Str() != "RUNNING" || row[1].Int() > int64(i+1)*1000 {
				break
			}
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		if e, err = engine.Open(opts); err != nil {
			t.Fatal(err)
		}
		ss = e.NewSession()
		if i == 0 {
			if r, err := ss.Exec(ctx, "SELECT state, events_in FROM weir_jobs"); err == nil {
				t.Logf("%s reopened: %v", q, r[0].Rows)
			}
		}
	}
	if err := e.WaitJob(ctx, "nexmark_"+q); err != nil {
		t.Fatal(err)
	}
	res, err := ss.Exec(ctx, "SELECT state, error FROM weir_jobs")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res[len(res)-1].Rows {
		if r[0].Str() != "DONE" {
			t.Fatalf("%s: job %s: %s", q, r[0].Str(), r[1].Format())
		}
	}
	res, err = ss.Exec(ctx, "SELECT * FROM nexmark_"+q)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range res[len(res)-1].Rows {
		out = append(out, formatRow(r))
	}
	sort.Strings(out)
	return out
}

// formatRow prints a row for comparison: floats with 4 decimals (the
// oracle computes them in another order).
func formatRow(r datum.Row) string {
	parts := make([]string, len(r))
	for i, d := range r {
		switch {
		case d.IsNull():
			parts[i] = "NULL"
		case d.Kind() == datum.KindFloat:
			parts[i] = strconv.FormatFloat(d.Float(), 'f', 4, 64)
		default:
			parts[i] = d.Format()
		}
	}
	return strings.Join(parts, "|")
}

// Generated events, read from the connector as the job reads them.

type person struct {
	id                int64
	name, city, state string
	ts                int64
}

type auction struct {
	id, ts, expires, seller, category int64
}

type bid struct {
	auction, bidder, price, ts int64
}

var (
	personCols = []connector.Column{{Name: "id", Type: datum.TypeInt8}, {Name: "name", Type: datum.TypeVarchar},
		{Name: "city", Type: datum.TypeVarchar}, {Name: "state", Type: datum.TypeVarchar}, {Name: "date_time", Type: datum.TypeTimestamp}}
	auctionCols = []connector.Column{{Name: "id", Type: datum.TypeInt8}, {Name: "date_time", Type: datum.TypeTimestamp},
		{Name: "expires", Type: datum.TypeTimestamp}, {Name: "seller", Type: datum.TypeInt8}, {Name: "category", Type: datum.TypeInt8}}
	bidCols = []connector.Column{{Name: "auction", Type: datum.TypeInt8}, {Name: "bidder", Type: datum.TypeInt8},
		{Name: "price", Type: datum.TypeInt8}, {Name: "date_time", Type: datum.TypeTimestamp}}
)

// generate reads every event of one Nexmark table of stream s.
func generate(t testing.TB, table string, cols []connector.Column, s stream) []datum.Row {
	opts := map[string]string{"table": table, "events": strconv.FormatInt(s.events, 10)}
	if s.rate > 0 {
		opts["event_rate"] = strconv.FormatInt(s.rate, 10)
	}
	src, err := connector.OpenSource(connector.SourceConfig{Name: table, Connector: "nexmark", Options: opts, Schema: cols, TimeCol: -1}, connector.Env{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := src.Open(0, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var rows []datum.Row
	buf := make([]connector.Record, 0, 1024)
	for {
		recs, eof, err := r.Read(buf[:0], 1024)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range recs {
			rows = append(rows, rec.Row.Copy())
		}
		if eof {
			return rows
		}
	}
}

// events holds one stream's generated events.
type events struct {
	persons  []person
	auctions []auction
	bids     []bid
}

func generateAll(t testing.TB, s stream) *events {
	ev := &events{}
	for _, r := range generate(t, "person", personCols, s) {
		ev.persons = append(ev.persons, person{id: r[0].Int(), name: r[1].Str(), city: r[2].Str(), state: r[3].Str(), ts: r[4].Micros()})
	}
	for _, r := range generate(t, "auction", auctionCols, s) {
		ev.auctions = append(ev.auctions, auction{id: r[0].Int(), ts: r[1].Micros(), expires: r[2].Micros(), seller: r[3].Int(), category: r[4].Int()})
	}
	for _, r := range generate(t, "bid", bidCols, s) {
		ev.bids = append(ev.bids, bid{auction: r[0].Int(), bidder: r[1].Int(), price: r[2].Int(), ts: r[3].Micros()})
	}
	return ev
}
