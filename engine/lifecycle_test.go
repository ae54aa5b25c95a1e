package engine

import (
	"context"
	"fmt"
	"math/rand"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weir-sql/weir/catalog"
	"github.com/weir-sql/weir/connector"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/executor"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/planner"
	"github.com/weir-sql/weir/sql"
)

// Tests of the job lifecycle (lifecycle.go): snapshots, updates with the
// compatibility check, restores, drain and relaunch, cancel.

func lcOpen(t testing.TB, opts Options) *Engine {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = filepath.Join(t.TempDir(), "data")
	}
	opts.NoSync = true
	if opts.Parallelism == 0 {
		opts.Parallelism = 2
	}
	e, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func lcExec(t testing.TB, s *Session, text string) []*Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := s.Exec(ctx, text)
	if err != nil {
		pe := pgerr.Wrap(err)
		t.Fatalf("%s\n-> %s %s\n%s", text, pe.Code, pe.Message, pe.Detail)
	}
	return res
}

// lcErr runs text, which must fail with code; it returns the error.
func lcErr(t testing.TB, s *Session, text, code string) *pgerr.Error {
	t.Helper()
	_, err := s.Exec(context.Background(), text)
	if err == nil {
		t.Fatalf("%s: succeeded, want error %s", text, code)
	}
	pe := pgerr.Wrap(err)
	if pe.Code != code {
		t.Fatalf("%s: error %s %s (%s), want %s", text, pe.Code, pe.Message, pe.Detail, code)
	}
	return pe
}

// lcRows runs a query and returns its rows as space-separated text, sorted.
func lcRows(t testing.TB, s *Session, query string) []string {
	t.Helper()
	res := lcExec(t, s, query)
	var out []string
	for _, r := range res[len(res)-1].Rows {
		parts := make([]string, len(r))
		for i, d := range r {
			parts[i] = d.Format()
		}
		out = append(out, strings.Join(parts, " "))
	}
	sort.Strings(out)
	return out
}

func lcTS(t testing.TB, s string) int64 {
	t.Helper()
	d, err := datum.Parse(datum.TypeTimestamp, s)
	if err != nil {
		t.Fatal(err)
	}
	return d.Micros()
}

// lcWatermark appends a watermark to source and waits for every job
// reading it to pass it.
func lcWatermark(t testing.TB, e *Engine, source, ts string) {
	t.Helper()
	us := lcTS(t, ts)
	if err := e.AdvanceWatermark(source, us); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.WaitSourceWatermark(ctx, source, us); err != nil {
		t.Fatal(err)
	}
}

