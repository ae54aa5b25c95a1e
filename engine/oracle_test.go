package engine

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/executor"
)

var (
	oracleSeed   = flag.Int64("seed", 0, "run the SQL oracle test with this seed only")
	oracleStress = flag.Bool("stress", false, "run the SQL oracle test over many seeds")
)

// TestSQLOracle is the engine-level oracle test: seeded random out-of-order
// readings with NULLs and a share of late records are written to a CSV file
// (a bounded file source); windowed aggregation jobs written in SQL (TUMBLE
// and HOP table functions, the GROUP BY TUMBLE/HOP group-window form, with
// offsets and allowed lateness) run to completion; their tables, read with
// SELECT, and the late_dropped counts of weir_jobs must equal a brute-force
// computation in Go. Every seed runs under several engine.Options (bundle
// size, parallelism, cache size), and with clean Close + Open of the engine
// mid-stream (the jobs resume from their last commits): every run must give
// the oracle's answer.
//
// The oracle's lateness rule is the executor's (see executor/doc.go): the
// file is one partition (it is far below the connector's split size), a
// record is windowed against the partition watermark at the moment it is
// read, max(event time read before it) - delay, and a window assignment is
// dropped when end + allowed_lateness <= that watermark.
//
// Re-run a failure with -seed N; -stress runs many seeds.
func TestSQLOracle(t *testing.T) {
	n := 1
	if *oracleStress {
		n = 20
	}
	seeds := []int64{*oracleSeed}
	if *oracleSeed == 0 {
		base := time.Now().UnixNano()
		seeds = seeds[:0]
		for i := 0; i < n; i++ {
			seeds = append(seeds, base+int64(i)*7919)
		}
	}
	for _, seed := range seeds {
		runSQLOracle(t, seed)
	}
}

const (
	oSec   = int64(1_000_000)
	oDelay = 5 * oSec
)

// oEvent is one generated reading; nil pointers are NULLs.
type oEvent struct {
	device *string
	temp   *float64
	rpm    *int64
	ok     *bool
	ts     int64
}

func genOracleEvents(rng *rand.Rand, n int) []oEvent {
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	devices := 3 + rng.Intn(12)
	evs := make([]oEvent, n)
	clock := base
	for i := range evs {
		clock += rng.Int63n(400) * 1000 // 0-400 ms apart
		// Disorder within the watermark delay, and ~4% late records, up
		// to two minutes behind.
		ts := clock - rng.Int63n(oDelay)
		if rng.Intn(25) == 0 {
			ts = clock - oDelay - rng.Int63n(120*oSec)
		}
		ts -= ts % 1000
		e := oEvent{ts: ts}
		if rng.Intn(30) != 0 {
			d := fmt.Sprintf("d%02d", rng.Intn(devices))
			e.device = &d
		}
		if rng.Intn(8) != 0 {
			v := math.Round(rng.NormFloat64()*1500) / 100
			e.temp = &v
		}
		if rng.Intn(8) != 0 {
			v := rng.Int63n(50) - 5 // few distinct values: DISTINCT matters
			e.rpm = &v
		}
		if rng.Intn(8) != 0 {
			v := rng.Intn(5) == 0
			e.ok = &v
		}
		evs[i] = e
	}
	return evs
}

