package executor

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/weir-sql/weir/connector"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/state"
)

// TestFaultCommitErrors injects storage failures into the write-ahead log
// (Pebble's errorfs) at a random bundle commit of a running windowed job: a
// full disk (ENOSPC on writes, SQLSTATE 53100) or a failing device (EIO on
// syncs, 58030). The job must fail with that SQLSTATE and a message that
// says where it stopped; every bundle whose commit had returned must
// survive, whether the process then dies (a crash image) or closes the
// store; and a restart on the repaired disk must finish the job with the
// oracle's result and every dead letter exactly once.
func TestFaultCommitErrors(t *testing.T) {
	const sec = int64(1_000_000)
	spec := plan.WindowSpec{Kind: plan.Tumble, Size: 10 * sec, Slide: 10 * sec}
	for _, c := range []struct {
		name  string
		errno syscall.Errno
		ops   []errorfs.OpKind
		code  string
		crash bool
	}{
		{name: "disk-full", errno: syscall.ENOSPC, ops: []errorfs.OpKind{errorfs.OpFileWrite, errorfs.OpFileWriteAt, errorfs.OpFileSync, errorfs.OpFileSyncData}, code: pgerr.DiskFull, crash: true},
		{name: "disk-full-clean-close", errno: syscall.ENOSPC, ops: []errorfs.OpKind{errorfs.OpFileWrite, errorfs.OpFileWriteAt, errorfs.OpFileSync, errorfs.OpFileSyncData}, code: pgerr.DiskFull},
		{name: "sync-error", errno: syscall.EIO, ops: []errorfs.OpKind{errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo}, code: pgerr.IOError, crash: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, seed := range seeds(t, 2) {
				runFaultCase(t, spec, c.errno, c.ops, c.code, c.crash, seed)
			}
		})
	}
}

func runFaultCase(t *testing.T, spec plan.WindowSpec, errno syscall.Errno, ops []errorfs.OpKind, code string, crash bool, seed int64) {
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	const delay = 5_000_000
	evs := genEvents(rng, 3000, 30, delay)
	dir := t.TempDir()
	path := filepath.Join(dir, "readings.csv")
	writeCSV(t, path, evs, 10, rng)
	want, _ := oracle(evs, spec, delay, 0)
	jplan := windowJob(path, spec, delay, 99, 0)
	jplan.Stages[0].Parallelism = 1
	jplan.Stages[1].Parallelism = 2
	meta := JobMeta{Name: "faulty", ID: 1, StateNS: 7}

	mem := vfs.NewCrashableMem()
	var failWAL atomic.Bool
	inject := errorfs.InjectorFunc(func(op errorfs.Op) error {
		if !failWAL.Load() || !strings.HasSuffix(op.Path, ".log") {
			return nil
		}
		for _, k := range ops {
			if op.Kind == k {
				return fmt.Errorf("%s: %w", op.Path, errno)
			}
		}
		return nil
	})
	st, err := state.Open("/db", state.Options{FS: errorfs.Wrap(mem, inject)})
	if err != nil {
		t.Fatal(err)
	}
	// Fail the WAL at a random commit; record the bundles that committed.
	failAt := 5 + rng.Intn(30) // the source alone commits 50 bundles
	var mu sync.Mutex
	commits := 0
	acked := map[crashWorker]uint64{}
	hooks := &testHooks{
		beforeCommit: func(w *worker, _ *state.Batch) {
			mu.Lock()
			defer mu.Unlock()
			if commits++; commits == failAt {
				failWAL.Store(true)
			}
		},
		afterCommit: func(w *worker, _ *state.Batch) {
			mu.Lock()
			acked[crashWorker{w.st.plan.ID, w.idx}] = w.meta.Seq
			mu.Unlock()
		},
	}
	cfg := Config{Store: st, Env: connector.Env{Clock: connector.SystemClock(), BaseDir: dir}, BundleSize: 60, hooks: hooks}
	x := New(cfg)
	j, err := x.Start(jplan, meta)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-j.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("job did not stop")
	}
	state1, runErr := j.Outcome()
	if state1 != StateFailed || pgerr.Code(runErr) != code {
		t.Fatalf("job ended %s: %v (code %s), want FAILED with %s", state1, runErr, pgerr.Code(runErr), code)
	}
	if msg := runErr.Error(); !strings.Contains(msg, "committing a bundle of stage") || !strings.Contains(msg, "resumes from there after a restart") {
		t.Fatalf("unclear error: %s", msg)
	}
	t.Logf("failed at commit %d: %v", failAt, runErr)
	x.Close()
	// The process dies (a crash image of what was synced), or the disk is
	// repaired and the store closed.
	var next vfs.FS
	if crash {
		next = mem.CrashClone(vfs.CrashCloneCfg{})
		_ = st.Close()
	} else {
		failWAL.Store(false)
		_ = st.Close()
		next = mem
	}
	st, err = state.Open("/db", state.Options{FS: next})
	if err != nil {
		t.Fatalf("reopen after the failure: %v", err)
	}
	defer st.Close()
	mu.Lock()
	for wk, seq := range acked {
		var m workerMeta
		v, ok, err := st.Get(workerMetaKey(meta.StateNS, wk.stage, wk.idx))
		if err != nil || !ok || !m.decode(v) {
			t.Fatalf("worker %v: progress lost after the failure (%v)", wk, err)
		}
		if m.Seq < seq {
			t.Fatalf("worker %v: bundle %d had committed, recovered %d", wk, seq, m.Seq)
		}
	}
	mu.Unlock()
	cfg.Store, cfg.hooks = st, nil
	status, _ := runWindowJob(t, st, cfg, jplan)
	got := formatTable(t, st, 99)
	if !sameLines(formatOracle(want, spec), got) {
		t.Fatalf("after the restart the table differs from the oracle\n%s", diffLines(formatOracle(want, spec), got))
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Count(string(raw), "broken,")
	if n := countDeadLetters(t, st, meta.StateNS); n != bad || status.BadRecords != int64(bad) {
		t.Fatalf("%d dead letters, %d bad records, for %d malformed lines", n, status.BadRecords, bad)
	}
}
