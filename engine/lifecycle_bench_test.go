package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weir-sql/weir/datum"
)

// BenchmarkLifecycle measures, over a job with WEIR_BENCH_STATE_MB (default
// 100) MB of state: how long a snapshot holds the job (idle and under
// load), how long copying the snapshot takes (the job runs meanwhile), and
// how long an update takes end to end when the state stays in place and
// when it is copied (a rename). Run with
//
//	go test ./engine -run '^$' -bench Lifecycle -benchtime 1x
func BenchmarkLifecycle(b *testing.B) {
	mb := 100
	if v, err := strconv.Atoi(os.Getenv("WEIR_BENCH_STATE_MB")); err == nil && v > 0 {
		mb = v
	}
	for i := 0; i < b.N; i++ {
		benchLifecycle(b, mb)
	}
	b.ReportMetric(0, "ns/op")
}

func benchLifecycle(b *testing.B, mb int) {
	dir := b.TempDir()
	e, err := Open(Options{DataDir: filepath.Join(dir, "data"), Parallelism: 4})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	s := e.NewSession()
	ctx := context.Background()
	exec := func(q string) []*Result {
		res, err := s.Exec(ctx, q)
		if err != nil {
			b.Fatalf("%s: %v", q, err)
		}
		return res
	}
	exec(`CREATE SOURCE big (id BIGINT NOT NULL, v BIGINT, ts TIMESTAMP NOT NULL, WATERMARK FOR ts AS ts);
CREATE SINK out (id BIGINT, n BIGINT, s BIGINT, lo BIGINT, hi BIGINT) WITH (connector = 'blackhole');
CREATE JOB big AS INSERT INTO out SELECT id, count(*), sum(v), min(v), max(v) FROM big GROUP BY id;`)
	src, _ := e.Catalog().GetSource("big")
	var next, seq atomic.Int64
	// appendRows appends n rows: new keys, or (update) keys seen before.
	appendRows := func(n int, update bool) {
		rows := make([]datum.Row, n)
		for i := range rows {
			id := next.Add(1)
			if update {
				next.Add(-1)
				id = 1 + seq.Add(7919)%next.Load()
			}
			rows[i] = datum.Row{datum.NewInt(id), datum.NewInt(id % 1000), datum.NewTimestamp(1_700_000_000_000_000 + id)}
		}
		if _, err := e.logs.Append(src.ID, rows); err != nil {
			b.Error(err)
		}
	}
	// About 52 bytes of state (key and value) per key.
	keys := mb << 20 / 52
	t0 := time.Now()
	for done := 0; done < keys; done += 50_000 {
		appendRows(50_000, false)
	}
	wm := 1_700_000_000_000_000 + next.Load() + 1
	if err := e.AdvanceWatermark("big", wm); err != nil {
		b.Fatal(err)
	}
	if err := e.WaitSourceWatermark(ctx, "big", wm); err != nil {
		b.Fatal(err)
	}
	b.Logf("state: %d keys processed in %s", keys, time.Since(t0).Round(time.Millisecond))

	// Idle snapshot.
	t0 = time.Now()
	snap, pause, err := e.takeSnapshot(ctx, "idle", "big", 0, true, false, false)
	if err != nil {
		b.Fatal(err)
	}
	took := time.Since(t0)
	gb := float64(snap.Bytes) / (1 << 30)
	b.Logf("idle snapshot: %.1f MB of state, job paused %s, snapshot complete in %s (%.0f MB/s copy)",
		float64(snap.Bytes)/(1<<20), pause, took.Round(time.Millisecond), float64(snap.Bytes)/(1<<20)/took.Seconds())
	b.ReportMetric(float64(snap.Bytes)/(1<<20), "state-MB")
	b.ReportMetric(float64(pause.Microseconds())/1000, "idle-pause-ms")
	b.ReportMetric(took.Seconds()/gb, "snapshot-s/GB")

	// Snapshots under load: 40,000 rows/s keep arriving (updates of
	// existing keys, so the state keeps its size).
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			appendRows(4_000, true)
			time.Sleep(100 * time.Millisecond)
		}
	}()
	time.Sleep(200 * time.Millisecond)
	for _, hold := range []bool{false, true} {
		var pauses []time.Duration
		t0 := time.Now()
		for i := 0; i < 3; i++ {
			_, p, err := e.takeSnapshot(ctx, fmt.Sprintf("load%d", i), "big", 0, true, false, hold)
			if err != nil {
				b.Fatal(err)
			}
			pauses = append(pauses, p)
			_ = e.dropSnapshot(fmt.Sprintf("load%d", i))
		}
		sort.Slice(pauses, func(i, j int) bool { return pauses[i] < pauses[j] })
		what := "view only"
		if hold {
			what = "workers held at a bundle boundary"
		}
		b.Logf("3 snapshots under load (%s) in %s: pauses %v", what, time.Since(t0).Round(time.Millisecond), pauses)
		if !hold {
			b.ReportMetric(float64(pauses[len(pauses)-1].Microseconds())/1000, "load-pause-max-ms")
		} else {
			b.ReportMetric(float64(pauses[len(pauses)-1].Microseconds())/1000, "held-pause-max-ms")
		}
	}

	// Updates under load: state kept in place, then copied (a rename).
	t0 = time.Now()
	res := exec("ALTER JOB big UPDATE AS INSERT INTO out SELECT id, count(*), sum(v), min(v), max(v) FROM big WHERE v >= 0 GROUP BY id")
	inPlace := time.Since(t0)
	b.Logf("update in place: %s (%s)", inPlace.Round(time.Microsecond), res[0].Notices[0])
	b.ReportMetric(float64(inPlace.Microseconds())/1000, "update-inplace-ms")
	t0 = time.Now()
	res = exec(`ALTER JOB big UPDATE WITH ("name.agg_id" = 'per_id') AS INSERT INTO out SELECT id, count(*), sum(v), min(v), max(v) FROM big WHERE v >= 0 GROUP BY id
  WITH MAPPING ('agg_id' = 'per_id')`)
	copied := time.Since(t0)
	b.Logf("update with a rename (state copied): %s (%s)", copied.Round(time.Millisecond), res[0].Notices[0])
	b.ReportMetric(copied.Seconds()/gb, "update-copy-s/GB")
	close(stop)
	wg.Wait()

	// Restore.
	exec("CREATE SINK out2 (id BIGINT, n BIGINT, s BIGINT, lo BIGINT, hi BIGINT) WITH (connector = 'blackhole')")
	t0 = time.Now()
	exec("CREATE JOB r FROM SNAPSHOT idle AS INSERT INTO out2 SELECT id, count(*), sum(v), min(v), max(v) FROM big GROUP BY id")
	b.Logf("restore from the idle snapshot: %s", time.Since(t0).Round(time.Millisecond))
	b.ReportMetric(time.Since(t0).Seconds()/gb, "restore-s/GB")
}