// writeOracleCSV writes the events as CSV with a share of malformed lines
// in between (bad numbers, bad timestamps, wrong field counts), which every
// job must count as bad records and otherwise ignore. It returns how many
// malformed lines it wrote.
func writeOracleCSV(t *testing.T, rng *rand.Rand, path string, evs []oEvent) int64 {
	var b bytes.Buffer
	b.WriteString("device,temp,rpm,ok,ts\n")
	bad := []string{"d01,abc,1,true,2024-01-01 00:00:01\n", "d01,1.5,1,true,yesterday\n", "d01,1.5\n", "d01,1.5,1,true,2024-01-01 00:00:01,x\n"}
	var nbad int64
	for _, e := range evs {
		if rng.Intn(100) == 0 {
			b.WriteString(bad[rng.Intn(len(bad))])
			nbad++
		}
		if e.device != nil {
			b.WriteString(*e.device)
		}
		b.WriteByte(',')
		if e.temp != nil {
			b.WriteString(strconv.FormatFloat(*e.temp, 'g', -1, 64))
		}
		b.WriteByte(',')
		if e.rpm != nil {
			b.WriteString(strconv.FormatInt(*e.rpm, 10))
		}
		b.WriteByte(',')
		if e.ok != nil {
			b.WriteString(strconv.FormatBool(*e.ok))
		}
		b.WriteByte(',')
		b.WriteString(datum.FormatTimestamp(e.ts))
		b.WriteByte('\n')
	}
	if b.Len() >= 1<<20 {
		t.Fatalf("oracle CSV is %d bytes: the file source would split it into partitions the oracle does not model", b.Len())
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return nbad
}

// oJob is one windowed aggregation job of the test.
type oJob struct {
	name     string
	hop      bool
	size     int64 // micros
	slide    int64 // HOP only
	offset   int64
	lateness int64
	group    bool // GROUP BY TUMBLE(...)/HOP(...) form instead of the table function
	keyed    bool // PRIMARY KEY (w, device) table (device IS NOT NULL); else append every pane
}

const oAggs = "count(*), count(temp), count(DISTINCT rpm), sum(rpm), min(rpm), avg(temp), min(temp), max(temp), stddev_samp(temp), bool_or(ok)"

func secs(us int64) string { return fmt.Sprintf("INTERVAL '%d' SECOND", us/oSec) }

func (j oJob) sql() string {
	var b strings.Builder
	pk := ""
	if j.keyed {
		pk = ", PRIMARY KEY (w, device)"
	}
	fmt.Fprintf(&b, "CREATE TABLE %s_out (w TIMESTAMP, device VARCHAR, n BIGINT, n_temp BIGINT, n_rpm BIGINT, sum_rpm BIGINT, min_rpm BIGINT, "+
		"avg_temp DOUBLE, min_temp DOUBLE, max_temp DOUBLE, sd_temp DOUBLE, any_ok BOOLEAN, timing VARCHAR, idx BIGINT%s);\n", j.name, pk)
	with := ""
	if j.lateness > 0 {
		with = fmt.Sprintf(" WITH (allowed_lateness = '%d seconds')", j.lateness/oSec)
	}
	args := secs(j.size)
	kind := "TUMBLE"
	if j.hop {
		kind = "HOP"
		args = secs(j.slide) + ", " + secs(j.size)
	}
	if j.offset != 0 {
		args += ", " + secs(j.offset)
	}
	where := ""
	if j.keyed {
		where = " WHERE device IS NOT NULL"
	}
	fmt.Fprintf(&b, "CREATE JOB %s%s AS INSERT INTO %s_out\n", j.name, with, j.name)
	if j.group {
		fmt.Fprintf(&b, "  SELECT %s_START(ts, %s) AS w, device, %s, PANE_TIMING(), PANE_INDEX()\n", kind, args, oAggs)
		fmt.Fprintf(&b, "  FROM readings%s GROUP BY %s(ts, %s), device;\n", where, kind, args)
	} else {
		fmt.Fprintf(&b, "  SELECT window_start, device, %s, PANE_TIMING(), PANE_INDEX()\n", oAggs)
		fmt.Fprintf(&b, "  FROM %s(readings, ts, %s)%s GROUP BY window_start, window_end, device;\n", kind, args, where)
	}
	return b.String()
}

// randomJobs picks the jobs' windows for a seed: a TUMBLE and a HOP table
// function and a TUMBLE and a HOP group window, with random sizes, slides,
// offsets and lateness.
func randomJobs(rng *rand.Rand) []oJob {
	lateness := func() int64 { return []int64{0, 10, 30, 90}[rng.Intn(4)] * oSec }
	tumble := func() (size, offset int64) {
		size = []int64{10, 20, 30, 60}[rng.Intn(4)] * oSec
		if rng.Intn(2) == 0 {
			offset = rng.Int63n(size/oSec) * oSec
		}
		return
	}
	hop := func() (slide, size, offset int64) {
		slide = []int64{5, 10, 15}[rng.Intn(3)] * oSec
		size = slide * int64(2+rng.Intn(3))
		if rng.Intn(2) == 0 {
			offset = rng.Int63n(slide/oSec) * oSec
		}
		return
	}
	var jobs []oJob
	size, off := tumble()
	jobs = append(jobs, oJob{name: "tumble_tvf", size: size, offset: off, lateness: lateness(), keyed: true})
	slide, size, off := hop()
	jobs = append(jobs, oJob{name: "hop_tvf", hop: true, slide: slide, size: size, offset: off, lateness: lateness()})
	size, off = tumble()
	jobs = append(jobs, oJob{name: "tumble_group", group: true, size: size, offset: off, lateness: lateness()})
	slide, size, off = hop()
	jobs = append(jobs, oJob{name: "hop_group", group: true, hop: true, slide: slide, size: size, offset: off, lateness: lateness(), keyed: true})
	return jobs
}

// oAcc is the brute-force state of one (window, device).
type oAcc struct {
	n, nTemp     int64
	rpms         map[int64]bool
	sumRpm       int64
	nRpm         int64
	minRpm       int64
	temps        []float64
	minT, maxT   float64
	anyOK, seenB bool
}

type oKey struct {
	start  int64
	device string // "\x00" for NULL
}

// oracleFor computes a job's expected final rows (one line per window and
// device) and its late_dropped count.
func oracleFor(j oJob, evs []oEvent) ([]string, int64) {
	return oracleForParts(j, [][]oEvent{evs})
}

// oracleForParts is oracleFor over a source of several partitions, each
// read in order with its own watermark (which decides its records'
// lateness).
func oracleForParts(j oJob, parts [][]oEvent) ([]string, int64) {
	slide := j.size
	if j.hop {
		slide = j.slide
	}
	accs := map[oKey]*oAcc{}
	var dropped int64
	for _, evs := range parts {
		maxTS := int64(math.MinInt64)
		for _, e := range evs {
			wm := int64(math.MinInt64)
			if maxTS != math.MinInt64 {
				wm = maxTS - oDelay
			}
			// The watermark follows every record read, filtered or not.
			if !(j.keyed && e.device == nil) {
				last := floorDivOracle(e.ts-j.offset, slide)*slide + j.offset
				for st := last; st > e.ts-j.size; st -= slide {
					if st+j.size+j.lateness <= wm {
						dropped++
						continue
					}
					k := oKey{start: st, device: "\x00"}
					if e.device != nil {
						k.device = *e.device
					}
					a := accs[k]
					if a == nil {
						a = &oAcc{rpms: map[int64]bool{}, minT: math.Inf(1), maxT: math.Inf(-1), minRpm: math.MaxInt64}
						accs[k] = a
					}
					a.n++
					if e.temp != nil {
						a.nTemp++
						a.temps = append(a.temps, *e.temp)
						a.minT = math.Min(a.minT, *e.temp)
						a.maxT = math.Max(a.maxT, *e.temp)
					}
					if e.rpm != nil {
						a.rpms[*e.rpm] = true
						a.sumRpm += *e.rpm
						a.nRpm++
						a.minRpm = min(a.minRpm, *e.rpm)
					}
					if e.ok != nil {
						a.seenB = true
						a.anyOK = a.anyOK || *e.ok
					}
				}
			}
			if e.ts > maxTS {
				maxTS = e.ts
			}
		}
	}
	var lines []string
	for k, a := range accs {
		dev := "NULL"
		if k.device != "\x00" {
			dev = k.device
		}
		f := []string{datum.FormatTimestamp(k.start), dev, fmt.Sprint(a.n), fmt.Sprint(a.nTemp), fmt.Sprint(len(a.rpms))}
		if a.nRpm > 0 {
			f = append(f, fmt.Sprint(a.sumRpm), fmt.Sprint(a.minRpm))
		} else {
			f = append(f, "NULL", "NULL")
		}
		if a.nTemp > 0 {
			var sum float64
			for _, v := range a.temps {
				sum += v
			}
			mean := sum / float64(a.nTemp)
			f = append(f, oFloat(mean), oFloat(a.minT), oFloat(a.maxT))
			if a.nTemp > 1 {
				var ss float64
				for _, v := range a.temps {
					ss += (v - mean) * (v - mean)
				}
				f = append(f, oFloat(math.Sqrt(ss/float64(a.nTemp-1))))
			} else {
				f = append(f, "NULL")
			}
		} else {
			f = append(f, "NULL", "NULL", "NULL", "NULL")
		}
		if a.seenB {
			f = append(f, strconv.FormatBool(a.anyOK))
		} else {
			f = append(f, "NULL")
		}
		lines = append(lines, strings.Join(f, " "))
	}
	sort.Strings(lines)
	return lines, dropped
}

func floorDivOracle(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func oFloat(v float64) string { return strconv.FormatFloat(v, 'g', 12, 64) }

// oDatum formats a result datum the way oracleFor does.
func oDatum(d datum.Datum) string {
	switch {
	case d.IsNull():
		return "NULL"
	case d.Kind() == datum.KindFloat:
		return oFloat(d.Float())
	case d.Kind() == datum.KindBool:
		return strconv.FormatBool(d.Bool())
	}
	return d.Format()
}

// oConfig is one way to run the same jobs over the same input.
type oConfig struct {
	name string
	opts Options
	// stops: how many times the engine is closed and reopened while the
	// jobs run: right after they started, then each time once the first
	// job's watermark has passed the next fraction of the input's event
	// times. (A job that finished first is simply DONE at the reopen.)
	stops int
}

func runSQLOracle(t *testing.T, seed int64) {
	t.Logf("seed %d (re-run with -seed %d)", seed, seed)
	rng := rand.New(rand.NewSource(seed))
	dir := t.TempDir()
	evs := genOracleEvents(rng, 1500+rng.Intn(1500))
	nbad := writeOracleCSV(t, rng, filepath.Join(dir, "readings.csv"), evs)
	jobs := randomJobs(rng)

	var script strings.Builder
	script.WriteString(`CREATE SOURCE readings (device VARCHAR, temp DOUBLE, rpm BIGINT, ok BOOLEAN, ts TIMESTAMP NOT NULL,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH (connector = 'file', path = 'readings.csv', format = 'csv');
`)
	for _, j := range jobs {
		script.WriteString(j.sql())
	}
	want := map[string][]string{}
	wantDropped := map[string]int64{}
	for _, j := range jobs {
		want[j.name], wantDropped[j.name] = oracleFor(j, evs)
	}

	// Two fixed configurations and two drawn from the seed.
	cacheBytes := []int64{0, 1, 2048, 1 << 16}
	configs := []oConfig{
		{name: "defaults", opts: Options{Parallelism: 1}},
		{name: "p3-small-cache", opts: Options{BundleSize: 37, Parallelism: 3, CacheBytes: 2048}},
		{name: "random-one-stop", opts: Options{BundleSize: 1 + rng.Intn(300), Parallelism: 1 + rng.Intn(4), CacheBytes: cacheBytes[rng.Intn(4)]}, stops: 1},
		{name: "random-two-stops", opts: Options{BundleSize: 1 + rng.Intn(40), Parallelism: 1 + rng.Intn(4), CacheBytes: cacheBytes[rng.Intn(4)]}, stops: 2},
		// Chaos: a random split, merge or move of a key range, or a change
		// of the worker count, every millisecond (source partitions stay
		// whole: late drops are compared with an oracle of whole ones).
		{name: "chaos", opts: Options{BundleSize: 1 + rng.Intn(60), Parallelism: 2, CacheBytes: cacheBytes[rng.Intn(4)],
			Scale: executor.ScaleConfig{Chaos: true, ChaosSeed: seed, Interval: time.Millisecond, ChaosKeepSources: true}}, stops: 1},
	}
	for ci, c := range configs {
		c.opts.DataDir = filepath.Join(dir, fmt.Sprintf("data%d", ci))
		c.opts.BaseDir = dir
		c.opts.NoSync = true
		got, dropped := runOracleConfig(t, c, script.String(), jobs, evs, nbad)
		for _, j := range jobs {
			if !oSameLines(want[j.name], got[j.name]) {
				t.Fatalf("seed %d, %s %+v, job %s (%s): table differs from the oracle\n%s", seed, c.name, c.opts, j.name, strings.ReplaceAll(j.sql(), "\n", " "),
					oDiff(want[j.name], got[j.name]))
			}
			if dropped[j.name] != wantDropped[j.name] {
				t.Fatalf("seed %d, %s, job %s: late_dropped = %d, oracle %d", seed, c.name, j.name, dropped[j.name], wantDropped[j.name])
			}
		}
	}
}

// runOracleConfig runs the script on a fresh engine under c, stopping and
// reopening it c.stops times, waits for every job to finish, checks that
// each counted the nbad malformed lines exactly once (bad_records and
// weir_dead_letters), and returns each job's final rows and late_dropped
// count.
func runOracleConfig(t *testing.T, c oConfig, script string, jobs []oJob, evs []oEvent, nbad int64) (map[string][]string, map[string]int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e, err := Open(c.opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { e.Close() }()
	s := e.NewSession()
	if _, err := s.Exec(ctx, script); err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	// The input's event-time span, to pick the stop points.
	minTS, maxTS := evs[0].ts, evs[0].ts
	for _, ev := range evs {
		minTS, maxTS = min(minTS, ev.ts), max(maxTS, ev.ts)
	}
	for stop := 1; stop <= c.stops; stop++ {
		if rj := e.runningJob(jobs[0].name); rj != nil {
			// The first stop comes right after the jobs started, the
			// next ones once the first job is some way in.
			mid := minTS + (maxTS-minTS)*int64(stop-1)/int64(c.stops+3)
			if err := rj.WaitWatermark(ctx, mid); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
		}
		if err := e.Close(); err != nil {
			t.Fatalf("%s: close: %v", c.name, err)
		}
		if e, err = Open(c.opts); err != nil {
			t.Fatalf("%s: reopen: %v", c.name, err)
		}
		s = e.NewSession()
	}
	for _, j := range jobs {
		if err := e.WaitJob(ctx, j.name); err != nil {
			t.Fatalf("%s: waiting for %s: %v", c.name, j.name, err)
		}
	}
	res, err := s.Exec(ctx, "SELECT name, state, late_dropped, bad_records, error FROM weir_jobs ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	dropped := map[string]int64{}
	for _, r := range res[0].Rows {
		if r[1].Str() != "DONE" || r[3].Int() != nbad {
			t.Fatalf("%s: job %s ended %s with %d bad records (%d written): %s", c.name, r[0].Str(), r[1].Str(), r[3].Int(), nbad, oDatum(r[4]))
		}
		dropped[r[0].Str()] = r[2].Int()
	}
	res, err = s.Exec(ctx, "SELECT job, count(*), count(DISTINCT position) FROM weir_dead_letters GROUP BY job")
	if err != nil {
		t.Fatal(err)
	}
	if nbad > 0 && len(res[0].Rows) != len(jobs) {
		t.Fatalf("%s: dead letters of %d jobs, want %d", c.name, len(res[0].Rows), len(jobs))
	}
	for _, r := range res[0].Rows {
		if r[1].Int() != nbad || r[2].Int() != nbad {
			t.Fatalf("%s: job %s has %d dead letters at %d positions, want %d", c.name, r[0].Str(), r[1].Int(), r[2].Int(), nbad)
		}
	}
	got := map[string][]string{}
	for _, j := range jobs {
		res, err := s.Exec(ctx, fmt.Sprintf("SELECT * FROM %s_out", j.name))
		if err != nil {
			t.Fatal(err)
		}
		lines, err := finalPanes(res[0].Rows, j.keyed)
		if err != nil {
			t.Fatalf("%s, job %s: %v", c.name, j.name, err)
		}
		got[j.name] = lines
	}
	return got, dropped
}

// finalPanes checks the panes of every (window, device) of a result table
// (indexes 0, 1, ... in order; the first ON_TIME or LATE, the later ones
// LATE, as a bounded job fires every window ON_TIME at the latest) and
// returns the last pane of each, formatted like oracleFor's lines. A keyed
// table holds only the last pane.
func finalPanes(rows []datum.Row, keyed bool) ([]string, error) {
	type pane struct {
		idx    int64
		timing string
		line   string
	}
	groups := map[string][]pane{}
	for _, r := range rows {
		n := len(r)
		f := make([]string, n-2)
		for i := range f {
			f[i] = oDatum(r[i])
		}
		k := f[0] + " " + f[1]
		groups[k] = append(groups[k], pane{idx: r[n-1].Int(), timing: r[n-2].Str(), line: strings.Join(f, " ")})
	}
	var lines []string
	for k, ps := range groups {
		sort.Slice(ps, func(a, b int) bool { return ps[a].idx < ps[b].idx })
		if !keyed {
			for i, p := range ps {
				if p.idx != int64(i) {
					return nil, fmt.Errorf("window %s: pane indexes %v", k, ps)
				}
				if (i == 0 && p.timing != "ON_TIME" && p.timing != "LATE") || (i > 0 && p.timing != "LATE") {
					return nil, fmt.Errorf("window %s: pane %d is %s", k, i, p.timing)
				}
			}
		} else if len(ps) != 1 || (ps[0].timing != "LATE" && ps[0].timing != "ON_TIME") || (ps[0].idx > 0 && ps[0].timing != "LATE") {
			return nil, fmt.Errorf("window %s: keyed panes %v", k, ps)
		}
		lines = append(lines, ps[len(ps)-1].line)
	}
	sort.Strings(lines)
	return lines, nil
}

// oSameLines compares lines field by field, floats with a relative
// tolerance (sums depend on the order partial aggregates merge in).
func oSameLines(want, got []string) bool {
	if len(want) != len(got) {
		return false
	}
	for i := range want {
		wf, gf := strings.Fields(want[i]), strings.Fields(got[i])
		if len(wf) != len(gf) {
			return false
		}
		for j := range wf {
			if wf[j] == gf[j] {
				continue
			}
			a, err1 := strconv.ParseFloat(wf[j], 64)
			b, err2 := strconv.ParseFloat(gf[j], 64)
			if err1 != nil || err2 != nil || math.Abs(a-b) > 1e-9*math.Max(1, math.Abs(a)) {
				return false
			}
		}
	}
	return true
}

func oDiff(want, got []string) string {
	w, g := map[string]bool{}, map[string]bool{}
	for _, l := range want {
		w[l] = true
	}
	for _, l := range got {
		g[l] = true
	}
	var b strings.Builder
	n := 0
	for _, l := range want {
		if !g[l] && n < 10 {
			fmt.Fprintf(&b, "- %s\n", l)
			n++
		}
	}
	for _, l := range got {
		if !w[l] && n < 20 {
			fmt.Fprintf(&b, "+ %s\n", l)
			n++
		}
	}
	fmt.Fprintf(&b, "(%d rows expected, %d got)", len(want), len(got))
	return b.String()
}

// checkBadRecords checks that every job is RUNNING with nbad bad records
// and that weir_dead_letters holds nbad rows per job, each with the raw
// bytes of one of the malformed values written (bad); it returns each
// job's late_dropped.
func checkBadRecords(t *testing.T, ctx context.Context, s *Session, jobs []oJob, nbad int64, bad map[string]bool) map[string]int64 {
	t.Helper()
	res, err := s.Exec(ctx, "SELECT name, state, late_dropped, bad_records, error FROM weir_jobs ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	dropped := map[string]int64{}
	for _, r := range res[0].Rows {
		if r[1].Str() != "RUNNING" || r[3].Int() != nbad {
			t.Fatalf("job %s is %s with %d bad records (%d written): %s", r[0].Str(), r[1].Str(), r[3].Int(), nbad, oDatum(r[4]))
		}
		dropped[r[0].Str()] = r[2].Int()
	}
	res, err = s.Exec(ctx, "SELECT job, position, raw FROM weir_dead_letters")
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(res[0].Rows)) != nbad*int64(len(jobs)) {
		t.Fatalf("%d dead letters, want %d per job", len(res[0].Rows), nbad)
	}
	for _, r := range res[0].Rows {
		if !bad[string(r[2].Bytes())] {
			t.Fatalf("dead letter of %s at %d has raw %q, not a malformed value written", r[0].Str(), r[1].Int(), r[2].Bytes())
		}
	}
	return dropped
}

// checkJobTables compares each job's table (without the zz_end marker
// rows) and its late_dropped with the oracle's.
func checkJobTables(t *testing.T, ctx context.Context, s *Session, seed int64, jobs []oJob, dropped map[string]int64, oracle func(oJob) ([]string, int64)) {
	t.Helper()
	for _, j := range jobs {
		want, wantDropped := oracle(j)
		res, err := s.Exec(ctx, fmt.Sprintf("SELECT * FROM %s_out WHERE device IS NULL OR device <> 'zz_end'", j.name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := finalPanes(res[0].Rows, j.keyed)
		if err != nil {
			t.Fatalf("job %s: %v", j.name, err)
		}
		if !oSameLines(want, got) {
			t.Fatalf("seed %d, job %s (%s): table differs from the oracle\n%s", seed, j.name, strings.ReplaceAll(j.sql(), "\n", " "), oDiff(want, got))
		}
		if dropped[j.name] != wantDropped {
			t.Fatalf("seed %d, job %s: late_dropped = %d, oracle %d", seed, j.name, dropped[j.name], wantDropped)
		}
	}
}
