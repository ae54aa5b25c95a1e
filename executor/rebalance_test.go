package executor

import (
	"math/rand"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/weir-sql/weir/connector"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/state"
)

// TestSourceRebalanceSlowWorker is dynamic work rebalancing: a bounded
// file read in two partitions by two workers, one of them slowed
// artificially (it reads 3 records per bundle). When the fast worker has
// finished its partition, the autoscaler splits the remaining work of the
// slow one at a record boundary and hands the second half to the idle
// worker, again and again. The table must equal the oracle, and the fast
// worker must have read part of the slow partition.
func TestSourceRebalanceSlowWorker(t *testing.T) {
	const sec = int64(1_000_000)
	for _, seed := range seeds(t, 2) {
		t.Logf("seed %d (re-run with -seed %d)", seed, seed)
		rng := rand.New(rand.NewSource(seed))
		const delay = 5 * sec
		evs := genEvents(rng, 6000+rng.Intn(4000), 5+rng.Intn(40), delay)
		// In event-time order: which records are late must not depend on
		// where the ranges are cut (each range has its own watermark).
		sort.SliceStable(evs, func(a, b int) bool { return evs[a].ts < evs[b].ts })
		dir := t.TempDir()
		path := filepath.Join(dir, "readings.csv")
		writeCSV(t, path, evs, 10, rng)
		spec := plan.WindowSpec{Kind: plan.Tumble, Size: 10 * sec}
		want, _ := oracle(evs, plan.WindowSpec{Kind: plan.Tumble, Size: 10 * sec, Slide: 10 * sec}, delay, 0)

		st, err := state.Open(filepath.Join(dir, "store"), state.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		jplan := windowJob(path, spec, delay, 99, 0)
		jplan.Options.Parallelism = 2
		jplan.Stages[0].Parallelism = 2
		jplan.Stages[1].Parallelism = 2
		hooks := &testHooks{slowUnit: func(w *worker) int {
			if w.st.source != nil && w.slot.Load().idx == 0 {
				return 3
			}
			return 0
		}}
		cfg := Config{Store: st, Env: connector.Env{Clock: connector.SystemClock(), BaseDir: dir}, BundleSize: 500, hooks: hooks,
			Scale: ScaleConfig{Interval: 2 * time.Millisecond}}
		x := New(cfg)
		j, err := x.Start(jplan, JobMeta{Name: "rebalance", ID: 1, StateNS: 7})
		if err != nil {
			t.Fatal(err)
		}
		<-j.Done()
		if s, err := j.Outcome(); err != nil || s != StateDone {
			t.Fatalf("seed %d: job ended %s: %v", seed, s, err)
		}
		status := j.Status()
		x.Close()
		got := formatTable(t, st, 99)
		if wantLines := formatOracle(want, plan.WindowSpec{Kind: plan.Tumble, Size: 10 * sec, Slide: 10 * sec}); !sameLines(wantLines, got) {
			t.Fatalf("seed %d: table differs from oracle\n%s", seed, diffLines(wantLines, got))
		}
		var stolen, units int64
		for _, r := range status.Stages[0].Ranges {
			if r.Partition == 0 {
				units++
				if r.Worker == 1 {
					stolen += r.Events
				}
			}
		}
		st.Close()
		if status.EventsIn != int64(len(evs)) {
			t.Fatalf("seed %d: events_in %d, the file has %d records", seed, status.EventsIn, len(evs))
		}
		t.Logf("seed %d: partition 0 ended in %d ranges (finished ones); the fast worker read %d of its records; %d reconfigurations",
			seed, units, stolen, status.Reconfigurations)
		if stolen == 0 {
			t.Fatalf("seed %d: the slowed worker's partition was not rebalanced (%d reconfigurations)", seed, status.Reconfigurations)
		}
	}
}
