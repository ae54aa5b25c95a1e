package executor

import (
	"bytes"
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

	"github.com/weir-sql/weir/connector"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/state"
	"github.com/weir-sql/weir/table"
)

var (
	seedFlag   = flag.Int64("seed", 0, "run the randomized tests with this seed only")
	stressFlag = flag.Bool("stress", false, "run the randomized tests over many seeds")
)

// seeds returns the seeds a randomized test runs: -seed, or n fresh ones
// (more under -stress). Each is logged so a failure can be re-run.
func seeds(t *testing.T, n int) []int64 {
	if *seedFlag != 0 {
		return []int64{*seedFlag}
	}
	if *stressFlag {
		n *= 20
	}
	base := time.Now().UnixNano()
	out := make([]int64, n)
	for i := range out {
		out[i] = base + int64(i)*7919
	}
	return out
}

// event is one generated input record.
type event struct {
	device string
	temp   *float64
	rpm    *int64
	ts     int64 // micros
}

// genEvents produces out-of-order events: disorder below the watermark
// delay, plus a share of very late events.
func genEvents(rng *rand.Rand, n, keys int, delay int64) []event {
	evs := make([]event, n)
	base := int64(1_700_000_000_000_000)
	for i := range evs {
		ts := base + int64(i)*int64(rng.Intn(40_000)+1) + rng.Int63n(1+delay*9/10) - delay*9/10/2
		if rng.Intn(50) == 0 { // late
			ts -= rng.Int63n(5*60_000_000) + delay
		}
		e := event{device: fmt.Sprintf("d%03d", rng.Intn(keys)), ts: ts}
		if rng.Intn(10) != 0 {
			v := math.Round(rng.NormFloat64()*2000) / 100
			e.temp = &v
		}
		if rng.Intn(10) != 0 {
			v := rng.Int63n(10000) - 100
			e.rpm = &v
		}
		evs[i] = e
	}
	return evs
}

