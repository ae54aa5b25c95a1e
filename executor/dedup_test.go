package executor

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/weir-sql/weir/connector"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/state"
)

// fakeClock is a manual connector.Clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(time.Duration) <-chan time.Time { return make(chan time.Time) }

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// dedupRig is one keyed worker's fingerprinting over a store, with two
// upstream producers whose progress the test sets by hand.
type dedupRig struct {
	t     testing.TB
	st    *state.Store
	clock *fakeClock
	hooks *testHooks
	prods []*worker
	w     *worker
}

func newDedupRig(t testing.TB, st *state.Store, clock *fakeClock, hooks *testHooks) *dedupRig {
	x := New(Config{Store: st, Env: connector.Env{Clock: clock}, hooks: hooks})
	j := &Job{x: x, meta: JobMeta{Name: "fp", ID: 1, StateNS: 5}}
	up := &stageRT{plan: &plan.Stage{ID: 0, Name: "s0"}, job: j}
	var prods []*worker
	for i := 0; i < 2; i++ {
		prods = append(prods, &worker{job: j, st: up, idx: i, unit: unit{ID: uint32(i), Part: int32(i)}})
	}
	up.setList(prods)
	ks := &stageRT{plan: &plan.Stage{ID: 1, Name: "s1"}, job: j, upstreams: []*stageRT{up}, nb: 1}
	w := &worker{job: j, st: ks, idx: 0, b0: 0, b1: 1, batch: st.NewBatch()}
	ks.setList([]*worker{w})
	var err error
	if w.dedup, err = newDedup(w); err != nil {
		t.Fatal(err)
	}
	return &dedupRig{t: t, st: st, clock: clock, hooks: hooks, prods: up.list(), w: w}
}

func fpQueueKey(from int, seq uint64) []byte { return queueKey(5, 1, 0, 0, from, seq) }

// bundle runs one consumer bundle over the given entries (producer, seq)
// and commits it; it returns how many were dropped as duplicates.
func (r *dedupRig) bundle(entries ...[2]int) int {
	r.t.Helper()
	d := r.w.dedup
	d.observe()
	dups := 0
	for _, e := range entries {
		k := fpQueueKey(e[0], uint64(e[1]))
		dup, err := d.admit(k)
		if err != nil {
			r.t.Fatal(err)
		}
		if dup {
			dups++
			r.w.batch.Delete(k)
		}
	}
	d.endBundle()
	if err := r.st.Commit(r.w.batch); err != nil {
		r.t.Fatal(err)
	}
	r.w.batch.Reset()
	return dups
}