// lcWatermarks advances several sources (of one join job) to ts first,
// then waits.
func lcWatermarks(t testing.TB, e *Engine, ts string, sources ...string) {
	t.Helper()
	us := lcTS(t, ts)
	for _, src := range sources {
		if err := e.AdvanceWatermark(src, us); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, src := range sources {
		if err := e.WaitSourceWatermark(ctx, src, us); err != nil {
			t.Fatal(err)
		}
	}
}

// lcJob returns a job's newest launch: id and state.
func lcJob(t testing.TB, e *Engine, name string) (uint64, string) {
	t.Helper()
	j, ok := e.Catalog().LatestJob(name)
	if !ok {
		t.Fatalf("no job %s", name)
	}
	return j.ID, j.State
}

func lcWaitJob(t testing.TB, e *Engine, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.WaitJob(ctx, name); err != nil {
		t.Fatal(err)
	}
}

const lcSchema = `
CREATE SOURCE readings (device VARCHAR NOT NULL, temp DOUBLE, rpm BIGINT, ts TIMESTAMP NOT NULL,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND);
CREATE SOURCE readings2 (device VARCHAR NOT NULL, temp DOUBLE, rpm BIGINT, ts TIMESTAMP NOT NULL,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND);
`

// perMinute is the windowed query most tests run, into table tbl.
func perMinute(tbl, where string) string {
	return fmt.Sprintf(`INSERT INTO %s SELECT window_start, window_end, device, count(*), sum(rpm), PANE_TIMING()
  FROM TUMBLE(readings, ts, INTERVAL '1' MINUTE) %s GROUP BY window_start, window_end, device`, tbl, where)
}

func perMinuteTable(name string, keyed bool) string {
	pk := ""
	if keyed {
		pk = ", PRIMARY KEY (window_start, device)"
	}
	return fmt.Sprintf("CREATE TABLE %s (window_start TIMESTAMP, window_end TIMESTAMP, device VARCHAR, n BIGINT, s BIGINT, pane VARCHAR%s);\n", name, pk)
}

func insertReadings(t testing.TB, s *Session, rows ...string) {
	t.Helper()
	var vals []string
	for _, r := range rows {
		// "device rpm hh:mm:ss"
		f := strings.Fields(r)
		vals = append(vals, fmt.Sprintf("('%s', 1.5, %s, TIMESTAMP '2024-01-01 %s')", f[0], f[1], f[2]))
	}
	lcExec(t, s, "INSERT INTO readings VALUES "+strings.Join(vals, ", "))
}

// The story of the issue: snapshot with source -> compatible update (a
// filter upstream of the aggregation) -> a window open across the update
// counts rows from both sides -> an incompatible update is refused and the
// job keeps running -> drain fires the open window DRAINED -> a restore
// from the snapshot replays the source from the snapshot's position and
// equals an oracle run of the original query -> cancel stops its output.
func TestLifecycleStory(t *testing.T) {
	e := lcOpen(t, Options{})
	s := e.NewSession()
	lcExec(t, s, lcSchema+perMinuteTable("per_minute", true)+perMinuteTable("restored", true)+perMinuteTable("oracle", true))
	lcExec(t, s, "CREATE JOB j AS "+perMinute("per_minute", ""))
	insertReadings(t, s, "a 1 00:00:10", "b 2 00:00:20", "a 3 00:01:10", "a 4 00:01:20")
	lcWatermark(t, e, "readings", "2024-01-01 00:01:00")
	if got, want := lcRows(t, s, "SELECT device, n, s, pane FROM per_minute"), []string{"a 1 1 ON_TIME", "b 1 2 ON_TIME"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("first window: %q, want %q", got, want)
	}

	// Snapshot with source.
	res := lcExec(t, s, "CREATE SNAPSHOT s1 FOR JOB j WITH SOURCE")
	if len(res[0].Notices) == 0 || !strings.Contains(res[0].Notices[0], "paused") {
		t.Fatalf("snapshot notice: %q", res[0].Notices)
	}
	snaps := lcRows(t, s, "SELECT name, job, with_source, operators FROM weir_snapshots")
	if want := []string{"s1 j t window_agg_device"}; !reflect.DeepEqual(snaps, want) {
		t.Fatalf("weir_snapshots: %q, want %q", snaps, want)
	}
	if got := lcRows(t, s, "SHOW SNAPSHOTS"); len(got) != 1 {
		t.Fatalf("SHOW SNAPSHOTS: %q", got)
	}
	snap, err := e.Catalog().GetSnapshot("s1")
	if err != nil {
		t.Fatal(err)
	}
	pos, err := executor.SnapshotSourcePositions(e.Store(), snap.ID)
	if err != nil || len(pos) != 1 {
		t.Fatalf("snapshot source positions: %v %v", pos, err)
	}
	oldID, _ := lcJob(t, e, "j")

	// A compatible update: a filter upstream of the aggregation.
	explain := strings.Join(lcRows(t, s, "EXPLAIN JOB j UPDATE AS "+perMinute("per_minute", "WHERE rpm >= 0")), "\n")
	for _, want := range []string{"accepted", "window_agg_device -> window_agg_device: carried", "s0.filter: new (stateless)", "stage s1 -> s1"} {
		if !strings.Contains(explain, want) {
			t.Fatalf("EXPLAIN JOB UPDATE lacks %q:\n%s", want, explain)
		}
	}
	res = lcExec(t, s, "ALTER JOB j UPDATE AS "+perMinute("per_minute", "WHERE rpm >= 0"))
	if !strings.Contains(res[0].Notices[0], "state kept in place") {
		t.Fatalf("update notice: %q", res[0].Notices)
	}
	newID, st := lcJob(t, e, "j")
	if newID == oldID || st != catalog.JobRunning {
		t.Fatalf("after update: job id %d (was %d) %s", newID, oldID, st)
	}
	if old, _ := e.Catalog().GetJob(oldID); old.State != catalog.JobUpdated {
		t.Fatalf("old launch is %s, want UPDATED", old.State)
	}
	if got := lcRows(t, s, "SELECT job_id, state FROM weir_jobs WHERE name = 'j'"); len(got) != 2 {
		t.Fatalf("weir_jobs: %q", got)
	}

	// The window [00:01, 00:02) was open across the update.
	insertReadings(t, s, "a 5 00:01:30", "b 6 00:01:40", "a -7 00:01:50", "a 8 00:02:10")
	lcWatermark(t, e, "readings", "2024-01-01 00:02:00")
	got := lcRows(t, s, "SELECT device, n, s, pane FROM per_minute WHERE window_start = TIMESTAMP '2024-01-01 00:01:00'")
	if want := []string{"a 3 12 ON_TIME", "b 1 6 ON_TIME"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("window open across the update: %q, want %q (rows from before and after it, the negative rpm filtered)", got, want)
	}

	// An incompatible update is refused, naming the operator; nothing changes.
	pe := lcErr(t, s, `ALTER JOB j UPDATE AS INSERT INTO per_minute SELECT window_start, window_end, device, count(*), sum(rpm), PANE_TIMING()
  FROM TUMBLE(readings, ts, INTERVAL '1' MINUTE) GROUP BY window_start, window_end, device, rpm`, pgerr.ObjectNotInPrerequisiteState)
	if !strings.Contains(pe.Detail, "window_agg_device: no operator of the new job is named window_agg_device") {
		t.Fatalf("refusal detail: %q", pe.Detail)
	}
	if id, st := lcJob(t, e, "j"); id != newID || st != catalog.JobRunning {
		t.Fatalf("after a refused update: job id %d %s, want %d RUNNING", id, st, newID)
	}
	insertReadings(t, s, "b 9 00:02:20")
	lcWatermark(t, e, "readings", "2024-01-01 00:02:16") // b was read

	// Drain: the open window [00:02, 00:03) fires DRAINED.
	lcExec(t, s, "DRAIN JOB j")
	if _, st := lcJob(t, e, "j"); st != catalog.JobDrained {
		t.Fatalf("after drain: %s", st)
	}
	got = lcRows(t, s, "SELECT device, n, s, pane FROM per_minute WHERE window_start = TIMESTAMP '2024-01-01 00:02:00'")
	if want := []string{"a 1 8 DRAINED", "b 1 9 DRAINED"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("drained window: %q, want %q", got, want)
	}

	// Restore from the snapshot, and an oracle run of the original query.
	insertReadings(t, s, "c 10 00:02:30", "a 11 00:03:10")
	lcExec(t, s, "CREATE JOB r FROM SNAPSHOT s1 AS "+perMinute("restored", ""))
	lcExec(t, s, "CREATE JOB o AS "+perMinute("oracle", ""))
	if j, _ := e.Catalog().LatestJob("r"); j.Snapshot != "s1" {
		t.Fatalf("restored job records snapshot %q", j.Snapshot)
	}
	lcWatermark(t, e, "readings", "2024-01-01 00:10:00")
	oracle := lcRows(t, s, "SELECT * FROM oracle WHERE window_start >= TIMESTAMP '2024-01-01 00:01:00'")
	restored := lcRows(t, s, "SELECT * FROM restored")
	if !reflect.DeepEqual(restored, oracle) || len(oracle) != 6 {
		t.Fatalf("restored from the snapshot:\n%s\noracle (windows after the snapshot):\n%s", strings.Join(restored, "\n"), strings.Join(oracle, "\n"))
	}
	// What the snapshot had already emitted is the oracle's first window.
	if a, b := lcRows(t, s, "SELECT * FROM oracle WHERE window_start < TIMESTAMP '2024-01-01 00:01:00'"),
		lcRows(t, s, "SELECT * FROM per_minute WHERE window_start < TIMESTAMP '2024-01-01 00:01:00'"); !reflect.DeepEqual(a, b) {
		t.Fatalf("first window: oracle %q, job %q", a, b)
	}

	// Cancel stops output.
	lcExec(t, s, "CANCEL JOB r")
	if _, st := lcJob(t, e, "r"); st != catalog.JobCancelled {
		t.Fatalf("after cancel: %s", st)
	}
	before := lcRows(t, s, "SELECT * FROM restored")
	insertReadings(t, s, "d 12 00:11:00")
	lcWatermark(t, e, "readings", "2024-01-01 00:12:00")
	if after := lcRows(t, s, "SELECT * FROM restored"); !reflect.DeepEqual(before, after) {
		t.Fatalf("a cancelled job wrote: %q -> %q", before, after)
	}
	if got := lcRows(t, s, "SELECT device FROM oracle WHERE window_start = TIMESTAMP '2024-01-01 00:11:00'"); len(got) != 1 {
		t.Fatalf("the oracle should have gone on: %q", got)
	}

	lcExec(t, s, "DROP SNAPSHOT s1")
	if got := lcRows(t, s, "SHOW SNAPSHOTS"); len(got) != 0 {
		t.Fatalf("after DROP SNAPSHOT: %q", got)
	}
	if keys, _ := executor.DumpSnapshotKeys(e.Store(), snap.ID, "sTmq"); len(keys) != 0 {
		t.Fatalf("DROP SNAPSHOT left %d keys", len(keys))
	}
}

// A renamed stateful operator is refused without a mapping and carried
// with one.
func TestLifecycleRename(t *testing.T) {
	e := lcOpen(t, Options{})
	s := e.NewSession()
	lcExec(t, s, lcSchema+perMinuteTable("per_minute", true))
	lcExec(t, s, "CREATE JOB j AS "+perMinute("per_minute", ""))
	insertReadings(t, s, "a 1 00:00:10", "a 2 00:00:20")
	lcWatermark(t, e, "readings", "2024-01-01 00:00:01")
	id0, _ := lcJob(t, e, "j")

	renamed := `ALTER JOB j UPDATE WITH ("name.window_agg_device" = 'per_device') AS ` + perMinute("per_minute", "")
	pe := lcErr(t, s, renamed, pgerr.ObjectNotInPrerequisiteState)
	if !strings.Contains(pe.Detail, "window_agg_device: no operator of the new job is named window_agg_device") {
		t.Fatalf("detail: %q", pe.Detail)
	}
	if id, st := lcJob(t, e, "j"); id != id0 || st != catalog.JobRunning {
		t.Fatalf("refused update changed the job: %d %s", id, st)
	}
	explain := strings.Join(lcRows(t, s, "EXPLAIN JOB j UPDATE "+strings.TrimPrefix(renamed, "ALTER JOB j UPDATE ")+
		" WITH MAPPING ('window_agg_device' = 'per_device')"), "\n")
	if !strings.Contains(explain, "window_agg_device -> per_device: carried") {
		t.Fatalf("explain:\n%s", explain)
	}
	res := lcExec(t, s, renamed+" WITH MAPPING ('window_agg_device' = 'per_device')")
	if !strings.Contains(res[0].Notices[0], "state copied") {
		t.Fatalf("notice: %q", res[0].Notices)
	}
	ops := lcRows(t, s, "SELECT operator FROM weir_operators WHERE job = 'j' AND stateful")
	if !reflect.DeepEqual(ops, []string{"per_device"}) {
		t.Fatalf("operators after the rename: %q", ops)
	}
	insertReadings(t, s, "a 3 00:00:30", "a 4 00:01:30")
	lcWatermark(t, e, "readings", "2024-01-01 00:01:00")
	if got, want := lcRows(t, s, "SELECT device, n, s FROM per_minute"), []string{"a 3 6"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("renamed window: %q, want %q", got, want)
	}
	// The old namespace's state is gone; the new one holds the window.
	old, _ := e.Catalog().GetJob(id0)
	if keys, _ := executor.DumpKeys(e.Store(), old.StateNS, "sTq"); len(keys) != 0 {
		t.Fatalf("old namespace kept %d keys", len(keys))
	}
}

// Each rule of the compatibility check refuses (and leaves the job
// running), and each allowed kind of change is accepted.
func TestLifecycleCompatibilityRules(t *testing.T) {
	e := lcOpen(t, Options{})
	s := e.NewSession()
	lcExec(t, s, lcSchema+perMinuteTable("per_minute", true)+perMinuteTable("out", false)+
		"CREATE TABLE by_rpm (window_start TIMESTAMP, window_end TIMESTAMP, device VARCHAR, n BIGINT, s BIGINT, pane VARCHAR);\n"+
		"CREATE TABLE plain (device VARCHAR, rpm BIGINT);\n")
	lcExec(t, s, "CREATE JOB j AS "+perMinute("per_minute", ""))
	insertReadings(t, s, "a 1 00:00:10")
	lcWatermark(t, e, "readings", "2024-01-01 00:00:01")
	id0, _ := lcJob(t, e, "j")
	refused := []struct{ name, stmt, detail string }{
		{"removed", "ALTER JOB j UPDATE AS INSERT INTO plain SELECT device, rpm FROM readings",
			"window_agg_device: no operator of the new job is named window_agg_device"},
		{"aggregates", `ALTER JOB j UPDATE AS INSERT INTO per_minute SELECT window_start, window_end, device, count(*), max(rpm), PANE_TIMING()
  FROM TUMBLE(readings, ts, INTERVAL '1' MINUTE) GROUP BY window_start, window_end, device`,
			"window_agg_device: its state encoding changes: aggregates count(*) BIGINT, sum(BIGINT)"},
		{"key type", `ALTER JOB j UPDATE AS INSERT INTO by_rpm SELECT window_start, window_end, CAST(rpm AS VARCHAR), count(*), sum(rpm), PANE_TIMING()
  FROM TUMBLE(readings, ts, INTERVAL '1' MINUTE) GROUP BY window_start, window_end, rpm WITH MAPPING ('window_agg_device' = 'window_agg_rpm')`,
			"window_agg_device: its state encoding changes: group key (VARCHAR) becomes (BIGINT)"},
		{"source", `ALTER JOB j UPDATE AS INSERT INTO per_minute SELECT window_start, window_end, device, count(*), sum(rpm), PANE_TIMING()
  FROM TUMBLE(readings2, ts, INTERVAL '1' MINUTE) GROUP BY window_start, window_end, device`,
			"source_readings: the source readings is replaced by readings2"},
	}
	for _, c := range refused {
		pe := lcErr(t, s, c.stmt, pgerr.ObjectNotInPrerequisiteState)
		if !strings.Contains(pe.Detail, c.detail) {
			t.Errorf("%s: detail %q, want %q", c.name, pe.Detail, c.detail)
		}
		if id, st := lcJob(t, e, "j"); id != id0 || st != catalog.JobRunning {
			t.Fatalf("%s: refused update changed the job: %d %s", c.name, id, st)
		}
	}
	// Side inputs (lookup-joined tables) cannot change; no SQL of this
	// planner version makes one, so check the rule on the plans.
	rj := e.runningJob("j")
	nw := *rj.Plan()
	nw.SideInputs = []string{"devices"}
	if _, err := planner.CheckUpdate(rj.Plan(), &nw, nil); err == nil || !strings.Contains(pgerr.Wrap(err).Detail, "side inputs: the side inputs change from () to (devices)") {
		t.Fatalf("side input added: %v", err)
	}

	// Allowed: an added stateless step, a changed projection (and target),
	// a changed window size; the open window [00:00, 00:01) carries
	// through all of them.
	lcExec(t, s, "ALTER JOB j UPDATE AS "+perMinute("per_minute", "WHERE temp IS NOT NULL"))
	insertReadings(t, s, "a 2 00:00:20")
	projected := `ALTER JOB j UPDATE AS INSERT INTO out SELECT window_start, window_end, upper(device), count(*) * 10, sum(rpm) + 100, PANE_TIMING()
  FROM TUMBLE(readings, ts, INTERVAL '1' MINUTE) WHERE temp IS NOT NULL GROUP BY window_start, window_end, device`
	lcExec(t, s, projected)
	insertReadings(t, s, "a 3 00:00:30")
	lcWatermark(t, e, "readings", "2024-01-01 00:00:26") // row 3 was read before the resize
	lcExec(t, s, strings.Replace(projected, "'1' MINUTE", "'2' MINUTE", 1))
	insertReadings(t, s, "a 4 00:00:40", "a 5 00:02:30")
	lcWatermark(t, e, "readings", "2024-01-01 00:02:00")
	got := lcRows(t, s, "SELECT * FROM out")
	want := []string{
		// open across all three updates: its old bounds, rows 1-3
		"2024-01-01 00:00:00 2024-01-01 00:01:00 A 30 106 ON_TIME",
		// a window of the new size: the row after the resize
		"2024-01-01 00:00:00 2024-01-01 00:02:00 A 10 104 ON_TIME",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after the allowed updates:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := lcRows(t, s, "SELECT * FROM per_minute"); len(got) != 0 {
		t.Fatalf("per_minute: %q", got)
	}
	if ids := e.Catalog().JobsByName("j"); len(ids) != 4 {
		t.Fatalf("launches of j: %d, want 4", len(ids))
	}
}

// A window size change: windows open at the update keep their bounds and
// their rows; new rows go to windows of the new size.
func TestLifecycleWindowResize(t *testing.T) {
	e := lcOpen(t, Options{})
	s := e.NewSession()
	lcExec(t, s, lcSchema+perMinuteTable("out", false))
	lcExec(t, s, "CREATE JOB j AS "+perMinute("out", ""))
	insertReadings(t, s, "a 1 00:00:10", "a 2 00:01:10", "b 3 00:01:20")
	lcWatermark(t, e, "readings", "2024-01-01 00:01:00")
	explain := strings.Join(lcRows(t, s, "EXPLAIN JOB j UPDATE AS "+strings.Replace(perMinute("out", ""), "'1' MINUTE", "'2' MINUTE", 1)), "\n")
	if !strings.Contains(explain, "window size 1m -> 2m applies to new rows") {
		t.Fatalf("explain:\n%s", explain)
	}
	lcExec(t, s, "ALTER JOB j UPDATE AS "+strings.Replace(perMinute("out", ""), "'1' MINUTE", "'2' MINUTE", 1))
	insertReadings(t, s, "a 4 00:01:30", "a 5 00:02:30")
	lcWatermark(t, e, "readings", "2024-01-01 00:02:00")
	got := lcRows(t, s, "SELECT window_start, window_end, device, n, s, pane FROM out")
	want := []string{
		"2024-01-01 00:00:00 2024-01-01 00:01:00 a 1 1 ON_TIME", // before the update
		"2024-01-01 00:00:00 2024-01-01 00:02:00 a 1 4 ON_TIME", // a new 2-minute window: the row after the update
		"2024-01-01 00:01:00 2024-01-01 00:02:00 a 1 2 ON_TIME", // open at the update: old bounds, old rows
		"2024-01-01 00:01:00 2024-01-01 00:02:00 b 1 3 ON_TIME",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after the resize:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	lcWatermark(t, e, "readings", "2024-01-01 00:04:00")
	got = lcRows(t, s, "SELECT window_start, window_end, device, n, s, pane FROM out WHERE window_start >= TIMESTAMP '2024-01-01 00:02:00'")
	if want := []string{"2024-01-01 00:02:00 2024-01-01 00:04:00 a 1 5 ON_TIME"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("later window: %q, want %q", got, want)
	}
}

// A restore may change the window size too: the snapshot's open windows
// keep their bounds.
func TestLifecycleRestoreResized(t *testing.T) {
	e := lcOpen(t, Options{})
	s := e.NewSession()
	lcExec(t, s, lcSchema+perMinuteTable("out", false)+perMinuteTable("out2", false))
	lcExec(t, s, "CREATE JOB j AS "+perMinute("out", ""))
	insertReadings(t, s, "a 1 00:00:10", "a 2 00:01:10")
	lcWatermark(t, e, "readings", "2024-01-01 00:01:06") // both rows read, nothing in flight
	lcExec(t, s, "CREATE SNAPSHOT s FOR JOB j WITH SOURCE; CANCEL JOB j")
	lcExec(t, s, "CREATE JOB r FROM SNAPSHOT s AS "+strings.Replace(perMinute("out2", ""), "'1' MINUTE", "'2' MINUTE", 1))
	insertReadings(t, s, "a 4 00:01:30")
	lcWatermark(t, e, "readings", "2024-01-01 00:02:00")
	got := lcRows(t, s, "SELECT window_start, window_end, device, n, s FROM out2")
	want := []string{
		"2024-01-01 00:00:00 2024-01-01 00:02:00 a 1 4", // new rows: 2-minute windows
		"2024-01-01 00:01:00 2024-01-01 00:02:00 a 1 2", // open in the snapshot: its old bounds
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("restored with another window size:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Drain, then a relaunch of the same query continues with exactly the
// unread rest: the union of both launches' outputs equals an uninterrupted
// run, except that a window open at the drain is reported in two panes (its
// DRAINED pane and the relaunch's) whose counts add up.
func TestLifecycleDrainRelaunch(t *testing.T) {
	e := lcOpen(t, Options{})
	s := e.NewSession()
	lcExec(t, s, lcSchema+perMinuteTable("out", false)+perMinuteTable("oracle", false)+
		"CREATE TABLE totals (device VARCHAR, n BIGINT, s BIGINT, PRIMARY KEY (device));\n"+
		"CREATE TABLE totals_oracle (device VARCHAR, n BIGINT, s BIGINT, PRIMARY KEY (device));\n")
	const totals = "INSERT INTO %s SELECT device, count(*), sum(rpm) FROM readings GROUP BY device"
	lcExec(t, s, "CREATE JOB o AS "+perMinute("oracle", ""))
	lcExec(t, s, "CREATE JOB ot AS "+fmt.Sprintf(totals, "totals_oracle"))
	lcExec(t, s, "CREATE JOB j AS "+perMinute("out", ""))
	lcExec(t, s, "CREATE JOB jt AS "+fmt.Sprintf(totals, "totals"))
	rng := rand.New(rand.NewSource(1))
	gen := func(from, to int) []string {
		var rows []string
		for sec := from; sec < to; sec += 1 + rng.Intn(7) {
			rows = append(rows, fmt.Sprintf("%c %d 00:%02d:%02d", 'a'+rng.Intn(3), rng.Intn(100), sec/60, sec%60))
		}
		return rows
	}
	insertReadings(t, s, gen(0, 150)...)
	lcWatermark(t, e, "readings", "2024-01-01 00:02:00")
	lcExec(t, s, "DRAIN JOB j; DRAIN JOB jt")
	insertReadings(t, s, gen(150, 400)...)
	lcExec(t, s, "CREATE JOB j AS "+perMinute("out", ""))
	lcExec(t, s, "CREATE JOB jt AS "+fmt.Sprintf(totals, "totals"))
	if j, _ := e.Catalog().LatestJob("j"); j.PrevID == 0 {
		t.Fatalf("the relaunch does not continue the drained launch")
	}
	lcWatermark(t, e, "readings", "2024-01-01 00:30:00")

	if a, b := lcRows(t, s, "SELECT * FROM totals"), lcRows(t, s, "SELECT * FROM totals_oracle"); !reflect.DeepEqual(a, b) {
		t.Fatalf("continuous totals after drain and relaunch:\n%q\noracle:\n%q", a, b)
	}
	type win struct{ start, dev string }
	sums := map[win]int64{}
	drained := map[win]bool{}
	var undrained []string
	for _, r := range lcRows(t, s, "SELECT window_start, device, n, s, pane FROM out") {
		f := strings.Fields(r) // date time device n s pane
		k := win{f[0] + " " + f[1], f[2]}
		var n int64
		fmt.Sscan(f[3], &n)
		sums[k] += n
		if f[5] == "DRAINED" {
			drained[k] = true
		}
	}
	if len(drained) == 0 {
		t.Fatal("no window was open at the drain")
	}
	oracleSums := map[win]int64{}
	for _, r := range lcRows(t, s, "SELECT window_start, device, n, s, pane FROM oracle") {
		f := strings.Fields(r)
		k := win{f[0] + " " + f[1], f[2]}
		var n int64
		fmt.Sscan(f[3], &n)
		oracleSums[k] += n
		if !drained[k] {
			undrained = append(undrained, r)
		}
	}
	if !reflect.DeepEqual(sums, oracleSums) {
		t.Fatalf("per-window counts over both launches differ from the oracle:\n%v\n%v", sums, oracleSums)
	}
	var ours []string
	for _, r := range lcRows(t, s, "SELECT window_start, device, n, s, pane FROM out") {
		f := strings.Fields(r)
		if !drained[win{f[0] + " " + f[1], f[2]}] {
			ours = append(ours, r)
		}
	}
	if !reflect.DeepEqual(ours, undrained) {
		t.Fatalf("windows not open at the drain differ:\n%s\noracle:\n%s", strings.Join(ours, "\n"), strings.Join(undrained, "\n"))
	}

	// A relaunch with an incompatible query is refused; DROP JOB forgets
	// the lineage.
	lcExec(t, s, "DRAIN JOB jt")
	pe := lcErr(t, s, "CREATE JOB jt AS INSERT INTO totals SELECT device, count(*), max(rpm) FROM readings GROUP BY device", pgerr.ObjectNotInPrerequisiteState)
	if !strings.Contains(pe.Hint, "DROP JOB jt") {
		t.Fatalf("hint: %q", pe.Hint)
	}
	lcExec(t, s, "DROP JOB jt; CREATE JOB jt AS INSERT INTO totals SELECT device, count(*), max(rpm) FROM readings GROUP BY device")
}

// A snapshot taken while rows keep arriving is consistent: a restore from
// it, replaying the source from the snapshot's position, ends with exactly
// the totals of an uninterrupted run, and the restored namespace holds
// exactly the snapshot's state.
func TestLifecycleSnapshotUnderLoad(t *testing.T) {
	e := lcOpen(t, Options{BundleSize: 64})
	s := e.NewSession()
	lcExec(t, s, lcSchema+
		"CREATE TABLE totals (device VARCHAR, n BIGINT, s BIGINT, PRIMARY KEY (device));\n"+
		"CREATE TABLE totals2 (device VARCHAR, n BIGINT, s BIGINT, PRIMARY KEY (device));\n")
	const totals = "INSERT INTO %s SELECT device, count(*), sum(rpm) FROM readings GROUP BY device"
	lcExec(t, s, "CREATE JOB c AS "+fmt.Sprintf(totals, "totals"))
	var wg sync.WaitGroup
	want := map[string][2]int64{}
	var mu sync.Mutex
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		ws := e.NewSession()
		rng := rand.New(rand.NewSource(2))
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			var vals []string
			mu.Lock()
			for k := 0; k < 50; k++ {
				dev := fmt.Sprintf("d%02d", rng.Intn(40))
				rpm := int64(rng.Intn(1000))
				w := want[dev]
				want[dev] = [2]int64{w[0] + 1, w[1] + rpm}
				vals = append(vals, fmt.Sprintf("('%s', 1.0, %d, TIMESTAMP '2024-01-01 00:00:00' + INTERVAL '%d' SECOND)", dev, rpm, i))
			}
			mu.Unlock()
			if _, err := ws.Exec(context.Background(), "INSERT INTO readings VALUES "+strings.Join(vals, ", ")); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	time.Sleep(100 * time.Millisecond)
	var pauses []string
	for i := 0; i < 3; i++ {
		res := lcExec(t, s, fmt.Sprintf("CREATE SNAPSHOT s%d FOR JOB c WITH SOURCE", i))
		pauses = append(pauses, res[0].Notices[0])
		time.Sleep(30 * time.Millisecond)
	}
	// The same, holding the workers at a bundle boundary while the view is taken.
	if _, p, err := e.takeSnapshot(context.Background(), "held", "c", 0, true, false, true); err != nil {
		t.Fatal(err)
	} else {
		pauses = append(pauses, fmt.Sprintf("held: paused %s", p))
	}
	close(stop)
	wg.Wait()
	// One more row per device, so a restore updates (and writes) every
	// total, also those no row changed since its snapshot.
	var last []string
	for i := 0; i < 40; i++ {
		dev := fmt.Sprintf("d%02d", i)
		w := want[dev]
		want[dev] = [2]int64{w[0] + 1, w[1] + 7}
		last = append(last, dev+" 7 23:59:59")
	}
	insertReadings(t, s, last...)
	t.Logf("snapshots under load: %s", strings.Join(pauses, "; "))
	snap, err := e.Catalog().GetSnapshot("s1")
	if err != nil {
		t.Fatal(err)
	}
	pos, _ := executor.SnapshotSourcePositions(e.Store(), snap.ID)
	t.Logf("snapshot s1 at source position %v, %d bytes", pos, snap.Bytes)

	// The restored namespace holds exactly the snapshot's keys.
	rj := e.runningJob("c")
	matches, _ := planner.CompareForUpdate(rj.Plan(), rj.Plan(), nil)
	cp := executor.PlanCarry(rj.Plan(), rj.Plan(), matches)
	ns, _ := e.Catalog().NextID()
	if _, err := executor.RestoreSnapshot(e.Store(), snap.ID, ns, cp, executor.CarryOptions{}); err != nil {
		t.Fatal(err)
	}
	a, _ := executor.DumpKeys(e.Store(), ns, "sTmq")
	b, _ := executor.DumpSnapshotKeys(e.Store(), snap.ID, "sTmq")
	for k := range b {
		if strings.HasPrefix(k, "mf") {
			delete(b, k) // consumed-entry fingerprints are not carried (executor/update.go)
		}
	}
	if len(a) == 0 || !reflect.DeepEqual(a, b) {
		t.Fatalf("restored namespace (%d keys) differs from the snapshot (%d keys)", len(a), len(b))
	}

	// Restore and replay: the totals equal the uninterrupted run's.
	lcExec(t, s, "CREATE TABLE totals3 (device VARCHAR, n BIGINT, s BIGINT, PRIMARY KEY (device))")
	lcExec(t, s, "CREATE JOB r FROM SNAPSHOT s1 AS "+fmt.Sprintf(totals, "totals2"))
	lcExec(t, s, "CREATE JOB r2 FROM SNAPSHOT held AS "+fmt.Sprintf(totals, "totals3"))
	lcWatermark(t, e, "readings", "2024-01-02 00:00:00")
	if got := lcRows(t, s, "SELECT * FROM totals3"); !reflect.DeepEqual(got, lcRows(t, s, "SELECT * FROM totals2")) {
		t.Fatalf("restored from the held snapshot:\n%q", got)
	}
	var exp []string
	for dev, w := range want {
		exp = append(exp, fmt.Sprintf("%s %d %d", dev, w[0], w[1]))
	}
	sort.Strings(exp)
	if got := lcRows(t, s, "SELECT * FROM totals2"); !reflect.DeepEqual(got, exp) {
		t.Fatalf("restored totals:\n%q\nwant\n%q", got, exp)
	}
	if got := lcRows(t, s, "SELECT * FROM totals"); !reflect.DeepEqual(got, exp) {
		t.Fatalf("original totals:\n%q\nwant\n%q", got, exp)
	}
}

// Without source positions a restore reads its source from the beginning,
// on top of the snapshot's state.
func TestLifecycleRestoreWithoutSource(t *testing.T) {
	e := lcOpen(t, Options{})
	s := e.NewSession()
	lcExec(t, s, lcSchema+
		"CREATE TABLE totals (device VARCHAR, n BIGINT, PRIMARY KEY (device));\n"+
		"CREATE TABLE totals2 (device VARCHAR, n BIGINT, PRIMARY KEY (device));\n")
	lcExec(t, s, "CREATE JOB c AS INSERT INTO totals SELECT device, count(*) FROM readings GROUP BY device")
	insertReadings(t, s, "a 1 00:00:01", "a 1 00:00:02", "b 1 00:00:03")
	lcWatermark(t, e, "readings", "2024-01-01 00:00:05")
	lcExec(t, s, "CREATE SNAPSHOT s FOR JOB c")
	snap, _ := e.Catalog().GetSnapshot("s")
	if pos, _ := executor.SnapshotSourcePositions(e.Store(), snap.ID); len(pos) != 0 {
		t.Fatalf("a snapshot without source holds positions %v", pos)
	}
	lcExec(t, s, "CREATE JOB r FROM SNAPSHOT s AS INSERT INTO totals2 SELECT device, count(*) FROM readings GROUP BY device")
	lcWatermark(t, e, "readings", "2024-01-01 00:00:06")
	if got, want := lcRows(t, s, "SELECT * FROM totals2"), []string{"a 4", "b 2"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("restore without source: %q, want %q", got, want)
	}
	// FROM SNAPSHOT without AS runs the snapshot's own query.
	lcExec(t, s, "CANCEL JOB c; CREATE JOB c2 FROM SNAPSHOT s")
	if j, _ := e.Catalog().LatestJob("c2"); !strings.Contains(j.SQL, "INSERT INTO totals ") {
		t.Fatalf("c2 runs %q", j.SQL)
	}
	lcErr(t, s, "CREATE JOB c3 FROM SNAPSHOT nope", pgerr.UndefinedObject)
	lcErr(t, s, "CREATE JOB c3 FROM SNAPSHOT s AS INSERT INTO totals2 SELECT device, max(rpm) FROM readings GROUP BY device", pgerr.ObjectNotInPrerequisiteState)
}

// snapshot_every takes snapshots on the injected clock and keeps the
// newest snapshot_keep.
func TestLifecycleScheduledSnapshots(t *testing.T) {
	clock := connector.NewManualClock(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	// The autoscaler is off: the test waits for the snapshot scheduler to
	// be the clock's one waiter.
	e := lcOpen(t, Options{Clock: clock, Scale: executor.ScaleConfig{Off: true}})
	s := e.NewSession()
	lcExec(t, s, lcSchema+"CREATE TABLE totals (device VARCHAR, n BIGINT, PRIMARY KEY (device));\n")
	lcExec(t, s, `CREATE JOB c WITH (snapshot_every = '1 hour', snapshot_keep = '2') AS
  INSERT INTO totals SELECT device, count(*) FROM readings GROUP BY device`)
	for i := 1; i <= 4; i++ {
		insertReadings(t, s, fmt.Sprintf("a 1 00:00:%02d", i))
		deadline := time.Now().Add(10 * time.Second)
		for clock.Waiters() == 0 {
			if time.Now().After(deadline) {
				t.Fatal("the scheduler does not wait on the clock")
			}
			time.Sleep(time.Millisecond)
		}
		clock.Advance(time.Hour)
		want := min(i, 2)
		for {
			var auto []*catalog.Snapshot
			for _, sn := range e.Catalog().ListSnapshots() {
				if sn.Scheduled {
					auto = append(auto, sn)
				}
			}
			if len(auto) == want && (i <= 2 || auto[len(auto)-1].CreatedAt == clock.Now().UnixMicro()) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %d periods: %d scheduled snapshots, want %d", i, len(auto), want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	got := lcRows(t, s, "SELECT name, with_source FROM weir_snapshots")
	want := []string{
		fmt.Sprintf("c_auto_%d t", time.Date(2024, 1, 1, 3, 0, 0, 0, time.UTC).UnixMicro()),
		fmt.Sprintf("c_auto_%d t", time.Date(2024, 1, 1, 4, 0, 0, 0, time.UTC).UnixMicro()),
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("kept snapshots: %q, want %q", got, want)
	}
	lcErr(t, s, "CREATE JOB d WITH (snapshot_keep = '0') AS INSERT INTO totals SELECT device, count(*) FROM readings GROUP BY device", pgerr.InvalidParameterValue)
}

// Lifecycle misuse is 55000 or 42704.
func TestLifecycleErrors(t *testing.T) {
	e := lcOpen(t, Options{})
	s := e.NewSession()
	lcExec(t, s, lcSchema+perMinuteTable("per_minute", true))
	lcErr(t, s, "CREATE SNAPSHOT s FOR JOB nope", pgerr.UndefinedObject)
	lcErr(t, s, "ALTER JOB nope UPDATE AS "+perMinute("per_minute", ""), pgerr.UndefinedObject)
	lcExec(t, s, "CREATE JOB j AS "+perMinute("per_minute", ""))
	lcExec(t, s, "CREATE SNAPSHOT s FOR JOB j")
	lcErr(t, s, "CREATE SNAPSHOT s FOR JOB j", pgerr.DuplicateObject)
	lcErr(t, s, "CREATE JOB j FROM SNAPSHOT s", pgerr.DuplicateObject)
	lcExec(t, s, "CANCEL JOB j")
	lcErr(t, s, "CREATE SNAPSHOT s2 FOR JOB j", pgerr.ObjectNotInPrerequisiteState)
	lcErr(t, s, "ALTER JOB j UPDATE AS "+perMinute("per_minute", ""), pgerr.ObjectNotInPrerequisiteState)
	lcErr(t, s, "DROP SNAPSHOT nope", pgerr.UndefinedObject)
	lcExec(t, s, "DROP SNAPSHOT IF EXISTS nope; DROP SNAPSHOT s")
}

// An update interrupted by a crash is settled at the next Open: the old
// launch runs again unless its successor was recorded.
func TestLifecycleRecoverInterruptedUpdate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	e := lcOpen(t, Options{DataDir: dir})
	s := e.NewSession()
	lcExec(t, s, lcSchema+perMinuteTable("per_minute", true))
	lcExec(t, s, "CREATE JOB j AS "+perMinute("per_minute", ""))
	j, _ := e.Catalog().LatestJob("j")
	j.State = catalog.JobUpdating
	if err := e.Catalog().PutJob(j); err != nil {
		t.Fatal(err)
	}
	e.Close()
	e = lcOpen(t, Options{DataDir: dir})
	if id, st := lcJob(t, e, "j"); id != j.ID || st != catalog.JobRunning || e.runningJob("j") == nil {
		t.Fatalf("after recovery: %d %s", id, st)
	}
}

// loadGen inserts rows into readings until stopped, counting per device
// the rows and the sum of rpm; timestamps grow by one second per batch.
type loadGen struct {
	mu    sync.Mutex
	want  map[string][2]int64
	stop  chan struct{}
	wg    sync.WaitGroup
	sec   int
	batch int
}

func startLoad(t *testing.T, e *Engine, seed int64, batch int) *loadGen {
	g := &loadGen{want: map[string][2]int64{}, stop: make(chan struct{}), batch: batch}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		ws := e.NewSession()
		rng := rand.New(rand.NewSource(seed))
		for {
			select {
			case <-g.stop:
				return
			default:
			}
			var vals []string
			g.mu.Lock()
			for k := 0; k < g.batch; k++ {
				dev := fmt.Sprintf("d%02d", rng.Intn(20))
				rpm := int64(rng.Intn(1000))
				w := g.want[dev]
				g.want[dev] = [2]int64{w[0] + 1, w[1] + rpm}
				vals = append(vals, fmt.Sprintf("('%s', 1.0, %d, TIMESTAMP '2024-01-01 00:00:00' + INTERVAL '%d' SECOND)", dev, rpm, g.sec))
			}
			g.sec++
			g.mu.Unlock()
			if _, err := ws.Exec(context.Background(), "INSERT INTO readings VALUES "+strings.Join(vals, ", ")); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	return g
}

func (g *loadGen) finish() []string {
	close(g.stop)
	g.wg.Wait()
	var exp []string
	for dev, w := range g.want {
		exp = append(exp, fmt.Sprintf("%s %d %d", dev, w[0], w[1]))
	}
	sort.Strings(exp)
	return exp
}

// Updates while rows keep arriving (in place, with a rename, with a
// window resize) lose and duplicate nothing: every row is counted in
// exactly one window.
func TestLifecycleUpdatesUnderLoad(t *testing.T) {
	e := lcOpen(t, Options{BundleSize: 64})
	s := e.NewSession()
	lcExec(t, s, lcSchema+perMinuteTable("out", false)+
		"CREATE TABLE totals (device VARCHAR, n BIGINT, s BIGINT, PRIMARY KEY (device));\n")
	lcExec(t, s, "CREATE JOB j AS "+perMinute("out", ""))
	lcExec(t, s, "CREATE JOB c AS INSERT INTO totals SELECT device, count(*), sum(rpm) FROM readings GROUP BY device")
	g := startLoad(t, e, 3, 40)
	updates := []string{
		"ALTER JOB j UPDATE AS " + perMinute("out", "WHERE rpm >= 0"),
		`ALTER JOB j UPDATE WITH ("name.window_agg_device" = 'per_device') AS ` + perMinute("out", "WHERE rpm >= 0") +
			" WITH MAPPING ('window_agg_device' = 'per_device')",
		`ALTER JOB j UPDATE WITH ("name.window_agg_device" = 'per_device') AS ` +
			strings.Replace(perMinute("out", "WHERE rpm >= 0"), "'1' MINUTE", "'2' MINUTE", 1),
		"ALTER JOB c UPDATE AS INSERT INTO totals SELECT device, count(*), sum(rpm) FROM readings WHERE temp > -1000 GROUP BY device",
		`ALTER JOB c UPDATE WITH ("name.agg_device" = 'by_device') AS INSERT INTO totals SELECT device, count(*), sum(rpm) FROM readings GROUP BY device
  WITH MAPPING ('agg_device' = 'by_device')`,
	}
	var notes []string
	for _, u := range updates {
		time.Sleep(40 * time.Millisecond)
		res := lcExec(t, s, u)
		notes = append(notes, res[0].Notices[0])
	}
	time.Sleep(40 * time.Millisecond)
	exp := g.finish()
	t.Logf("updates under load:\n%s", strings.Join(notes, "\n"))
	lcWatermark(t, e, "readings", "2024-01-02 00:00:00")
	if got := lcRows(t, s, "SELECT * FROM totals"); !reflect.DeepEqual(got, exp) {
		t.Fatalf("totals after updates under load:\n%q\nwant\n%q", got, exp)
	}
	got := map[string][2]int64{}
	for _, r := range lcRows(t, s, "SELECT device, n, s, pane FROM out") {
		f := strings.Fields(r)
		if f[3] != "ON_TIME" {
			t.Fatalf("pane %q", r)
		}
		var n, sum int64
		fmt.Sscan(f[1], &n)
		fmt.Sscan(f[2], &sum)
		w := got[f[0]]
		got[f[0]] = [2]int64{w[0] + n, w[1] + sum}
	}
	var gotRows []string
	for dev, w := range got {
		gotRows = append(gotRows, fmt.Sprintf("%s %d %d", dev, w[0], w[1]))
	}
	sort.Strings(gotRows)
	if !reflect.DeepEqual(gotRows, exp) {
		t.Fatalf("windowed counts summed over windows:\n%q\nwant\n%q", gotRows, exp)
	}
	if n := len(lcRows(t, s, "SELECT * FROM out WHERE window_end - window_start = INTERVAL '2' MINUTE")); n == 0 {
		t.Fatal("no 2-minute window after the resize")
	}
}

// Stages are matched by their source or first stateful operator, not by
// id: a plan whose stages are renumbered finds its progress, state and
// in-flight queue entries under the new ids, and goes on exactly.
func TestLifecycleCarryRenumberedStages(t *testing.T) {
	e := lcOpen(t, Options{BundleSize: 64})
	s := e.NewSession()
	lcExec(t, s, lcSchema+"CREATE TABLE totals (device VARCHAR, n BIGINT, s BIGINT, PRIMARY KEY (device));\n")
	lcExec(t, s, "CREATE JOB c AS INSERT INTO totals SELECT device, count(*), sum(rpm) FROM readings GROUP BY device")
	g := startLoad(t, e, 4, 400)
	time.Sleep(80 * time.Millisecond)
	e.mu.Lock()
	lj := e.mu.jobs["c"]
	e.mu.Unlock()
	rj := lj.job
	old := rj.Plan()
	// Pause until the cut holds in-flight queue entries.
	for try := 0; ; try++ {
		p, err := rj.Pause(context.Background(), false)
		if err != nil {
			t.Fatal(err)
		}
		if q, _ := executor.DumpKeys(e.Store(), rj.Meta().StateNS, "q"); len(q) > 0 || try == 2000 {
			break
		}
		p.Resume()
		time.Sleep(200 * time.Microsecond)
	}
	rj.Stop()
	<-lj.recorded

	// The same plan with stage ids 0, 1 renumbered 7, 3.
	renum := map[int]int{0: 7, 1: 3}
	nw := *old
	nw.Stages = nil
	for _, st := range old.Stages {
		c := *st
		c.ID = renum[st.ID]
		c.Inputs = nil
		for _, in := range st.Inputs {
			c.Inputs = append(c.Inputs, plan.StageInput{Stage: renum[in.Stage], Schema: in.Schema})
		}
		if st.Output != nil {
			o := *st.Output
			o.Stage = renum[o.Stage]
			c.Output = &o
		}
		nw.Stages = append(nw.Stages, &c)
	}
	matches, problems := planner.CompareForUpdate(old, &nw, nil)
	cp := executor.PlanCarry(old, &nw, matches)
	if len(problems)+len(cp.Problems) > 0 || cp.Identity || !reflect.DeepEqual(cp.Stages, renum) {
		t.Fatalf("carry plan: %+v %v", cp, problems)
	}
	cj, _ := e.Catalog().LatestJob("c")
	inflight, _ := executor.DumpKeys(e.Store(), cj.StateNS, "q")
	ns, _ := e.Catalog().NextID()
	if _, err := executor.CarryNamespace(e.Store(), cj.StateNS, ns, cp, executor.CarryOptions{}); err != nil {
		t.Fatal(err)
	}
	carried, _ := executor.DumpKeys(e.Store(), ns, "q")
	if len(carried) != len(inflight) || len(inflight) == 0 {
		t.Fatalf("in-flight entries: %d carried of %d", len(carried), len(inflight))
	}
	t.Logf("%d in-flight queue entries carried", len(inflight))
	if st, err := executor.InflightStages(e.Store(), cj.StateNS, false); err != nil || !reflect.DeepEqual(st, map[int]bool{1: true}) {
		t.Fatalf("stages with in-flight entries: %v %v", st, err)
	}
	if st, _ := executor.InflightStages(e.Store(), ns, false); !reflect.DeepEqual(st, map[int]bool{3: true}) {
		t.Fatalf("stages with in-flight entries after the carry: %v", st)
	}
	nj := &catalog.Job{Name: "c", ID: 0, StateNS: ns, State: catalog.JobRunning, SQL: cj.SQL, PrevID: cj.ID, StartedAt: e.Now()}
	if err := e.Catalog().CreateJob(nj); err != nil {
		t.Fatal(err)
	}
	cj.State = catalog.JobUpdated
	_ = e.Catalog().PutJob(cj)
	if err := e.startJob(nj, &nw); err != nil {
		t.Fatal(err)
	}
	exp := g.finish()
	lcWatermark(t, e, "readings", "2024-01-02 00:00:00")
	if got := lcRows(t, s, "SELECT * FROM totals"); !reflect.DeepEqual(got, exp) {
		t.Fatalf("totals after the renumbered carry:\n%q\nwant\n%q", got, exp)
	}
}

// A job reading two sources (an interval join): an update carries both
// source positions and the join's state; replacing either source, or
// adding a side input (a lookup-joined table), is refused.
func TestLifecycleJoinUpdate(t *testing.T) {
	e := lcOpen(t, Options{})
	s := e.NewSession()
	lcExec(t, s, lcSchema+`
CREATE SOURCE alarms (device VARCHAR NOT NULL, level INT, ts TIMESTAMP NOT NULL, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND);
CREATE SOURCE alarms2 (device VARCHAR NOT NULL, level INT, ts TIMESTAMP NOT NULL, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND);
CREATE TABLE sites (device VARCHAR PRIMARY KEY, site VARCHAR);
CREATE TABLE joined (device VARCHAR, level INT, rpm BIGINT, ts TIMESTAMP);
CREATE TABLE joined_oracle (device VARCHAR, level INT, rpm BIGINT, ts TIMESTAMP);
CREATE TABLE with_site (device VARCHAR, rpm BIGINT, site VARCHAR);
`)
	join := func(tbl, alarms, where string) string {
		return fmt.Sprintf(`INSERT INTO %s SELECT a.device, a.level, r.rpm, r.ts FROM %s a JOIN readings r
  ON a.device = r.device AND r.ts BETWEEN a.ts - INTERVAL '1' MINUTE AND a.ts %s`, tbl, alarms, where)
	}
	lcExec(t, s, "CREATE JOB j AS "+join("joined", "alarms", ""))
	insertReadings(t, s, "a 1 00:00:10", "b 2 00:00:20", "a 3 00:00:50")
	lcExec(t, s, "INSERT INTO alarms VALUES ('a', 1, TIMESTAMP '2024-01-01 00:00:30'), ('b', 5, TIMESTAMP '2024-01-01 00:01:00')")
	lcWatermarks(t, e, "2024-01-01 00:00:55", "readings", "alarms")

	pe := lcErr(t, s, "ALTER JOB j UPDATE AS "+join("joined", "alarms2", ""), pgerr.ObjectNotInPrerequisiteState)
	if !strings.Contains(pe.Detail, "source_alarms: ") || strings.Contains(pe.Detail, "source_readings") {
		t.Fatalf("replaced second source: %q", pe.Detail)
	}
	res := lcExec(t, s, "ALTER JOB j UPDATE AS "+join("joined", "alarms", "WHERE a.level >= 0"))
	t.Log(res[0].Notices[0])
	insertReadings(t, s, "a 4 00:01:10", "b 6 00:01:20")
	lcExec(t, s, "INSERT INTO alarms VALUES ('a', 2, TIMESTAMP '2024-01-01 00:01:15'), ('b', 7, TIMESTAMP '2024-01-01 00:01:30')")
	lcExec(t, s, "CREATE JOB o AS "+join("joined_oracle", "alarms", ""))
	lcWatermarks(t, e, "2024-01-01 00:05:00", "readings", "alarms")
	got, want := lcRows(t, s, "SELECT * FROM joined"), lcRows(t, s, "SELECT * FROM joined_oracle")
	if !reflect.DeepEqual(got, want) || len(want) < 5 {
		t.Fatalf("join across the update:\n%s\noracle:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Side inputs.
	lcExec(t, s, "CREATE JOB l AS INSERT INTO with_site SELECT device, rpm, 'none' FROM readings")
	pe = lcErr(t, s, "ALTER JOB l UPDATE AS INSERT INTO with_site SELECT r.device, r.rpm, s.site FROM readings r JOIN sites s ON r.device = s.device",
		pgerr.ObjectNotInPrerequisiteState)
	if !strings.Contains(pe.Detail, "side inputs: the side inputs change from () to (sites)") {
		t.Fatalf("added side input: %q", pe.Detail)
	}
}

var _ = sql.ParseOne
