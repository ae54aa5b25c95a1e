package executor

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand"
	randv2 "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/batchrepr"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/weir-sql/weir/connector"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/state"
)

// Simulated crashes on Pebble's crashable in-memory filesystem: a job runs
// with a commit hook that, after every Nth bundle commit (N random, small),
// takes a crash image of the filesystem (vfs.MemFS.CrashClone: what was
// synced, and sometimes a random part of what was not) while the other
// workers go on committing. The job is then abandoned, the store reopened
// on the image and checked against the log of every bundle the workers
// committed or were committing:
//
//   - each worker's recovered progress names one of its bundles: not older
//     than the last one whose Commit had returned (nothing acknowledged is
//     lost), not newer than the last one it had started;
//   - that bundle is applied whole (every write it made is there, except
//     queue entries a recovered consumer bundle consumed), and the next
//     one, if it was in flight, left no trace (no half-applied bundle);
//   - across workers, every queue entry and fingerprint on disk belongs to
//     a recovered producer bundle, and no entry is both pending and
//     consumed;
//
// and the job resumes from the image until the next crash. At the end the
// table equals the oracle, late drops match it, and every malformed line is
// a dead letter exactly once.

type crashWorker struct{ stage, idx int }

type crashAt struct {
	w   crashWorker
	seq uint64
}

// crashRec is one bundle commit: its batch, decoded.
type crashRec struct{ ops []batchOp }

// crashView is what the timeline knew when a crash image was taken: per
// worker, the last bundle whose Commit had returned and the last started.
type crashView struct{ done, started map[crashWorker]uint64 }

type crashImage struct {
	fs   *vfs.MemFS
	view crashView
	by   crashWorker // the worker whose commit was just done
	full bool        // check every worker's recovered bundle written whole
}

// crashTimeline is the log of bundle commits along the surviving history,
// and the crash images taken from it.
type crashTimeline struct {
	mu       sync.Mutex
	commits  map[crashWorker]map[uint64]*crashRec
	done     map[crashWorker]uint64
	started  map[crashWorker]uint64
	consumed map[string]crashAt // queue key -> the bundle that deleted it
	rng      *rand.Rand

	// per incarnation
	fs       *vfs.MemFS
	every    int // an image every this many commits
	resumeAt int // the image the job resumes from
	count    int
	images   int
	frozen   bool
	resume   crashImage
	crashed  chan struct{}

	// images checked in the background (not resumed from)
	pending  chan crashImage
	inflight sync.WaitGroup
	checked  atomic.Int64
	errMu    sync.Mutex
	err      error
}

func newCrashTimeline(rng *rand.Rand) *crashTimeline {
	return &crashTimeline{commits: map[crashWorker]map[uint64]*crashRec{}, done: map[crashWorker]uint64{},
		started: map[crashWorker]uint64{}, consumed: map[string]crashAt{}, rng: rng, pending: make(chan crashImage, 64)}
}

func (tl *crashTimeline) arm(fs *vfs.MemFS, every, resumeAt int) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.fs, tl.every, tl.resumeAt, tl.count, tl.images, tl.frozen = fs, every, resumeAt, 0, 0, false
	tl.crashed = make(chan struct{})
}

func (tl *crashTimeline) fail(err error) {
	tl.errMu.Lock()
	if tl.err == nil {
		tl.err = err
	}
	tl.errMu.Unlock()
}

func (tl *crashTimeline) failed() error {
	tl.errMu.Lock()
	defer tl.errMu.Unlock()
	return tl.err
}

func (tl *crashTimeline) view() crashView {
	v := crashView{done: map[crashWorker]uint64{}, started: map[crashWorker]uint64{}}
	for k, s := range tl.done {
		v.done[k] = s
	}
	for k, s := range tl.started {
		v.started[k] = s
	}
	return v
}