// stored returns the fingerprints in the store, as "slice:producer/seq".
func (r *dedupRig) stored() []string {
	var out []string
	p := fingerprintPrefix(5, 1, 0)
	err := r.st.Scan(p, state.PrefixEnd(p), func(k, _ []byte) error {
		rest := k[len(p):]
		out = append(out, fmt.Sprintf("%d:%d/%d", binary.BigEndian.Uint64(rest), binary.BigEndian.Uint32(rest[10:]), binary.BigEndian.Uint64(rest[14:])))
		return nil
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return out
}

func (r *dedupRig) publish(seq0, seq1 uint64) {
	r.prods[0].pubSeq.Store(seq0)
	r.prods[1].pubSeq.Store(seq1)
}

// TestFingerprintSlices checks the fingerprint store step by step: new and
// repeated entries, duplicates within a bundle, rotation, garbage
// collection by the producers' progress, restart with rebuilt or discarded
// filters, and the always-maybe hook.
func TestFingerprintSlices(t *testing.T) {
	st, err := state.Open("/db", state.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	hooks := &testHooks{sliceBundles: 2}
	r := newDedupRig(t, st, clock, hooks)
	r.publish(1, 1)

	if n := r.bundle([2]int{0, 1}, [2]int{1, 1}, [2]int{0, 1}); n != 1 {
		t.Fatalf("duplicate within a bundle: %d dropped, want 1", n)
	}
	if n := r.bundle([2]int{0, 1}, [2]int{1, 1}, [2]int{0, 2}); n != 2 {
		t.Fatalf("redelivered entries: %d dropped, want 2", n)
	}
	// Two bundles: slice 1 closed (marks 1,1), slice 2 open.
	if got := strings.Join(r.stored(), " "); got != "1:0/1 1:0/2 1:1/1" {
		t.Fatalf("stored fingerprints %q", got)
	}
	if len(r.w.dedup.slices) != 2 || !r.w.dedup.slices[0].closed {
		t.Fatalf("slice 1 did not rotate: %d slices", len(r.w.dedup.slices))
	}

	// Producer 0 two commits ahead, producer 1 not: slice 1 stays.
	r.publish(3, 2)
	r.bundle([2]int{0, 3})
	if got := r.stored(); len(got) != 4 {
		t.Fatalf("slice 1 retired too early: %v", got)
	}
	// Producer 1 finished: its watermark is +inf.
	r.prods[1].pubWM.Store(maxWM)
	r.bundle([2]int{0, 4})
	if got := strings.Join(r.stored(), " "); got != "2:0/3 2:0/4" {
		t.Fatalf("after retiring slice 1: %q", got)
	}
	// The retired window is over: the protocol rules out such a retry.
	if n := r.bundle([2]int{0, 1}); n != 0 {
		t.Fatalf("retired fingerprint still matched")
	}
	r.prods[1].pubWM.Store(0)

	// A restart rebuilds the filters from the store.
	r.publish(5, 3)
	r2 := newDedupRig(t, st, clock, &testHooks{sliceBundles: 2})
	if n := r2.bundle([2]int{0, 3}, [2]int{0, 4}, [2]int{0, 9}); n != 2 {
		t.Fatalf("after restart: %d dropped, want 2", n)
	}
	if s := r2.w.dedup.slices[0]; s.filter == nil || s.marks == nil {
		t.Fatalf("restored slice: filter %v marks %v", s.filter != nil, s.marks)
	}
	// Discarded filters: the exact store alone answers.
	r3 := newDedupRig(t, st, clock, &testHooks{dropFilters: true})
	m0 := r3.w.dedup.maybes.Load()
	if n := r3.bundle([2]int{0, 3}, [2]int{0, 9}, [2]int{1, 7}); n != 2 {
		t.Fatalf("without filters: %d dropped, want 2", n)
	}
	if r3.w.dedup.maybes.Load() == m0 {
		t.Fatalf("without filters no store reads happened")
	}
	// Always "maybe": every live slice is read for a new entry.
	r4 := newDedupRig(t, st, clock, &testHooks{alwaysMaybe: true})
	m0 = r4.w.dedup.maybes.Load()
	slices := int64(len(r4.w.dedup.slices))
	if n := r4.bundle([2]int{1, 100}); n != 0 {
		t.Fatalf("new entry dropped")
	}
	if got := r4.w.dedup.maybes.Load() - m0; got != slices {
		t.Fatalf("always-maybe: %d store reads, want %d", got, slices)
	}
	if n := r4.bundle([2]int{1, 100}); n != 1 {
		t.Fatalf("always-maybe: duplicate not dropped")
	}
}

// TestFingerprintFilterRate checks that a filter sized from the observed
// rate keeps false positives (store reads for new entries) near 1%, and
// that time rotates slices.
func TestFingerprintFilterRate(t *testing.T) {
	st, err := state.Open("/db", state.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	r := newDedupRig(t, st, clock, nil)
	seq := 0
	// 1 s of processing time per bundle of 500 entries: the first slice
	// fills its minimal filter and closes; the next is sized for the rate.
	for b := 0; b < 40; b++ {
		var es [][2]int
		for i := 0; i < 500; i++ {
			seq++
			es = append(es, [2]int{seq % 2, seq})
		}
		if n := r.bundle(es...); n != 0 {
			t.Fatalf("bundle %d: %d new entries dropped", b, n)
		}
		clock.advance(time.Second)
	}
	d := r.w.dedup
	fp, maybes := d.falsePo.Load(), d.maybes.Load()
	rate := float64(fp) / float64(seq)
	t.Logf("%d entries, %d slices, %d store reads (%.2f%% per entry)", seq, len(d.slices), maybes, 100*rate)
	if len(d.slices) < 3 {
		t.Fatalf("slices did not rotate: %d", len(d.slices))
	}
	if rate > 0.05 {
		t.Fatalf("false positive rate %.3f", rate)
	}
	for _, s := range d.slices[1 : len(d.slices)-1] {
		if s.cap < 4000 {
			t.Fatalf("slice %d sized for %d entries at 500 entries/s", s.id, s.cap)
		}
	}
}

// TestFingerprintSourceOffsets checks the source stage's fingerprint: the
// committed position.
func TestFingerprintSourceOffsets(t *testing.T) {
	d := &dedup{srcNext: 100}
	for _, c := range []struct {
		off  int64
		seen bool
	}{{50, true}, {99, true}, {100, false}, {100, true}, {140, false}, {120, true}, {141, false}} {
		if got := d.sourceSeen(c.off); got != c.seen {
			t.Fatalf("offset %d: seen %v, want %v", c.off, got, c.seen)
		}
	}
	if d.dropped.Load() != 4 {
		t.Fatalf("dropped %d", d.dropped.Load())
	}
}

// runWindowJob runs the oracle's windowed job to completion on st with cfg
// and returns its final status and table lines.
func runWindowJob(t *testing.T, st *state.Store, cfg Config, jplan *plan.JobPlan) (Status, DedupStats) {
	t.Helper()
	cfg.Store = st
	x := New(cfg)
	defer x.Close()
	j, err := x.Start(jplan, JobMeta{Name: "oracle", ID: 1, StateNS: 7})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-j.Done():
	case <-time.After(60 * time.Second):
		t.Fatal("job did not finish")
	}
	if s, err := j.Outcome(); s != StateDone || err != nil {
		t.Fatalf("job ended %s: %v", s, err)
	}
	return j.Status(), j.DedupStats()
}

// TestDedupRedelivery hands a share of the committed deliveries to their
// consumer twice (a producer's retry) on the in-memory path: the job's
// table must equal the oracle and every retry must be counted as dropped;
// with fingerprinting off, the same retries corrupt the result.
func TestDedupRedelivery(t *testing.T) {
	const sec = int64(1_000_000)
	spec := plan.WindowSpec{Kind: plan.Tumble, Size: 10 * sec, Slide: 10 * sec}
	for _, c := range []struct {
		name  string
		hooks testHooks
		off   bool
	}{
		{name: "filters", hooks: testHooks{sliceBundles: 3}},
		{name: "always-maybe", hooks: testHooks{alwaysMaybe: true, sliceBundles: 1}},
		{name: "big-slices", hooks: testHooks{}},
		{name: "fingerprints-off", off: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, seed := range seeds(t, 1) {
				t.Logf("seed %d", seed)
				rng := rand.New(rand.NewSource(seed))
				const delay = 5_000_000
				evs := genEvents(rng, 4000, 40, delay)
				dir := t.TempDir()
				path := filepath.Join(dir, "readings.csv")
				writeCSV(t, path, evs, 10, rng)
				want, _ := oracle(evs, spec, delay, 0)
				st, err := state.Open("/db", state.Options{FS: vfs.NewMem()})
				if err != nil {
					t.Fatal(err)
				}
				defer st.Close()
				// Retry a third of the deliveries, half of them only at the
				// producer's next commit (so they meet the fingerprint
				// store rather than the current bundle's).
				var mu sync.Mutex
				var retried int64
				prev := map[*worker][]delivery{}
				hooks := c.hooks
				hooks.redeliver = func(w *worker, ds []delivery) []delivery {
					mu.Lock()
					defer mu.Unlock()
					var again []delivery
					for _, d := range prev[w] {
						if rng.Intn(6) == 0 {
							again = append(again, d)
						}
					}
					for _, d := range ds {
						if rng.Intn(6) == 0 {
							again = append(again, d)
						}
					}
					prev[w] = ds
					retried += int64(len(again))
					if len(again) > 0 {
						// Let the consumer take (and commit) the
						// originals first.
						mu.Unlock()
						time.Sleep(time.Millisecond)
						mu.Lock()
					}
					return again
				}
				jplan := windowJob(path, spec, delay, 99, 0)
				jplan.Stages[0].Parallelism = 1
				jplan.Stages[1].Parallelism = 3
				cfg := Config{Env: connector.Env{Clock: connector.SystemClock(), BaseDir: dir}, BundleSize: 150,
					hooks: &hooks, NoFingerprints: c.off}
				_, ds := runWindowJob(t, st, cfg, jplan)
				got := formatTable(t, st, 99)
				same := sameLines(formatOracle(want, spec), got)
				t.Logf("%d retries, %d dropped, %d store reads, %d false positives", retried, ds.Dropped, ds.Maybes, ds.FalsePositives)
				if c.off {
					if retried > 0 && same {
						t.Fatalf("with fingerprints off, %d retries left the result intact", retried)
					}
					return
				}
				if !same {
					t.Fatalf("table differs from oracle\n%s", diffLines(formatOracle(want, spec), got))
				}
				if ds.Dropped != retried {
					t.Fatalf("%d duplicates dropped, %d retried", ds.Dropped, retried)
				}
			}
		})
	}
}

// TestDedupRestartRedelivery stops a job part way, writes back queue
// entries it had consumed (a producer re-sending after a crash: they come
// back through the queue scan at start), and resumes it with the filters
// rebuilt or discarded: each entry whose fingerprint is still live is
// dropped, and the result equals the oracle.
func TestDedupRestartRedelivery(t *testing.T) {
	const sec = int64(1_000_000)
	spec := plan.WindowSpec{Kind: plan.Hop, Size: 20 * sec, Slide: 5 * sec}
	for _, drop := range []bool{false, true} {
		t.Run(fmt.Sprintf("dropFilters=%v", drop), func(t *testing.T) {
			seed := seeds(t, 1)[0]
			t.Logf("seed %d", seed)
			rng := rand.New(rand.NewSource(seed))
			const delay = 5_000_000
			evs := genEvents(rng, 5000, 30, delay)
			dir := t.TempDir()
			path := filepath.Join(dir, "readings.csv")
			writeCSV(t, path, evs, 0, rng)
			want, _ := oracle(evs, spec, delay, 0)
			st, err := state.Open("/db", state.Options{FS: vfs.NewMem()})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			jplan := windowJob(path, spec, delay, 99, 0)
			jplan.Stages[0].Parallelism = 1
			jplan.Stages[1].Parallelism = 2
			// Capture every delivery's encoded entry.
			var mu sync.Mutex
			sent := map[string][]byte{}
			var sentRows int64
			// The source stops before its 25th commit until the job stops;
			// the consumers catch up meanwhile.
			halfway := make(chan struct{})
			hooks := &testHooks{sliceBundles: 4, redeliver: func(w *worker, ds []delivery) []delivery {
				mu.Lock()
				for _, d := range ds {
					sent[string(d.key)] = encodeDelivery(d.hashes, d.rows)
					sentRows += int64(len(d.rows))
				}
				mu.Unlock()
				return nil
			}, beforeCommit: func(w *worker, _ *state.Batch) {
				if w.st.source != nil && w.meta.Seq == 25 {
					close(halfway)
					<-w.job.ctx.Done()
				}
			}}
			cfg := Config{Store: st, Env: connector.Env{Clock: connector.SystemClock(), BaseDir: dir}, BundleSize: 100, hooks: hooks,
				Scale: ScaleConfig{Off: true}}
			x := New(cfg)
			j, err := x.Start(jplan, JobMeta{Name: "oracle", ID: 1, StateNS: 7})
			if err != nil {
				t.Fatal(err)
			}
			select {
			case <-halfway:
			case <-j.Done():
				t.Fatal("job finished before the stop")
			}
			// The consumers have committed every row delivered so far.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			ok, err := j.WaitFor(ctx, func() bool {
				var done int64
				for _, w := range j.stages[1].list() {
					done += w.processed.Load()
				}
				mu.Lock()
				defer mu.Unlock()
				return done == sentRows
			})
			cancel()
			if !ok || err != nil {
				t.Fatalf("the consumers did not catch up: %v", err)
			}
			j.Stop()
			x.Close()
			// Write back every consumed entry whose fingerprint is live.
			live := map[string]bool{}
			p := fingerprintStagePrefix(7, 1)
			if err := st.Scan(p, state.PrefixEnd(p), func(k, _ []byte) error {
				live[fmt.Sprint(binary.BigEndian.Uint16(k[len(p):]), string(k[len(p)+10:]))] = true
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			// A consumer that finished does not run again: nothing is
			// re-sent to it.
			done := map[int]bool{}
			for _, w := range j.stages[1].list() {
				var m workerMeta
				if v, ok, err := st.Get(workerMetaKey(7, 1, w.idx)); err != nil || !ok || !m.decode(v) {
					t.Fatalf("unit %d progress: %v", w.idx, err)
				}
				for b := w.b0; b < w.b1; b++ {
					done[b] = m.Done
				}
			}
			b := st.NewBatch()
			rewritten := 0
			mu.Lock()
			for k, v := range sent {
				key := []byte(k)
				if _, present, _ := st.Get(key); present {
					continue // not consumed yet
				}
				if live[fmt.Sprint(bucketOfKey(key), string(key[len(key)-fpIDLen:]))] && !done[bucketOfKey(key)] {
					b.Set(key, v)
					rewritten++
				}
			}
			mu.Unlock()
			if err := st.Commit(b); err != nil {
				t.Fatal(err)
			}
			if rewritten == 0 {
				t.Fatal("no consumed entry with a live fingerprint to re-send")
			}
			cfg.hooks = &testHooks{dropFilters: drop}
			_, ds := runWindowJob(t, st, cfg, jplan)
			got := formatTable(t, st, 99)
			if !sameLines(formatOracle(want, spec), got) {
				t.Fatalf("table differs from oracle\n%s", diffLines(formatOracle(want, spec), got))
			}
			t.Logf("%d entries re-sent, %d dropped, %d store reads", rewritten, ds.Dropped, ds.Maybes)
			if ds.Dropped != int64(rewritten) {
				t.Fatalf("%d duplicates dropped, %d re-sent", ds.Dropped, rewritten)
			}
		})
	}
}

// BenchmarkFingerprintAdmit measures admitting a new queue entry (filter
// tests over the live slices, the fingerprint write into the batch) and,
// with commits every 64 entries, the rotation and retirement of slices.
func BenchmarkFingerprintAdmit(b *testing.B) {
	st, err := state.Open("/db", state.Options{FS: vfs.NewMem()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	r := newDedupRig(b, st, clock, &testHooks{sliceBundles: 16})
	d := r.w.dedup
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%64 == 0 {
			r.publish(uint64(i/64), uint64(i/64))
			d.observe()
		}
		if dup, err := d.admit(fpQueueKey(i%2, uint64(i))); err != nil || dup {
			b.Fatal(dup, err)
		}
		if i%64 == 63 {
			d.endBundle()
			if err := st.Commit(r.w.batch); err != nil {
				b.Fatal(err)
			}
			r.w.batch.Reset()
		}
	}
}
