package engine

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/weir-sql/weir/catalog"
	"github.com/weir-sql/weir/pgerr"
)

// TestFaultDiskFullInserts fills the disk (ENOSPC on the write-ahead log,
// through Pebble's errorfs) while INSERTs feed a log source that a running
// aggregation job reads, and a second job reads an unbounded datagen
// source (so it commits all the time). An INSERT that hits the full disk
// returns 53100 and is not acknowledged. The busy job fails with 53100 and
// says it resumes after a restart; the poisoned store cannot record FAILED,
// so it stays live; the session reports the failure. After the process
// dies (a crash image) and restarts on a repaired disk, both jobs resume by
// themselves, every acknowledged row is in the log and counted exactly
// once, and INSERTs work again.
func TestFaultDiskFullInserts(t *testing.T) {
	mem := vfs.NewCrashableMem()
	var full atomic.Bool
	fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if !full.Load() || !strings.HasSuffix(op.Path, ".log") {
			return nil
		}
		switch op.Kind {
		case errorfs.OpFileWrite, errorfs.OpFileWriteAt, errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo:
			return fmt.Errorf("write %s: %w", op.Path, syscall.ENOSPC)
		}
		return nil
	}))
	e, err := Open(Options{DataDir: "/data", FS: fs, Parallelism: 2})
	if err != nil {
		t.Fatal(err)
	}
	s := e.NewSession()
	lcExec(t, s, `CREATE SOURCE ev (id BIGINT NOT NULL, ts TIMESTAMP NOT NULL, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND);
CREATE TABLE seen (id BIGINT, n BIGINT, PRIMARY KEY (id));
CREATE JOB counter AS INSERT INTO seen SELECT id, count(*) FROM ev GROUP BY id;
CREATE SOURCE ticks (k BIGINT, ts TIMESTAMP NOT NULL, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH (connector = 'datagen', rows_per_second = '2000');
CREATE SINK nowhere (k BIGINT, n BIGINT) WITH (connector = 'blackhole');
CREATE JOB ticker AS INSERT INTO nowhere SELECT k % 10, count(*) FROM ticks GROUP BY k % 10;`)
	insert := func(s *Session, id int) error {
		_, err := s.Exec(context.Background(), fmt.Sprintf("INSERT INTO ev VALUES (%d, '2024-01-01 00:00:%02d'), (%d, '2024-01-01 00:00:%02d')", id, id%60, id+1, id%60))
		return err
	}
	var acked []int
	id := 0
	for ; id < 200; id += 2 {
		if id == 120 {
			full.Store(true)
		}
		if err := insert(s, id); err != nil {
			if pgerr.Code(err) != pgerr.DiskFull {
				t.Fatalf("INSERT on a full disk: %v (code %s), want 53100", err, pgerr.Code(err))
			}
			continue
		}
		acked = append(acked, id, id+1)
	}
	if len(acked) != 120 {
		t.Fatalf("%d rows acknowledged, want the 120 before the disk filled", len(acked))
	}
	// The busy job fails on its next commit.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.WaitJob(ctx, "ticker"); err != nil {
		t.Fatal(err)
	}
	jerr := s.JobsError()
	if jerr == nil || pgerr.Code(jerr) != pgerr.DiskFull || !strings.Contains(jerr.Error(), "resumes from there after a restart") {
		t.Fatalf("session's job error: %v (code %s)", jerr, pgerr.Code(jerr))
	}
	t.Logf("job error: %v", jerr)
	if j, ok := e.Catalog().LatestJob("ticker"); !ok || j.State != catalog.JobRunning {
		t.Fatalf("job recorded as %v after a storage failure, want it live (RUNNING) to resume", j)
	}
	// The process dies; the disk is repaired.
	crashed := mem.CrashClone(vfs.CrashCloneCfg{})
	full.Store(false)
	_ = e.Close()

	e2, err := Open(Options{DataDir: "/data", FS: crashed, Parallelism: 2})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	defer e2.Close()
	for _, name := range []string{"counter", "ticker"} {
		if rj := e2.runningJob(name); rj == nil {
			t.Fatalf("job %s did not resume at restart", name)
		}
	}
	s2 := e2.NewSession()
	for _, i := range []int{1000, 1002} {
		if err := insert(s2, i); err != nil {
			t.Fatalf("INSERT after the restart: %v", err)
		}
		acked = append(acked, i, i+1)
	}
	lcWatermark(t, e2, "ev", "2024-01-02 00:00:00")
	rows := lcRows(t, s2, "SELECT id, n FROM seen")
	got := map[string]bool{}
	for _, r := range rows {
		f := strings.Fields(r)
		if f[1] != "1" {
			t.Fatalf("row %s counted %s times", f[0], f[1])
		}
		got[f[0]] = true
	}
	for _, a := range acked {
		if !got[fmt.Sprint(a)] {
			t.Fatalf("acknowledged row %d lost (%d rows seen)", a, len(rows))
		}
	}
	if len(rows) != len(acked) {
		t.Fatalf("%d rows counted, %d acknowledged (unacknowledged rows must not appear here: the disk was full for them)", len(rows), len(acked))
	}
}
