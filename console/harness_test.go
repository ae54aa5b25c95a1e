package console

import (
	"context"
	"flag"
	"fmt"
	"math/rand"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/engine"
	"github.com/weir-sql/weir/pgerr"
)

var seedFlag = flag.Int64("seed", 0, "run the console tests with this seed (0: from the clock)")

// testSeed returns the seed of a test and logs how to re-run it.
func testSeed(t testing.TB) int64 {
	seed := *seedFlag
	if seed == 0 {
		seed = time.Now().UnixNano() % 1e9
	}
	t.Logf("seed %d (re-run with -seed %d)", seed, seed)
	return seed
}

// rig is a real engine on disk, a console over it and an HTTP server on
// loopback.
type rig struct {
	t   testing.TB
	e   *engine.Engine
	c   *Console
	srv *httptest.Server
}

func newRig(t testing.TB, cfg Config) *rig {
	t.Helper()
	e, err := engine.Open(engine.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Engine = e
	c := New(cfg)
	srv := httptest.NewServer(c.Handler())
	r := &rig{t: t, e: e, c: c, srv: srv}
	t.Cleanup(func() {
		srv.Close()
		c.Close()
		if err := e.Close(); err != nil {
			t.Errorf("closing the engine: %v", err)
		}
	})
	return r
}

// exec runs SQL on a fresh session and fails the test on error.
func (r *rig) exec(text string) []*engine.Result {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := r.e.NewSession().Exec(ctx, text)
	if err != nil {
		pe := pgerr.Wrap(err)
		r.t.Fatalf("%s\n-> %s %s %s", text, pe.Code, pe.Message, pe.Detail)
	}
	return res
}

// rows runs a query and returns its rows as space-separated text, sorted.
func (r *rig) rows(query string) []string {
	r.t.Helper()
	res := r.exec(query)
	var out []string
	for _, row := range res[len(res)-1].Rows {
		parts := make([]string, len(row))
		for i, d := range row {
			parts[i] = d.Format()
		}
		out = append(out, strings.Join(parts, " "))
	}
	sort.Strings(out)
	return out
}

// one returns the single value of a query.
func (r *rig) one(query string) string {
	r.t.Helper()
	rows := r.rows(query)
	if len(rows) != 1 {
		r.t.Fatalf("%s: %d rows %q, want 1", query, len(rows), rows)
	}
	return rows[0]
}

// The test job: a one-minute TUMBLE count per device, with the pane
// timing, upserted by (window_start, device).
const setupSQL = `
CREATE SOURCE readings (device VARCHAR NOT NULL, temp DOUBLE, ts TIMESTAMP NOT NULL,
                        WATERMARK FOR ts AS ts - INTERVAL '5' SECOND);
CREATE TABLE per_minute (window_start TIMESTAMP, device VARCHAR, n BIGINT, timing VARCHAR,
                         PRIMARY KEY (window_start, device));
CREATE JOB per_minute_job AS
  INSERT INTO per_minute
  SELECT window_start, device, count(*), PANE_TIMING()
  FROM TUMBLE(readings, ts, INTERVAL '1' MINUTE)
  GROUP BY window_start, device;
`

// jobQuery is the job's query, for the update form.
const jobQuery = `INSERT INTO per_minute
  SELECT window_start, device, count(*), PANE_TIMING()
  FROM TUMBLE(readings, ts, INTERVAL '1' MINUTE)
  GROUP BY window_start, device`

// reading is one generated row.
type reading struct {
	device string
	temp   float64
	ts     int64 // micros
}

// t0 is where generated event time starts: 2024-01-01 00:00:00.
const t0 = int64(1704067200) * 1e6

// readings generates rows out of order but never late: each row's time
// is at most 4 s behind the largest so far, under the 5 s watermark delay,
// so no window closes before its rows arrive, whatever the bundling. No
// time falls on a whole second, so a watermark (largest - 5 s) never
// equals a window's end.
type readings struct {
	rng *rand.Rand
	max int64
	all []reading
}

func (g *readings) next(n int) []reading {
	out := make([]reading, n)
	for i := range out {
		var ts int64
		switch {
		case g.max == 0:
			ts = t0 + g.rng.Int63n(10e6)
		case g.rng.Intn(3) == 0:
			ts = g.max - g.rng.Int63n(3e6) // behind, within the delay
		default:
			ts = g.max + g.rng.Int63n(3e6)
		}
		ts = ts/1e6*1e6 + 1000*(1+g.rng.Int63n(998)) // milliseconds, never .000
		if ts > g.max {
			g.max = ts
		}
		out[i] = reading{device: fmt.Sprintf("d%d", g.rng.Intn(4)), temp: float64(g.rng.Intn(1000)) / 10, ts: ts}
	}
	g.all = append(g.all, out...)
	return out
}

// insertSQL is an INSERT of rows into readings.
func insertSQL(rows []reading) string {
	var b strings.Builder
	b.WriteString("INSERT INTO readings VALUES ")
	for i, r := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "('%s', %g, TIMESTAMP '%s')", r.device, r.temp, datum.FormatTimestamp(r.ts))
	}
	return b.String()
}

