package engine

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/executor"
)

// TestJoinOracle checks streaming joins against a brute-force oracle:
// seeded random out-of-order alarms and readings (with a share of very
// late records) are written to two CSV files (bounded file sources, one
// partition each), join jobs written in SQL run to completion, and their
// tables must equal what Go computes from the same records.
//
// The oracle's lateness rule is the executor's: a record is judged against
// its partition's watermark when it is read, max(event time read before it)
// - delay. A join whose condition bounds its state drops, before the
// shuffle, the rows that are late for the event-time columns its bounds
// rely on (LateGateOp): for an interval join, ts < watermark; for a window
// join, window_end <= watermark. A join without a time bound keeps every
// row. Every seed runs with one and with three key ranges and with small
// and large bundles. -seed N re-runs one seed; -stress runs many.
func TestJoinOracle(t *testing.T) {
	n := 2
	if *oracleStress {
		n = 30
	}
	seeds := []int64{*oracleSeed}
	if *oracleSeed == 0 {
		base := time.Now().UnixNano()
		seeds = seeds[:0]
		for i := 0; i < n; i++ {
			seeds = append(seeds, base+int64(i)*104729)
		}
	}
	for _, seed := range seeds {
		runJoinOracle(t, seed)
	}
}

// joRec is one generated record of either source.
type joRec struct {
	id     int64
	device string
	val    int64 // level or rpm
	ts     int64
}

const joDelay = 5_000_000 // both sources: WATERMARK FOR ts AS ts - INTERVAL '5' SECOND

func joGen(rng *rand.Rand, n, devices int, idBase int64) []joRec {
	base := int64(1_700_000_000_000_000)
	recs := make([]joRec, n)
	t := base
	for i := range recs {
		t += rng.Int63n(2_000_000)
		ts := t - rng.Int63n(joDelay*8/10) // disorder within the delay
		if rng.Intn(25) == 0 {
			ts -= joDelay + rng.Int63n(60_000_000) // late
		}
		recs[i] = joRec{id: idBase + int64(i), device: fmt.Sprintf("d%d", rng.Intn(devices)), val: rng.Int63n(100), ts: ts}
	}
	return recs
}