func (tl *crashTimeline) hooks() *testHooks {
	return &testHooks{
		beforeCommit: func(w *worker, b *state.Batch) {
			ops, err := decodeBatch(b.Repr())
			if err != nil {
				tl.fail(err)
			}
			tl.mu.Lock()
			defer tl.mu.Unlock()
			if tl.frozen {
				return
			}
			k := crashWorker{w.st.plan.ID, w.idx}
			if tl.commits[k] == nil {
				tl.commits[k] = map[uint64]*crashRec{}
			}
			tl.commits[k][w.meta.Seq] = &crashRec{ops: ops}
			tl.started[k] = w.meta.Seq
			for _, op := range ops {
				if op.kind == pebble.InternalKeyKindDelete && op.key[0] == queuePrefix {
					tl.consumed[string(op.key)] = crashAt{k, w.meta.Seq}
				}
			}
		},
		afterCommit: func(w *worker, _ *state.Batch) {
			tl.mu.Lock()
			if tl.frozen {
				tl.mu.Unlock()
				return
			}
			tl.done[crashWorker{w.st.plan.ID, w.idx}] = w.meta.Seq
			tl.count++
			if tl.count%tl.every != 0 {
				tl.mu.Unlock()
				return
			}
			// A crash image now, while the other workers go on.
			cfg := vfs.CrashCloneCfg{}
			if tl.rng.Intn(2) == 0 {
				cfg = vfs.CrashCloneCfg{UnsyncedDataPercent: tl.rng.Intn(101), RNG: randv2.New(randv2.NewPCG(uint64(tl.rng.Int63()), 1))}
			}
			img := crashImage{fs: tl.fs.CrashClone(cfg), view: tl.view(), by: crashWorker{w.st.plan.ID, w.idx}}
			tl.images++
			if tl.images >= tl.resumeAt {
				tl.frozen = true
				img.full = true
				tl.resume = img
				close(tl.crashed)
				tl.mu.Unlock()
				return
			}
			tl.inflight.Add(1)
			tl.mu.Unlock()
			tl.pending <- img
		},
	}
}

// checkImages verifies background crash images until pending closes.
func (tl *crashTimeline) checkImages(ns uint64) {
	for img := range tl.pending {
		if tl.failed() == nil {
			st, err := openCrashStore(img.fs)
			if err != nil {
				tl.fail(fmt.Errorf("open crash image: %w", err))
			} else {
				if _, err := tl.verify(st, ns, img); err != nil {
					tl.fail(err)
				}
				st.Close()
			}
			tl.checked.Add(1)
		}
		tl.inflight.Done()
	}
}

func openCrashStore(fs *vfs.MemFS) (*state.Store, error) {
	return state.Open("/db", state.Options{FS: noReuseFS{fs}, MemTableBytes: 128 << 10, CacheBytes: 1 << 20})
}

// noReuseFS creates a fresh file where Pebble would recycle an old WAL.
// Pebble v2.1.7's crashable MemFS read-locks its clone lock twice in
// ReuseForWrite (once there and again in the Rename it calls), which
// deadlocks against a CrashClone that comes between the two. Removing the
// old file and creating the new one is within ReuseForWrite's contract.
type noReuseFS struct{ vfs.FS }

func (fs noReuseFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	if err := fs.Remove(oldname); err != nil {
		return nil, err
	}
	return fs.Create(newname, category)
}

type batchOp struct {
	kind pebble.InternalKeyKind
	key  []byte
	val  []byte
}

func decodeBatch(repr []byte) ([]batchOp, error) {
	var ops []batchOp
	r := batchrepr.Read(repr)
	for {
		kind, k, v, ok, err := r.Next()
		if err != nil {
			return nil, err
		}
		if !ok {
			return ops, nil
		}
		ops = append(ops, batchOp{kind: kind, key: k, val: v})
	}
}