// watermark is the source watermark after everything generated so far.
func (g *readings) watermark() int64 { return g.max - 5e6 }

// oracle computes per_minute by brute force: every (window, device) count,
// ON_TIME when the watermark wm had passed the window's end before the
// drain, DRAINED otherwise. Rows are formatted as rig.rows prints them.
func (g *readings) oracle(wm int64) []string {
	type key struct {
		start  int64
		device string
	}
	n := map[key]int{}
	for _, r := range g.all {
		off := (r.ts - t0) % 60e6
		if off < 0 {
			off += 60e6 // before t0: the window starts a minute earlier
		}
		start := r.ts - off
		n[key{start, r.device}]++
	}
	var out []string
	for k, c := range n {
		timing := "DRAINED"
		if k.start+60e6 <= wm {
			timing = "ON_TIME"
		}
		out = append(out, fmt.Sprintf("%s %s %d %s", datum.FormatTimestamp(k.start), k.device, c, timing))
	}
	sort.Strings(out)
	return out
}

// waitWatermark waits until the job has processed everything below wm.
func (r *rig) waitWatermark(wm int64) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := r.e.WaitSourceWatermark(ctx, "readings", wm); err != nil {
		r.t.Fatal(err)
	}
}

func newRand(seed int64) *rand.Rand { return rand.New(rand.NewSource(seed)) }

// writeBadCSV writes a CSV file of readings for a file source with
// malformed lines in between (a bad number, a bad timestamp, too few
// fields, a byte that is not UTF-8); it returns the malformed lines.
func writeBadCSV(t testing.TB, rng *rand.Rand, path string) []string {
	var b strings.Builder
	b.WriteString("device,temp,ts\n")
	kinds := []string{"d1,abc,2024-01-01 00:00:01", "d2,1.5,yesterday", "d3,1.5", "d\xff4,x\x01y,2024-01-01 00:00:02"}
	var bad []string
	for i := 0; i < 50+rng.Intn(50); i++ {
		if rng.Intn(8) == 0 || i < 2 {
			l := kinds[rng.Intn(len(kinds))] + strconv.Itoa(len(bad)) // distinct lines
			bad = append(bad, l)
			b.WriteString(l + "\n")
		}
		fmt.Fprintf(&b, "d%d,%d.5,%s\n", rng.Intn(4), rng.Intn(100), datum.FormatTimestamp(t0+int64(i)*1e6))
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return bad
}

// fileJobSQL reads path into a table with a bounded job.
func fileJobSQL(path string) string {
	return fmt.Sprintf(`
CREATE SOURCE file_readings (device VARCHAR, temp DOUBLE, ts TIMESTAMP, WATERMARK FOR ts AS ts)
  WITH (connector = 'file', path = '%s', format = 'csv');
CREATE TABLE file_copy (device VARCHAR, temp DOUBLE, ts TIMESTAMP);
CREATE JOB file_job AS INSERT INTO file_copy SELECT device, temp, ts FROM file_readings;`, path)
}
