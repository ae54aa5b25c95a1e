package engine

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/executor"
)

// Tests of key-range autoscaling seen from SQL (executor/scaler.go,
// executor/ranges.go): a skewed load makes the autoscaler add workers and
// split the keyed stage's ranges across them, idleness shrinks the job back
// to min_workers and merges the ranges, and the output equals an oracle
// computed from exactly the rows fed. weir_key_ranges and EXPLAIN JOB show
// the live units.

const (
	asRowsCap     = 5_000_000       // the most rows the feeder sends before giving up
	asBatch       = 2_000           // rows per log append
	asFeeders     = 3               // goroutines appending
	asAhead       = 1_000_000       // the most rows the feeders run ahead of the job
	asPrefill     = 1_000_000       // rows in the source before the job starts
	asSustain     = 1_000_000       // rows fed after the job scaled out
	asSustainTime = 3 * time.Second // at most this long
	asStepUS      = 100             // event time between consecutive rows (10,000 rows per second)
	asDisorder    = 500_000         // event times go back by up to 0.5 s (the watermark delay is 2 s)
	asDevices     = 500             // cold devices; one hot device carries half the rows
	asWaitLimit   = 60 * time.Second
)

var asBase = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()

type asKey struct {
	window int64
	device string
}

type asAgg struct{ n, s int64 }

// asFeeder appends a skewed stream to a log source from asFeeders
// goroutines. The stream is cut into blocks of asBatch rows; block k's rows
// are a function of the seed and k alone (asBlock), and blocks enter the
// log in order k = 0, 1, ... (each feeder reserves a block, generates it,
// waits for its turn to reserve its log offsets, then commits in parallel
// with the others), so event times increase along the log with a disorder
// below the watermark delay, and the oracle is recomputed from the seed and
// the number of blocks fed.
type asFeeder struct {
	e     *Engine
	rj    *executor.Job
	srcID uint64
	seed  int64
	stop  chan struct{}
	done  chan struct{}
	limit atomic.Int64 // the feeders stop after this many rows
	next  atomic.Int64 // the next block to generate
	fed   atomic.Int64 // rows committed
	mu    sync.Mutex
	cond  *sync.Cond
	turn  int64 // the next block to take log offsets (under mu)
	err   error // the first error (under mu)
}

var asDeviceNames = func() []string {
	out := make([]string, asDevices)
	for i := range out {
		out[i] = fmt.Sprintf("d%03d", i)
	}
	return out
}()

// asBlock generates block k of the stream: rows asBatch*k onwards, half of
// them device 'hot', the rest one of asDevices cold devices.
func asBlock(seed, k int64) []datum.Row {
	rng := rand.New(rand.NewSource(seed*1_000_003 + k))
	rows := make([]datum.Row, asBatch)
	for r := range rows {
		i := k*asBatch + int64(r)
		dev := "hot"
		if rng.Intn(2) == 1 {
			dev = asDeviceNames[rng.Intn(asDevices)]
		}
		ts := max(asBase+i*asStepUS-rng.Int63n(asDisorder), asBase)
		rows[r] = datum.Row{datum.NewString(dev), datum.NewInt(rng.Int63n(1000)), datum.NewTimestamp(ts)}
	}
	return rows
}

// start starts the feeders; they stop after limit rows (f.done closes).
func (f *asFeeder) start(ctx context.Context, limit int64) {
	if f.cond == nil {
		f.cond = sync.NewCond(&f.mu)
	}
	f.limit.Store(limit)
	done := make(chan struct{})
	f.done = done
	var wg sync.WaitGroup
	for g := 0; g < asFeeders; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f.feed(ctx); err != nil {
				f.mu.Lock()
				if f.err == nil {
					f.err = err
				}
				f.turn = math.MaxInt64 // release the others
				f.cond.Broadcast()
				f.mu.Unlock()
			}
		}()
	}
	go func() {
		wg.Wait()
		close(done)
	}()
}

func (f *asFeeder) stopped() bool {
	select {
	case <-f.stop:
		return true
	default:
		return false
	}
}