func writeCSV(t *testing.T, path string, evs []event, bad int, rng *rand.Rand) {
	var b bytes.Buffer
	b.WriteString("device,temp,rpm,ts\n")
	for i, e := range evs {
		if bad > 0 && rng.Intn(len(evs)/bad+1) == 0 {
			b.WriteString("broken,abc,xyz,not-a-time\n")
		}
		temp, rpm := "", ""
		if e.temp != nil {
			temp = fmt.Sprint(*e.temp)
		}
		if e.rpm != nil {
			rpm = fmt.Sprint(*e.rpm)
		}
		_ = i
		fmt.Fprintf(&b, "%s,%s,%s,%s\n", e.device, temp, rpm, datum.FormatTimestamp(e.ts))
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

var readingsSchema = plan.Schema{
	{Name: "device", Type: datum.TypeVarchar, NotNull: true},
	{Name: "temp", Type: datum.TypeFloat8},
	{Name: "rpm", Type: datum.TypeInt8},
	{Name: "ts", Type: datum.TypeTimestamp, NotNull: true},
}

func col(i int) *expr.Col {
	return &expr.Col{Idx: i, Typ: readingsSchema[i].Type, Name: readingsSchema[i].Name}
}

// windowJob builds the plan of
//
//	INSERT INTO out SELECT device, window_start, window_end, count(*), sum(rpm),
//	  min(temp), max(temp), avg(temp), count(rpm)
//	FROM <window>(readings, ts, ...) GROUP BY device, window_start, window_end
//
// with the aggregation lifted (partial before the shuffle, merge after).
func windowJob(path string, spec plan.WindowSpec, delay int64, tableID uint64, lateness int64) *plan.JobPlan {
	aggs := []*expr.AggFunc{
		{Fn: "count", Typ: datum.TypeInt8},
		{Fn: "sum", Arg: col(2), Typ: datum.TypeInt8},
		{Fn: "min", Arg: col(1), Typ: datum.TypeFloat8},
		{Fn: "max", Arg: col(1), Typ: datum.TypeFloat8},
		{Fn: "avg", Arg: col(1), Typ: datum.TypeFloat8},
		{Fn: "count", Arg: col(2), Typ: datum.TypeInt8},
	}
	spec.TimeCol = 3
	partial := &plan.WindowAggOp{OpBase: plan.OpBase{Name: "window_agg_device.partial"}, Window: spec, KeyCols: []int{0}, Aggs: aggs, Partial: true}
	merge := &plan.WindowAggOp{OpBase: plan.OpBase{Name: "window_agg_device"}, Window: spec, KeyCols: []int{0}, Aggs: aggs, Merge: true}
	// merge output: device, window_start, window_end, 6 aggs, pane_timing, pane_index
	outCols := []int{0, 1, 2, 3, 4, 5, 6, 7, 8}
	exprs := make([]expr.Expr, len(outCols))
	for i, c := range outCols {
		exprs[i] = &expr.Col{Idx: c, Typ: datum.TypeInt8}
	}
	project := &plan.ProjectOp{OpBase: plan.OpBase{Name: "s1.project"}, Exprs: exprs}
	sink := &plan.SinkOp{OpBase: plan.OpBase{Name: "sink_out"}, Target: "out", TargetID: tableID, IsTable: true, PrimaryKey: []int{0, 1}}
	return &plan.JobPlan{
		Job:     "oracle",
		Options: plan.JobOptions{AllowedLateness: lateness},
		Stages: []*plan.Stage{
			{ID: 0, Name: "s0",
				Source: &plan.SourceSpec{Name: "readings", ID: 1, Connector: "file", Options: map[string]string{"path": path, "format": "csv"},
					Schema: readingsSchema, TimeCol: 3, WatermarkDelay: delay, Bounded: true},
				Ops:    []plan.Op{partial},
				Output: &plan.StageOutput{Stage: 1, KeyCols: []int{0}},
			},
			{ID: 1, Name: "s1", Inputs: []plan.StageInput{{Stage: 0}}, Ops: []plan.Op{merge, project, sink}},
		},
	}
}

type winKey struct {
	device string
	start  int64
}

type winAcc struct {
	n, nrpm, sum      int64
	min, max, sumTemp float64
	ntemp             int64
}

// oracle computes the expected table by brute force: it replays the input in
// order with the source watermark rule, drops records whose windows closed
// more than lateness ago, and aggregates the rest.
func oracle(evs []event, spec plan.WindowSpec, delay, lateness int64) (map[winKey]*winAcc, int64) {
	out := map[winKey]*winAcc{}
	maxTS := int64(math.MinInt64)
	var dropped int64
	slide := spec.Slide
	if spec.Kind == plan.Tumble {
		slide = spec.Size
	}
	for _, e := range evs {
		wm := int64(math.MinInt64)
		if maxTS != math.MinInt64 {
			wm = maxTS - delay
		}
		last := floorDiv(e.ts-spec.Offset, slide)*slide + spec.Offset
		for st := last; st > e.ts-spec.Size; st -= slide {
			end := st + spec.Size
			if end <= wm && wm-end >= lateness {
				dropped++
				continue
			}
			k := winKey{e.device, st}
			a := out[k]
			if a == nil {
				a = &winAcc{min: math.Inf(1), max: math.Inf(-1)}
				out[k] = a
			}
			a.n++
			if e.rpm != nil {
				a.nrpm++
				a.sum += *e.rpm
			}
			if e.temp != nil {
				a.ntemp++
				a.sumTemp += *e.temp
				a.min = math.Min(a.min, *e.temp)
				a.max = math.Max(a.max, *e.temp)
			}
		}
		if e.ts > maxTS {
			maxTS = e.ts
		}
	}
	return out, dropped
}

func formatOracle(m map[winKey]*winAcc, spec plan.WindowSpec) []string {
	var lines []string
	for k, a := range m {
		f := func(ok bool, v float64) string {
			if !ok {
				return "NULL"
			}
			return fmt.Sprintf("%.6g", v)
		}
		sum := "NULL"
		if a.nrpm > 0 {
			sum = fmt.Sprint(a.sum)
		}
		avg := 0.0
		if a.ntemp > 0 {
			avg = a.sumTemp / float64(a.ntemp)
		}
		lines = append(lines, fmt.Sprintf("%s %s %s %d %s %s %s %s %d", k.device, datum.FormatTimestamp(k.start), datum.FormatTimestamp(k.start+spec.Size),
			a.n, sum, f(a.ntemp > 0, a.min), f(a.ntemp > 0, a.max), f(a.ntemp > 0, avg), a.nrpm))
	}
	sort.Strings(lines)
	return lines
}

func formatTable(t *testing.T, st *state.Store, id uint64) []string {
	var lines []string
	err := table.Scan(st, id, func(_ []byte, r datum.Row) error {
		parts := make([]string, len(r))
		for i, d := range r {
			switch {
			case d.IsNull():
				parts[i] = "NULL"
			case d.Kind() == datum.KindFloat:
				parts[i] = fmt.Sprintf("%.6g", d.Float())
			default:
				parts[i] = d.Format()
			}
		}
		lines = append(lines, strings.Join(parts, " "))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return lines
}

type oracleCase struct {
	name        string
	spec        plan.WindowSpec
	bundle      int
	parallelism int
	cacheBytes  int64
	lateness    int64
	restarts    int
	chaos       bool // random splits, merges, moves and resizes every ~ms
}

func TestWindowOracle(t *testing.T) {
	const sec = int64(1_000_000)
	cases := []oracleCase{
		{name: "tumble", spec: plan.WindowSpec{Kind: plan.Tumble, Size: 60 * sec}, bundle: 512, parallelism: 2},
		{name: "tumble-offset-p1-big-bundles", spec: plan.WindowSpec{Kind: plan.Tumble, Size: 30 * sec, Offset: 7 * sec}, bundle: 100000, parallelism: 1},
		{name: "hop", spec: plan.WindowSpec{Kind: plan.Hop, Size: 60 * sec, Slide: 20 * sec}, bundle: 256, parallelism: 3},
		{name: "hop-offset-lateness", spec: plan.WindowSpec{Kind: plan.Hop, Size: 45 * sec, Slide: 15 * sec, Offset: 5 * sec}, bundle: 1000, parallelism: 2, lateness: 60 * sec},
		{name: "tumble-small-cache-restarts", spec: plan.WindowSpec{Kind: plan.Tumble, Size: 10 * sec}, bundle: 200, parallelism: 2, cacheBytes: 4096, restarts: 3},
		{name: "hop-lateness-restarts", spec: plan.WindowSpec{Kind: plan.Hop, Size: 20 * sec, Slide: 5 * sec}, bundle: 300, parallelism: 4, lateness: 30 * sec, restarts: 2},
	}
	for _, c := range cases {
		c := c
		t.Run(c.name, func(t *testing.T) {
			for _, seed := range seeds(t, 2) {
				runOracleCase(t, c, seed)
			}
		})
	}
}

// TestWindowOracleChaos runs the oracle cases with chaos mode on: every
// millisecond or so a random split, merge or move of a key range, or a
// change of the worker count, while the job runs (and across restarts).
// Results and late drops must equal the oracle; over the seeds, the job
// must have been reconfigured.
func TestWindowOracleChaos(t *testing.T) {
	const sec = int64(1_000_000)
	cases := []oracleCase{
		{name: "tumble", spec: plan.WindowSpec{Kind: plan.Tumble, Size: 60 * sec}, bundle: 64, parallelism: 2},
		{name: "hop-lateness", spec: plan.WindowSpec{Kind: plan.Hop, Size: 45 * sec, Slide: 15 * sec, Offset: 5 * sec}, bundle: 50, parallelism: 3, lateness: 60 * sec},
		{name: "tumble-small-cache-restarts", spec: plan.WindowSpec{Kind: plan.Tumble, Size: 10 * sec}, bundle: 40, parallelism: 2, cacheBytes: 4096, restarts: 3},
		{name: "hop-restarts", spec: plan.WindowSpec{Kind: plan.Hop, Size: 20 * sec, Slide: 5 * sec}, bundle: 60, parallelism: 4, lateness: 30 * sec, restarts: 2},
	}
	var total int64
	for _, c := range cases {
		c := c
		c.chaos = true
		t.Run(c.name, func(t *testing.T) {
			var reconfigs int64
			for _, seed := range seeds(t, 4) {
				reconfigs += runOracleCase(t, c, seed)
			}
			t.Logf("%d reconfigurations", reconfigs)
			total += reconfigs
		})
	}
	// A short case on a loaded machine may end before the controller's
	// first tick; over all of them, chaos must have happened.
	if total == 0 {
		t.Fatal("chaos mode reconfigured nothing")
	}
}

func runOracleCase(t *testing.T, c oracleCase, seed int64) (reconfigs int64) {
	t.Logf("seed %d (re-run with -seed %d)", seed, seed)
	rng := rand.New(rand.NewSource(seed))
	const delay = 5_000_000
	evs := genEvents(rng, 3000+rng.Intn(3000), 5+rng.Intn(60), delay)
	dir := t.TempDir()
	path := filepath.Join(dir, "readings.csv")
	writeCSV(t, path, evs, 20, rng)
	spec := c.spec
	if spec.Kind == plan.Tumble {
		spec.Slide = spec.Size
	}
	want, wantDropped := oracle(evs, spec, delay, c.lateness)

	st, err := state.Open(filepath.Join(dir, "store"), state.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	jplan := windowJob(path, c.spec, delay, 99, c.lateness)
	jplan.Stages[0].Parallelism = 1
	jplan.Stages[1].Parallelism = c.parallelism
	cfg := Config{Store: st, Env: connector.Env{Clock: connector.SystemClock(), BaseDir: dir}, BundleSize: c.bundle, CacheBytes: c.cacheBytes}
	if c.chaos {
		cfg.Scale = ScaleConfig{Chaos: true, ChaosSeed: seed, Interval: time.Millisecond, ChaosKeepSources: true}
		jplan.Options.MaxWorkers = 4
		jplan.Stages[1].Parallelism = 0
		jplan.Options.Parallelism = 0
	}
	meta := JobMeta{Name: "oracle", ID: 1, StateNS: 7}
	var status Status
	for run := 0; ; run++ {
		x := New(cfg)
		j, err := x.Start(jplan, meta)
		if err != nil {
			t.Fatal(err)
		}
		if run < c.restarts {
			// Stop as soon as the job has made some progress: any point
			// must do, since every commit is consistent.
			target := int64(len(evs) * (run + 1) / (c.restarts + 2))
			for j.Status().EventsIn < target {
				select {
				case <-j.Done():
				case <-time.After(time.Millisecond):
					continue
				}
				break
			}
			reconfigs += j.Reconfigurations()
			j.Stop()
			x.Close()
			continue
		}
		<-j.Done()
		reconfigs += j.Reconfigurations()
		state, err := j.Outcome()
		if err != nil || state != StateDone {
			t.Fatalf("seed %d: job ended %s: %v", seed, state, err)
		}
		status = j.Status()
		x.Close()
		break
	}
	got := formatTable(t, st, 99)
	wantLines := formatOracle(want, spec)
	if !sameLines(wantLines, got) {
		t.Fatalf("seed %d: table differs from oracle\n%s", seed, diffLines(wantLines, got))
	}
	if status.LateDropped != wantDropped {
		t.Fatalf("seed %d: late_dropped = %d, oracle %d", seed, status.LateDropped, wantDropped)
	}
	return reconfigs
}

func diffLines(want, got []string) string {
	w := map[string]bool{}
	for _, l := range want {
		w[l] = true
	}
	g := map[string]bool{}
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

// sameLines compares result lines field by field, numbers with a relative
// tolerance (float sums depend on the order partial aggregates merge in).
func sameLines(want, got []string) bool {
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
			if err1 != nil || err2 != nil || math.Abs(a-b) > 1e-4*math.Max(1, math.Abs(a)) {
				return false
			}
		}
	}
	return true
}