// verify checks a reopened crash image against what the timeline knew when
// it was taken, and returns each worker's recovered bundle. Checking that
// a recovered bundle was applied whole reads every key it wrote; images not
// resumed from do it only for the worker that had just committed and for
// workers whose in-flight bundle was recovered.
func (tl *crashTimeline) verify(st *state.Store, ns uint64, img crashImage) (map[crashWorker]uint64, error) {
	view := img.view
	get := func(k []byte) ([]byte, bool, error) { return st.Get(k) }
	recovered := map[crashWorker]uint64{}
	type check struct {
		w            crashWorker
		last, next   *crashRec
		recoveredSeq uint64
	}
	var checks []check
	for wk, started := range view.started {
		var meta workerMeta
		v, ok, err := get(workerMetaKey(ns, wk.stage, wk.idx))
		if err != nil {
			return nil, err
		}
		if ok && !meta.decode(v) {
			return nil, fmt.Errorf("worker %v: corrupt progress", wk)
		}
		if meta.Seq < view.done[wk] {
			return nil, fmt.Errorf("worker %v recovered bundle %d, but bundle %d had committed (lost)", wk, meta.Seq, view.done[wk])
		}
		if meta.Seq > started {
			return nil, fmt.Errorf("worker %v recovered bundle %d, never started (last %d)", wk, meta.Seq, started)
		}
		recovered[wk] = meta.Seq
		tl.mu.Lock()
		c := check{w: wk, recoveredSeq: meta.Seq}
		if img.full || wk == img.by || meta.Seq > view.done[wk] {
			c.last = tl.commits[wk][meta.Seq]
		}
		if meta.Seq < started {
			c.next = tl.commits[wk][meta.Seq+1]
		}
		tl.mu.Unlock()
		checks = append(checks, c)
	}
	consumedByRecovered := func(k string) bool {
		tl.mu.Lock()
		at, ok := tl.consumed[k]
		tl.mu.Unlock()
		return ok && at.seq <= recovered[at.w]
	}
	isFingerprint := func(k []byte) bool { return len(k) > 10 && k[0] == metaPrefix && k[9] == metaFinger }
	for _, c := range checks {
		if c.last != nil && c.recoveredSeq > 0 {
			// Applied whole: the last write of each key is there.
			last := map[string]batchOp{}
			for _, op := range c.last.ops {
				if op.kind != pebble.InternalKeyKindRangeDelete {
					last[string(op.key)] = op
					continue
				}
				// A range deletion (retired fingerprints) covers the
				// batch's earlier writes too.
				for k := range last {
					if k >= string(op.key) && k < string(op.val) {
						last[k] = batchOp{kind: pebble.InternalKeyKindDelete, key: []byte(k)}
					}
				}
			}
			for k, op := range last {
				v, ok, err := get([]byte(k))
				if err != nil {
					return nil, err
				}
				switch op.kind {
				case pebble.InternalKeyKindSet:
					if ok && bytes.Equal(v, op.val) {
						continue
					}
					if !ok && k[0] == queuePrefix && consumedByRecovered(k) {
						continue
					}
					return nil, fmt.Errorf("worker %v bundle %d is the recovered one but its write of %s is missing or different (half-applied)", c.w, c.recoveredSeq, st.FormatKey([]byte(k)))
				case pebble.InternalKeyKindDelete:
					if ok {
						return nil, fmt.Errorf("worker %v bundle %d is the recovered one but its deletion of %s is not applied (half-applied)", c.w, c.recoveredSeq, st.FormatKey([]byte(k)))
					}
				}
			}
		}
		if c.next != nil {
			// In flight, not recovered: no trace of it.
			for _, op := range c.next.ops {
				_, ok, err := get(op.key)
				if err != nil {
					return nil, err
				}
				switch {
				case op.kind == pebble.InternalKeyKindSet && (op.key[0] == queuePrefix || op.key[0] == deadPrefix || isFingerprint(op.key)):
					if ok {
						return nil, fmt.Errorf("worker %v bundle %d is not recovered but its write of %s is there (half-applied)", c.w, c.recoveredSeq+1, st.FormatKey(op.key))
					}
				case op.kind == pebble.InternalKeyKindDelete && op.key[0] == queuePrefix:
					if !ok {
						return nil, fmt.Errorf("worker %v bundle %d is not recovered but the entry %s it consumed is gone (half-applied)", c.w, c.recoveredSeq+1, st.FormatKey(op.key))
					}
				}
			}
		}
	}
	// Causality across workers.
	fps := map[string]bool{} // stage, dest, id
	p := append(nsKey(metaPrefix, ns, 1), metaFinger)
	var bad error
	if err := st.Scan(p, state.PrefixEnd(p), func(k, _ []byte) error {
		id := k[len(k)-fpIDLen:]
		from := crashWorker{int(binary.BigEndian.Uint16(id)), int(binary.BigEndian.Uint32(id[2:]))}
		if seq := binary.BigEndian.Uint64(id[6:]); seq > recovered[from] {
			bad = fmt.Errorf("fingerprint of bundle %d of %v, which recovered only %d", seq, from, recovered[from])
		}
		fps[string(k[10:16])+string(id)] = true
		return nil
	}); err != nil {
		return nil, err
	}
	q := nsKey(queuePrefix, ns, 0)
	if err := st.Scan(q, state.PrefixEnd(q), func(k, _ []byte) error {
		id := k[len(k)-fpIDLen:]
		from := crashWorker{int(binary.BigEndian.Uint16(id)), int(binary.BigEndian.Uint32(id[2:]))}
		if seq := binary.BigEndian.Uint64(id[6:]); seq > recovered[from] {
			bad = fmt.Errorf("queue entry of bundle %d of %v, which recovered only %d", seq, from, recovered[from])
		}
		if fps[string(k[9:15])+string(id)] {
			bad = fmt.Errorf("queue entry %s is pending and fingerprinted as consumed", st.FormatKey(k))
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return recovered, bad
}

// prune forgets the bundles the resumed image did not recover: the workers
// commit those sequence numbers again.
func (tl *crashTimeline) prune(recovered map[crashWorker]uint64) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	for wk, m := range tl.commits {
		s := recovered[wk]
		for seq := range m {
			if seq > s {
				delete(m, seq)
			}
		}
		tl.done[wk], tl.started[wk] = s, s
	}
	for k, at := range tl.consumed {
		if at.seq > recovered[at.w] {
			delete(tl.consumed, k)
		}
	}
}

func countDeadLetters(t *testing.T, st *state.Store, ns uint64) int {
	n := 0
	p := nsKey(deadPrefix, ns, 0)
	if err := st.Scan(p, state.PrefixEnd(p), func(_, _ []byte) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

type crashCase struct {
	name        string
	spec        plan.WindowSpec
	lateness    int64
	bundle      int
	parallelism int
	every       int // a crash image after every 1..every commits
	resumeEvery int // the job resumes from one image in 1..resumeEvery
	events      int
	alwaysMaybe bool
}

// TestCrashSimulated runs windowed jobs through many crash points (see
// above): 10,000 images per run of the test (1,000 with -short, 50,000
// with -stress). Each image costs about 3 ms of CPU (a Pebble open); on a
// machine too loaded to check them in 45 s the test stops there, logs the
// count, and requires a fifth of them.
func TestCrashSimulated(t *testing.T) {
	const sec = int64(1_000_000)
	cases := []crashCase{
		{name: "tumble", spec: plan.WindowSpec{Kind: plan.Tumble, Size: 10 * sec}, bundle: 40, parallelism: 3, every: 2, resumeEvery: 8, events: 1500},
		{name: "hop-lateness", spec: plan.WindowSpec{Kind: plan.Hop, Size: 20 * sec, Slide: 5 * sec}, lateness: 30 * sec, bundle: 60, parallelism: 2, every: 2, resumeEvery: 8, events: 1500},
		{name: "tumble-always-maybe", spec: plan.WindowSpec{Kind: plan.Tumble, Size: 30 * sec, Offset: 7 * sec}, bundle: 25, parallelism: 4, every: 1, resumeEvery: 8, events: 1000, alwaysMaybe: true},
	}
	target := 10_000
	if testing.Short() {
		target = 1000
	}
	if *stressFlag {
		target = 50_000
	}
	budget := 45 * time.Second
	if *stressFlag {
		budget = time.Hour
	}
	var images, resumes int
	start := time.Now()
	for round := 0; images < target; round++ {
		if time.Since(start) > budget {
			if images < target/5 {
				t.Fatalf("only %d crash images checked in %v", images, budget)
			}
			t.Logf("time budget spent: stopping at %d crash images (target %d)", images, target)
			break
		}
		c := cases[round%len(cases)]
		seed := time.Now().UnixNano()
		if *seedFlag != 0 {
			seed = *seedFlag
		}
		n, r := runCrashCase(t, c, seed)
		images += n
		resumes += r
		if *seedFlag != 0 {
			break
		}
	}
	t.Logf("%d crash images checked, %d of them resumed to completion, in %v", images, resumes, time.Since(start).Round(time.Millisecond))
}

// runCrashCase runs one job to completion through crash images and returns
// how many images were checked and how many the job resumed from.
func runCrashCase(t *testing.T, c crashCase, seed int64) (images, resumes int) {
	t.Helper()
	rng := rand.New(rand.NewSource(seed))
	const delay = 5_000_000
	evs := genEvents(rng, c.events, 5+rng.Intn(40), delay)
	dir := t.TempDir()
	path := filepath.Join(dir, "readings.csv")
	writeCSV(t, path, evs, 15, rng)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Count(string(raw), "broken,")
	spec := c.spec
	if spec.Kind == plan.Tumble {
		spec.Slide = spec.Size
	}
	want, wantDropped := oracle(evs, spec, delay, c.lateness)
	jplan := windowJob(path, c.spec, delay, 99, c.lateness)
	jplan.Stages[0].Parallelism = 1
	jplan.Stages[1].Parallelism = c.parallelism
	meta := JobMeta{Name: "crash", ID: 1, StateNS: 7}
	fatal := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s seed %d (re-run with -seed %d): after %d resumes: %s", c.name, seed, seed, resumes, fmt.Sprintf(format, args...))
	}

	tl := newCrashTimeline(rng)
	var verifiers sync.WaitGroup
	for i := 0; i < 2; i++ {
		verifiers.Add(1)
		go func() {
			defer verifiers.Done()
			tl.checkImages(meta.StateNS)
		}()
	}
	defer func() {
		close(tl.pending)
		verifiers.Wait()
	}()
	fs := vfs.NewCrashableMem()
	var resumeImg *crashImage
	for {
		st, err := openCrashStore(fs)
		if err != nil {
			fatal("reopen: %v", err)
		}
		if resumeImg != nil {
			recovered, err := tl.verify(st, meta.StateNS, *resumeImg)
			if err != nil {
				fatal("%v", err)
			}
			tl.prune(recovered)
			images++
		}
		tl.arm(fs, 1+rng.Intn(c.every), 1+rng.Intn(c.resumeEvery))
		hooks := tl.hooks()
		hooks.alwaysMaybe = c.alwaysMaybe
		hooks.sliceBundles = 1 + rng.Intn(4)
		x := New(Config{Store: st, Env: connector.Env{Clock: connector.SystemClock(), BaseDir: dir}, BundleSize: c.bundle, hooks: hooks})
		j, err := x.Start(jplan, meta)
		if err != nil {
			fatal("start: %v", err)
		}
		var crashed bool
		select {
		case <-tl.crashed:
			crashed = true
		case <-j.Done():
			tl.mu.Lock()
			crashed = tl.frozen
			tl.mu.Unlock()
		}
		if crashed {
			j.Cancel()
			x.Close()
			st.Close()
			tl.inflight.Wait() // background images of this run are checked
			if err := tl.failed(); err != nil {
				fatal("%v", err)
			}
			tl.mu.Lock()
			img := tl.resume
			fs, resumeImg = img.fs, &img
			tl.mu.Unlock()
			resumes++
			continue
		}
		if s, err := j.Outcome(); s != StateDone || err != nil {
			fatal("job ended %s: %v", s, err)
		}
		status := j.Status()
		x.Close()
		tl.inflight.Wait()
		if err := tl.failed(); err != nil {
			fatal("%v", err)
		}
		images += int(tl.checked.Load())
		got := formatTable(t, st, 99)
		wantLines := formatOracle(want, spec)
		if !sameLines(wantLines, got) {
			fatal("the table differs from the oracle\n%s", diffLines(wantLines, got))
		}
		if status.LateDropped != wantDropped {
			fatal("late_dropped %d, oracle %d", status.LateDropped, wantDropped)
		}
		if n := countDeadLetters(t, st, meta.StateNS); n != bad {
			fatal("%d dead letters for %d malformed lines", n, bad)
		}
		if status.BadRecords != int64(bad) {
			fatal("bad_records %d for %d malformed lines", status.BadRecords, bad)
		}
		st.Close()
		t.Logf("%s seed %d: %d crash images (%d resumed), %d events, %d windows, %d dead letters", c.name, seed, images, resumes, len(evs), len(want), bad)
		return images, resumes
	}
}