func (f *asFeeder) feed(ctx context.Context) error {
	for {
		// As fast as the job takes it: at most asAhead rows ahead of what
		// the source stage has read and committed.
		if rj := f.rj; rj != nil {
			target := f.next.Load()*asBatch - asAhead
			if ok, err := rj.WaitFor(ctx, func() bool { return f.stopped() || rj.Status().EventsIn >= target }); !ok || err != nil {
				return fmt.Errorf("feeder: waiting for the job to catch up: %v (job ended: %v)", err, !ok)
			}
		}
		if f.stopped() {
			return nil
		}
		// Reserve a block, unless the limit is reached.
		k := f.next.Load()
		if (k+1)*asBatch > f.limit.Load() {
			return nil
		}
		if !f.next.CompareAndSwap(k, k+1) {
			continue
		}
		rows := asBlock(f.seed, k)
		b := f.e.store.NewBatch()
		f.mu.Lock()
		for f.turn != k && f.turn != math.MaxInt64 {
			f.cond.Wait()
		}
		if f.turn == math.MaxInt64 {
			f.mu.Unlock()
			return nil // another feeder failed
		}
		first, commit := f.e.logs.AppendBatch(b, f.srcID, rows)
		f.turn++
		f.cond.Broadcast()
		f.mu.Unlock()
		if err := f.e.store.Commit(b); err != nil {
			f.e.logs.Abandon(f.srcID, first)
			return err
		}
		commit()
		f.fed.Add(asBatch)
	}
}

// oracle computes the job's expected output from the blocks fed, and the
// greatest event time among them.
func (f *asFeeder) oracle() (map[asKey]asAgg, int64) {
	out := map[asKey]asAgg{}
	var maxTS int64
	for k := int64(0); k < f.next.Load(); k++ {
		for _, r := range asBlock(f.seed, k) {
			ts := r[2].Micros()
			key := asKey{ts - (ts-asBase)%1_000_000, r[0].Str()}
			a := out[key]
			a.n++
			a.s += r[1].Int()
			out[key] = a
			maxTS = max(maxTS, ts)
		}
	}
	return out, maxTS
}

// asKeyed returns the live units of the job's keyed stage (the one whose
// units are key ranges) and the distinct workers owning them.
func asKeyed(st executor.Status) (ranges []executor.RangeStatus, workers map[int]bool) {
	workers = map[int]bool{}
	for _, ss := range st.Stages {
		if ss.Buckets <= 1 {
			continue
		}
		for _, r := range ss.Ranges {
			if r.Partition < 0 && !r.Done {
				ranges = append(ranges, r)
				workers[r.Worker] = true
			}
		}
	}
	return ranges, workers
}

func asDescribe(st executor.Status) string {
	var b strings.Builder
	fmt.Fprintf(&b, "state %s, workers %d (busy %v), reconfigurations %d, events in %d, out %d, late %d\n",
		st.State, st.Workers, st.WorkerBusy, st.Reconfigurations, st.EventsIn, st.EventsOut, st.LateDropped)
	for _, ss := range st.Stages {
		fmt.Fprintf(&b, "  stage %s (buckets %d)\n", ss.Name, ss.Buckets)
		for _, r := range ss.Ranges {
			fmt.Fprintf(&b, "    unit %d buckets %v part %d worker %d events %d rate %d/s busy %v backlog %d hot %v done %v\n",
				r.Unit, r.Buckets, r.Partition, r.Worker, r.Events, r.Rate, r.Busy.Round(time.Millisecond), r.Backlog, r.Hot, r.Done)
		}
	}
	return b.String()
}

func asHistory(rj *executor.Job) string {
	h := rj.ScaleHistory()
	var b strings.Builder
	b.WriteString("  since start  workers  reason\n")
	for _, ev := range h {
		fmt.Fprintf(&b, "  %11s  %7d  %s\n", ev.At.Sub(h[0].At).Round(time.Millisecond), ev.Workers, ev.Reason)
	}
	return b.String()
}