func joWrite(t *testing.T, path string, recs []joRec) {
	var b bytes.Buffer
	b.WriteString("id,device,val,ts\n")
	for _, r := range recs {
		fmt.Fprintf(&b, "%d,%s,%d,%s\n", r.id, r.device, r.val, datum.FormatTimestamp(r.ts))
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// joOnTime returns, per record, the watermark of its partition when it was
// read (file order).
func joWatermarks(recs []joRec) []int64 {
	wms := make([]int64, len(recs))
	maxTS := int64(-1 << 63)
	for i, r := range recs {
		wms[i] = -1 << 63
		if maxTS != -1<<63 {
			wms[i] = maxTS - joDelay
		}
		maxTS = max(maxTS, r.ts)
	}
	return wms
}

func joTS(us int64) string { return datum.FormatTimestamp(us) }

func runJoinOracle(t *testing.T, seed int64) {
	rng := rand.New(rand.NewSource(seed))
	dir := t.TempDir()
	devices := 3 + rng.Intn(10)
	alarms := joGen(rng, 150+rng.Intn(150), devices, 1)
	readings := joGen(rng, 600+rng.Intn(600), devices, 100000)
	joWrite(t, filepath.Join(dir, "alarms.csv"), alarms)
	joWrite(t, filepath.Join(dir, "readings.csv"), readings)
	awm, rwm := joWatermarks(alarms), joWatermarks(readings)
	before := rng.Int63n(60) * 1_000_000 // interval: r.ts in [a.ts - before, a.ts + after]
	after := rng.Int63n(20) * 1_000_000
	window := (10 + rng.Int63n(50)) * 1_000_000

	schema := `
CREATE SOURCE alarms (id BIGINT, device VARCHAR NOT NULL, val BIGINT, ts TIMESTAMP NOT NULL,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH (connector = 'file', path = 'alarms.csv', format = 'csv');
CREATE SOURCE readings (id BIGINT, device VARCHAR NOT NULL, val BIGINT, ts TIMESTAMP NOT NULL,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH (connector = 'file', path = 'readings.csv', format = 'csv');
CREATE TABLE interval_inner (aid BIGINT, rid BIGINT, level BIGINT, rpm BIGINT);
CREATE TABLE interval_left (aid BIGINT, rid BIGINT, level BIGINT, rpm BIGINT);
CREATE TABLE window_inner (aid BIGINT, rid BIGINT, ws TIMESTAMP);
CREATE TABLE regular_inner (aid BIGINT, rid BIGINT);
CREATE TABLE regular_left (aid BIGINT, rid BIGINT, rpm BIGINT, PRIMARY KEY (aid, rid));
CREATE TABLE windowed_after (ws TIMESTAMP PRIMARY KEY, n BIGINT, top BIGINT);
`
	jobs := fmt.Sprintf(`
CREATE JOB j1 AS INSERT INTO interval_inner
  SELECT a.id, r.id, a.val, r.val FROM alarms a JOIN readings r
  ON a.device = r.device AND r.ts BETWEEN a.ts - INTERVAL '%d' SECOND AND a.ts + INTERVAL '%d' SECOND;
CREATE JOB j2 AS INSERT INTO interval_left
  SELECT a.id, r.id, a.val, r.val FROM alarms a LEFT JOIN readings r
  ON a.device = r.device AND r.ts >= a.ts - INTERVAL '%d' SECOND AND r.ts <= a.ts + INTERVAL '%d' SECOND AND r.val > a.val;
CREATE JOB j3 AS INSERT INTO window_inner
  SELECT a.id, r.id, a.window_start
  FROM TUMBLE(alarms, ts, INTERVAL '%d' SECOND) a JOIN TUMBLE(readings, ts, INTERVAL '%d' SECOND) r
  ON a.device = r.device AND a.window_start = r.window_start;
CREATE JOB j4 AS INSERT INTO regular_inner
  SELECT a.id, r.id FROM alarms a, readings r WHERE a.device = r.device AND a.val = r.val;
CREATE JOB j5 AS INSERT INTO regular_left
  SELECT a.id, r.id, r.val FROM alarms a LEFT JOIN readings r ON a.device = r.device AND a.val + 1 = r.val;
CREATE JOB j6 AS INSERT INTO windowed_after
  WITH pairs AS (SELECT a.ts, r.val FROM alarms a JOIN readings r
                 ON a.device = r.device AND r.ts BETWEEN a.ts - INTERVAL '%d' SECOND AND a.ts)
  SELECT window_start, count(*), max(val) FROM TUMBLE(pairs, ts, INTERVAL '%d' SECOND) GROUP BY window_start;
`, before/1_000_000, after/1_000_000, before/1_000_000, after/1_000_000, window/1_000_000, window/1_000_000,
		before/1_000_000, window/1_000_000)

	// The oracle.
	want := map[string][]string{}
	// windowed_after: pairs with r.ts in [a.ts - before, a.ts], counted by
	// the window of a.ts (which the condition keeps on time: a.ts >= r.ts).
	type wagg struct{ n, top int64 }
	wa := map[int64]*wagg{}
	onTime := func(wms []int64, i int, ts int64) bool { return ts >= wms[i] }
	winEnd := func(ts int64) int64 { return floorDivJ(ts, window)*window + window }
	for i, a := range alarms {
		matchedLeft := false
		for j, r := range readings {
			if a.device != r.device {
				continue
			}
			inInterval := r.ts >= a.ts-before && r.ts <= a.ts+after
			if inInterval && onTime(awm, i, a.ts) && onTime(rwm, j, r.ts) {
				want["interval_inner"] = append(want["interval_inner"], fmt.Sprintf("%d %d %d %d", a.id, r.id, a.val, r.val))
				if r.val > a.val {
					want["interval_left"] = append(want["interval_left"], fmt.Sprintf("%d %d %d %d", a.id, r.id, a.val, r.val))
					matchedLeft = true
				}
			}
			if winEnd(a.ts) == winEnd(r.ts) && winEnd(a.ts) > awm[i] && winEnd(r.ts) > rwm[j] {
				want["window_inner"] = append(want["window_inner"], fmt.Sprintf("%d %d %s", a.id, r.id, joTS(winEnd(a.ts)-window)))
			}
			if r.ts >= a.ts-before && r.ts <= a.ts && onTime(awm, i, a.ts) && onTime(rwm, j, r.ts) {
				ws := winEnd(a.ts) - window
				g := wa[ws]
				if g == nil {
					g = &wagg{top: r.val}
					wa[ws] = g
				}
				g.n++
				g.top = max(g.top, r.val)
			}
			if a.val == r.val {
				want["regular_inner"] = append(want["regular_inner"], fmt.Sprintf("%d %d", a.id, r.id))
			}
		}
		if onTime(awm, i, a.ts) && !matchedLeft {
			want["interval_left"] = append(want["interval_left"], fmt.Sprintf("%d NULL %d NULL", a.id, a.val))
		}
		matched := false
		for _, r := range readings {
			if a.device == r.device && a.val+1 == r.val {
				want["regular_left"] = append(want["regular_left"], fmt.Sprintf("%d %d %d", a.id, r.id, r.val))
				matched = true
			}
		}
		if !matched {
			want["regular_left"] = append(want["regular_left"], fmt.Sprintf("%d NULL NULL", a.id))
		}
	}

	t.Logf("seed %d: %d alarms, %d readings; rows: interval %d, left %d, window %d, regular %d, regular left %d", seed,
		len(alarms), len(readings), len(want["interval_inner"]), len(want["interval_left"]), len(want["window_inner"]),
		len(want["regular_inner"]), len(want["regular_left"]))
	for ws, g := range wa {
		want["windowed_after"] = append(want["windowed_after"], fmt.Sprintf("%s %d %d", joTS(ws), g.n, g.top))
	}
	jobNames := []string{"j1", "j2", "j3", "j4", "j5", "j6"}
	for _, cfg := range []struct {
		par, bundle, stops int
		chaos              bool
	}{{1, 37, 0, false}, {3, 1000, 0, false}, {2, 11, 2, false}, {2, 13, 1, true}} {
		opts := Options{FS: vfs.NewMem(), BaseDir: dir, Parallelism: cfg.par, BundleSize: cfg.bundle, NoSync: true}
		if cfg.chaos {
			// Random splits, merges and moves of the joins' key ranges
			// while they run (source partitions stay whole: late drops
			// are compared with an oracle of the whole partitions).
			opts.Scale = executor.ScaleConfig{Chaos: true, ChaosSeed: seed, Interval: time.Millisecond, ChaosKeepSources: true}
		}
		e, err := Open(opts)
		if err != nil {
			t.Fatal(err)
		}
		s := e.NewSession()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		if _, err := s.Exec(ctx, schema+jobs); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		// Stop and reopen mid-stream: the joins resume from their
		// committed state.
		for stop := 0; stop < cfg.stops; stop++ {
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			if e, err = Open(opts); err != nil {
				t.Fatal(err)
			}
			s = e.NewSession()
			if stop == 0 {
				t.Logf("reopened: %q", joRows(t, s, "SELECT name, state, events_in FROM weir_jobs"))
			}
		}
		for _, j := range jobNames {
			if err := e.WaitJob(ctx, j); err != nil {
				t.Fatalf("seed %d: waiting for %s: %v", seed, j, err)
			}
		}
		cancel()
		if res := joRows(t, s, "SELECT name, state FROM weir_jobs WHERE state <> 'DONE'"); len(res) > 0 {
			t.Fatalf("seed %d: jobs not done: %q", seed, res)
		}
		for _, tbl := range []string{"interval_inner", "interval_left", "window_inner", "regular_inner", "regular_left", "windowed_after"} {
			got := joRows(t, s, "SELECT * FROM "+tbl)
			exp := append([]string(nil), want[tbl]...)
			sort.Strings(exp)
			if strings.Join(got, "\n") != strings.Join(exp, "\n") {
				t.Fatalf("seed %d, parallelism %d, bundle %d: %s: %d rows, want %d\n%s", seed, cfg.par, cfg.bundle, tbl,
					len(got), len(exp), joDiff(got, exp))
			}
		}
		e.Close()
	}
}

func floorDivJ(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func joRows(t testing.TB, s *Session, query string) []string {
	t.Helper()
	res, err := s.Exec(context.Background(), query)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range res[len(res)-1].Rows {
		parts := make([]string, len(r))
		for i, d := range r {
			if d.IsNull() {
				parts[i] = "NULL"
			} else {
				parts[i] = d.Format()
			}
		}
		out = append(out, strings.Join(parts, " "))
	}
	sort.Strings(out)
	return out
}

func joDiff(got, want []string) string {
	n := map[string]int{}
	for _, r := range want {
		n[r]++
	}
	for _, r := range got {
		n[r]--
	}
	var b strings.Builder
	k := 0
	keys := make([]string, 0, len(n))
	for r := range n {
		keys = append(keys, r)
	}
	sort.Strings(keys)
	for _, r := range keys {
		if c := n[r]; c != 0 && k < 10 {
			fmt.Fprintf(&b, "  %+d  %s\n", -c, r)
			k++
		}
	}
	return b.String()
}

// TestJoinStateExpires checks that a bounded join forgets its rows once
// the watermark passes them: its state (weir_operators.state_bytes) grows
// while rows wait for matches and returns to zero after the watermark
// moves past every bound, and the store holds none of its keys.
func TestJoinStateExpires(t *testing.T) {
	e, err := Open(Options{FS: vfs.NewMem(), Parallelism: 2, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s := e.NewSession()
	ctx := context.Background()
	if _, err := s.Exec(ctx, `
CREATE SOURCE alarms (device VARCHAR NOT NULL, level INT, ts TIMESTAMP NOT NULL, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND);
CREATE SOURCE readings (device VARCHAR NOT NULL, rpm BIGINT, ts TIMESTAMP NOT NULL, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND);
CREATE TABLE joined (device VARCHAR, level INT, rpm BIGINT, ts TIMESTAMP);
CREATE JOB j AS INSERT INTO joined
  SELECT a.device, a.level, r.rpm, r.ts FROM alarms a JOIN readings r
  ON a.device = r.device AND r.ts BETWEEN a.ts - INTERVAL '1' MINUTE AND a.ts;
`); err != nil {
		t.Fatal(err)
	}
	var vals []string
	for i := 0; i < 200; i++ {
		vals = append(vals, fmt.Sprintf("('d%d', %d, TIMESTAMP '2024-01-01 00:00:00' + INTERVAL '%d' SECOND)", i%7, i, i))
	}
	if _, err := s.Exec(ctx, "INSERT INTO readings VALUES "+strings.Join(vals, ", ")+";"+
		"INSERT INTO alarms VALUES ('d1', 1, TIMESTAMP '2024-01-01 00:01:00'), ('d2', 2, TIMESTAMP '2024-01-01 00:02:00')"); err != nil {
		t.Fatal(err)
	}
	ts := func(s string) int64 {
		d, err := datum.Parse(datum.TypeTimestamp, s)
		if err != nil {
			t.Fatal(err)
		}
		return d.Micros()
	}
	advance := func(at string) {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		for _, src := range []string{"alarms", "readings"} {
			if err := e.AdvanceWatermark(src, ts(at)); err != nil {
				t.Fatal(err)
			}
		}
		for _, src := range []string{"alarms", "readings"} {
			if err := e.WaitSourceWatermark(wctx, src, ts(at)); err != nil {
				t.Fatal(err)
			}
		}
	}
	stateBytes := func() int64 {
		rows := joRows(t, s, "SELECT state_bytes FROM weir_operators WHERE job = 'j' AND operator = 'join_device'")
		if len(rows) != 1 {
			t.Fatalf("weir_operators: %q", rows)
		}
		var n int64
		fmt.Sscan(rows[0], &n)
		return n
	}
	advance("2024-01-01 00:00:30")
	if n := stateBytes(); n == 0 {
		t.Fatal("the join keeps no state while its rows can still match")
	}
	if got := joRows(t, s, "SELECT count(*) FROM joined"); got[0] != "61" { // d1: r.ts in [0:00, 1:00], d2: [1:00, 2:00]
		t.Logf("joined so far: %s", got[0])
	}
	advance("2024-01-01 01:00:00")
	if n := stateBytes(); n != 0 {
		t.Fatalf("state_bytes = %d after the watermark passed every row's bound", n)
	}
	keys := 0
	if err := e.Store().Scan([]byte{'s'}, []byte{'t'}, func(k, v []byte) error {
		if bytes.Contains(k, []byte("join_device")) {
			keys++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if keys != 0 {
		t.Fatalf("%d join state keys left in the store", keys)
	}
	// d1 matches readings 0..60 s with device d1 (i%7 == 1), d2 those of
	// 60..120 s with device d2.
	want := 0
	for i := 0; i < 200; i++ {
		if (i%7 == 1 && i <= 60) || (i%7 == 2 && i >= 60 && i <= 120) {
			want++
		}
	}
	if got := joRows(t, s, "SELECT count(*) FROM joined"); got[0] != fmt.Sprint(want) {
		t.Fatalf("joined %s rows, want %d", got[0], want)
	}
}