// TestAutoscaleSkewedLoad feeds a skewed stream (one device carries half
// the rows, 500 others the rest) as fast as a job with max_workers = 4
// takes it, and checks that (a) the autoscaler adds workers and splits the
// keyed stage's ranges over at least two of them, (b) once the load stops
// the job shrinks back to one worker and merges its ranges, and (c) after
// a watermark past the last row the output equals an oracle of the rows
// fed. Re-run a failure with -seed N.
func TestAutoscaleSkewedLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("feeds up to millions of rows")
	}
	seed := *oracleSeed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("seed %d (re-run: go test ./engine -run TestAutoscaleSkewedLoad -seed %d)", seed, seed)

	e, err := Open(Options{DataDir: filepath.Join(t.TempDir(), "data"), Parallelism: 1,
		Scale: executor.ScaleConfig{Interval: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s := e.NewSession()
	lcExec(t, s, `
CREATE SOURCE src (device VARCHAR NOT NULL, v BIGINT, ts TIMESTAMP NOT NULL,
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND);
CREATE TABLE t (window_start TIMESTAMP, device VARCHAR, n BIGINT, s BIGINT);`)
	src, err := e.Catalog().GetSource("src")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := &asFeeder{e: e, srcID: src.ID, seed: seed, stop: make(chan struct{})}
	var stopOnce sync.Once
	stopFeeding := func() {
		stopOnce.Do(func() { close(f.stop) })
		<-f.done
	}
	defer stopFeeding()

	// A backlog first: the job starts behind its source (a job reads a log
	// source from its beginning), so it is loaded however the feeders'
	// speed compares with its own. The autoscaler counts as load a mean
	// utilization over 75% or a backlog over half the backpressure limit
	// (8 bundles: 524,288 rows at the default bundle size) for 3 intervals
	// in a row; utilization is charged when a bundle ends, so on a slow
	// machine, where one bundle outlasts several 20 ms intervals, only the
	// backlog shows the load steadily. A million rows behind, the job is
	// loaded by both measures.
	start := time.Now()
	f.start(ctx, asPrefill)
	<-f.done
	if f.err != nil {
		t.Fatal(f.err)
	}
	t.Logf("fed a backlog of %d rows before the job starts (%s)", f.fed.Load(), time.Since(start).Round(time.Millisecond))

	lcExec(t, s, `
CREATE JOB skewed WITH (max_workers = '4') AS INSERT INTO t
  SELECT window_start, device, count(*), sum(v)
  FROM TUMBLE(src, ts, INTERVAL '1' SECOND)
  GROUP BY window_start, window_end, device;`)
	rj := e.runningJob("skewed")
	if rj == nil {
		t.Fatal("job skewed is not running")
	}
	if w := rj.Workers(); w != 1 {
		t.Fatalf("the job starts with %d workers, want 1 (engine parallelism 1)", w)
	}
	f.rj = rj
	start = time.Now()
	f.start(ctx, asRowsCap)

	// (a) Under load: more than one worker, the keyed stage split into at
	// least two ranges on at least two workers.
	var grown executor.Status
	actx, acancel := context.WithTimeout(ctx, asWaitLimit)
	ok, err := rj.WaitFor(actx, func() bool {
		st := rj.Status()
		ranges, workers := asKeyed(st)
		if st.Workers > 1 && len(ranges) >= 2 && len(workers) >= 2 {
			grown = st
			return true
		}
		select {
		case <-f.done: // the feeder gave up (cap) or failed
			return st.EventsIn >= f.fed.Load()
		default:
			return false
		}
	})
	acancel()
	if !ok || err != nil || grown.Workers == 0 {
		stopFeeding()
		t.Fatalf("the autoscaler did not scale out under load (wait: %v, feeder: %v, fed %d rows in %s, cap %d rows)\nstatus: %s\nscale history:\n%s",
			err, f.err, f.fed.Load(), time.Since(start).Round(time.Millisecond), asRowsCap, asDescribe(rj.Status()), asHistory(rj))
	}
	ranges, workers := asKeyed(grown)
	t.Logf("scaled out after %d rows (%s): %d workers, keyed stage %d ranges on %d workers, %d reconfigurations",
		f.fed.Load(), time.Since(start).Round(time.Millisecond), grown.Workers, len(ranges), len(workers), grown.Reconfigurations)

	// The system table and EXPLAIN JOB show the units (their values vary
	// with timing; only their shape is checked).
	asCheckKeyRanges(t, s)
	asCheckExplain(t, s)

	// Keep the load on for a while (the history then shows what the
	// autoscaler settles on: asSustain more rows, or asSustainTime on a
	// slow machine), then stop feeding.
	f.limit.Store(min(f.fed.Load()+asSustain, asRowsCap))
	sustain := time.AfterFunc(asSustainTime, func() { stopOnce.Do(func() { close(f.stop) }) })
	<-f.done
	sustain.Stop()
	t.Logf("at the end of the load: %s", asDescribe(rj.Status()))
	stopFeeding()
	if f.err != nil {
		t.Fatal(f.err)
	}
	fed := f.fed.Load()
	t.Logf("fed %d rows in %s (%.0f rows/s)", fed, time.Since(start).Round(time.Millisecond), float64(fed)/time.Since(start).Seconds())

	// (b) Idle: back to min_workers (1), ranges merged (no more ranges
	// than workers).
	bctx, bcancel := context.WithTimeout(ctx, asWaitLimit)
	ok, err = rj.WaitFor(bctx, func() bool {
		st := rj.Status()
		ranges, _ := asKeyed(st)
		return st.EventsIn >= fed && st.Workers == 1 && len(ranges) <= st.Workers
	})
	bcancel()
	if !ok || err != nil {
		t.Fatalf("the job did not shrink back to one worker when idle (%v)\nstatus: %s\nscale history:\n%s", err, asDescribe(rj.Status()), asHistory(rj))
	}
	t.Logf("scale history (the autoscaler's worker count over time):\n%s", asHistory(rj))

	// (c) A watermark past the last row closes every window; the output
	// equals the oracle.
	want, maxTS := f.oracle()
	wm := maxTS - (maxTS-asBase)%1_000_000 + 2_000_000
	if err := e.AdvanceWatermark("src", wm); err != nil {
		t.Fatal(err)
	}
	cctx, ccancel := context.WithTimeout(ctx, asWaitLimit)
	err = rj.WaitWatermark(cctx, wm)
	ccancel()
	if err != nil {
		t.Fatalf("waiting for watermark %s: %v\nstatus: %s", FormatWatermark(wm), err, asDescribe(rj.Status()))
	}
	if st := rj.Status(); st.LateDropped != 0 || st.BadRecords != 0 {
		t.Fatalf("late dropped %d, bad records %d, want none", st.LateDropped, st.BadRecords)
	}
	res := lcExec(t, s, "SELECT window_start, device, n, s FROM t")
	got := res[len(res)-1].Rows
	over, under := 0, 0
	var diffs []string
	seen := map[asKey]bool{}
	for _, r := range got {
		k := asKey{r[0].Micros(), r[1].Str()}
		a, ok := want[k]
		if !ok || seen[k] || a.n != r[2].Int() || a.s != r[3].Int() {
			over++
			if len(diffs) < 10 {
				diffs = append(diffs, fmt.Sprintf("over: %s %s n=%d s=%d (oracle %+v, present %v, already seen %v)",
					FormatWatermark(k.window), k.device, r[2].Int(), r[3].Int(), a, ok, seen[k]))
			}
			continue
		}
		seen[k] = true
	}
	for k, a := range want {
		if !seen[k] {
			under++
			if len(diffs) < 20 {
				diffs = append(diffs, fmt.Sprintf("under: %s %s n=%d s=%d", FormatWatermark(k.window), k.device, a.n, a.s))
			}
		}
	}
	sort.Strings(diffs)
	t.Logf("output: %d rows, oracle %d groups from %d rows: %d over, %d under", len(got), len(want), fed, over, under)
	if over != 0 || under != 0 {
		t.Fatalf("output differs from the oracle: %d rows over, %d under\n%s\nstatus: %s", over, under, strings.Join(diffs, "\n"), asDescribe(rj.Status()))
	}
}

// asCheckKeyRanges checks weir_key_ranges' columns and the shape of its
// rows for a job with a source stage and a keyed stage.
func asCheckKeyRanges(t *testing.T, s *Session) {
	t.Helper()
	res := lcExec(t, s, "SELECT * FROM weir_key_ranges WHERE job = 'skewed'")
	r := res[len(res)-1]
	var names []string
	for _, c := range r.Columns {
		names = append(names, c.Name)
	}
	wantCols := "job job_id stage range_start range_end worker events_per_second events watermark unit buckets partition backlog hot done busy_ms state_bytes"
	if got := strings.Join(names, " "); got != wantCols {
		t.Fatalf("weir_key_ranges columns:\n%s\nwant\n%s", got, wantCols)
	}
	bucketsRE := regexp.MustCompile(`^\d+-\d+$`)
	var sources, keyed int
	for _, row := range r.Rows {
		if row[5].IsNull() || row[6].IsNull() || row[9].IsNull() {
			t.Fatalf("weir_key_ranges row without worker, rate or unit: %v", row)
		}
		switch {
		case !row[11].IsNull(): // a source partition range
			sources++
			if !row[10].IsNull() || row[12].IsNull() {
				t.Fatalf("a source unit with buckets or without backlog: %v", row)
			}
		case !row[10].IsNull(): // a key range
			keyed++
			if !bucketsRE.MatchString(row[10].Str()) || row[12].IsNull() {
				t.Fatalf("a key range's buckets %q / backlog %v", row[10].Str(), row[12])
			}
		default:
			t.Fatalf("a unit neither partition nor key range: %v", row)
		}
	}
	if sources == 0 || keyed == 0 {
		t.Fatalf("weir_key_ranges: %d source units, %d key ranges, want both", sources, keyed)
	}
}

// asCheckExplain checks the runtime section of EXPLAIN JOB.
func asCheckExplain(t *testing.T, s *Session) {
	t.Helper()
	res := lcExec(t, s, "EXPLAIN JOB skewed")
	var lines []string
	for _, row := range res[len(res)-1].Rows {
		lines = append(lines, row[0].Str())
	}
	text := strings.Join(lines, "\n")
	t.Logf("EXPLAIN JOB skewed (under load):\n%s", text)
	for _, re := range []string{
		`(?m)^runtime: job id \d+, RUNNING, events in \d+, out \d+, late dropped 0$`,
		`(?m)^  workers \d+, reconfigurations \d+(; worker \d+ busy \S+)*$`,
		`(?m)^    range \[[0-9a-f]{16}, [0-9a-f]{16}\]  partition 0  worker \d+  events \d+  rate \d+/s  backlog \d+  busy \S+(  state \d+ B)?(  done)?  watermark \S.*$`,
		`(?m)^    range \[[0-9a-f]{16}, [0-9a-f]{16}\]  buckets \d+-\d+  worker \d+  events \d+  rate \d+/s  backlog \d+  busy \S+(  state \d+ B)?(  HOT)?(  done)?  watermark \S.*$`,
	} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Fatalf("EXPLAIN JOB lacks a line matching %s:\n%s", re, text)
		}
	}
}

// TestKeyRangesTable checks weir_key_ranges and EXPLAIN JOB's runtime on a
// job whose units stay put (autoscaler off, two workers): one source
// partition and the keyed stage's buckets cut in two.
func TestKeyRangesTable(t *testing.T) {
	e := lcOpen(t, Options{Scale: executor.ScaleConfig{Off: true}})
	s := e.NewSession()
	lcExec(t, s, lcSchema+perMinuteTable("per_minute", true))
	lcExec(t, s, "CREATE JOB j WITH (parallelism = '2') AS "+perMinute("per_minute", ""))
	insertReadings(t, s, "a 1 00:00:10", "b 2 00:00:20")
	lcWatermark(t, e, "readings", "2024-01-01 00:00:30")
	got := asRows(t, s, "SELECT stage, worker, unit, buckets, partition, backlog, hot, done, watermark FROM weir_key_ranges WHERE job = 'j'")
	want := []string{
		"s0 0 0 ∅ 0 0 f f 2024-01-01 00:00:30",
		"s1 0 0 0-63 ∅ 0 f f 2024-01-01 00:00:30",
		"s1 1 1 64-127 ∅ 0 f f 2024-01-01 00:00:30",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("weir_key_ranges:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := asRows(t, s, "SELECT sum(events) FROM weir_key_ranges WHERE job = 'j' AND stage = 's0'"); got[0] != "3" && got[0] != "2" {
		t.Fatalf("source events %v, want the 2 rows (and maybe the punctuation)", got)
	}
	res := lcExec(t, s, "EXPLAIN JOB j")
	var lines []string
	for _, row := range res[len(res)-1].Rows {
		lines = append(lines, row[0].Str())
	}
	text := strings.Join(lines, "\n")
	for _, want := range []string{
		"  workers 2, reconfigurations 0",
		"  stage s0  watermark 2024-01-01 00:00:30",
		"partition 0  worker 0  events ",
		"buckets 0-63  worker 0  events ",
		"buckets 64-127  worker 1  events ",
		"backlog 0  busy ",
		"  watermark 2024-01-01 00:00:30",
	} {
		if !strings.Contains(text, want) {
			t.Fatalf("EXPLAIN JOB lacks %q:\n%s", want, text)
		}
	}
}

// asRows runs a query and returns its rows as sorted space-separated text,
// NULL printed as ∅.
func asRows(t *testing.T, s *Session, query string) []string {
	t.Helper()
	res := lcExec(t, s, query)
	var out []string
	for _, r := range res[len(res)-1].Rows {
		parts := make([]string, len(r))
		for i, d := range r {
			parts[i] = d.Format()
			if d.IsNull() {
				parts[i] = "∅"
			}
		}
		out = append(out, strings.Join(parts, " "))
	}
	sort.Strings(out)
	return out
}
