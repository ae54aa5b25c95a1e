package executor

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/weir-sql/weir/catalog"
	"github.com/weir-sql/weir/connector"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/planner"
	"github.com/weir-sql/weir/sql"
	"github.com/weir-sql/weir/state"
	"github.com/weir-sql/weir/table"
)

// TestDataDriven runs the scripts in testdata/. Each file gets a fresh
// in-memory store, an in-memory catalog, a log hub and a manual clock that
// reads 2024-01-01 00:00:00 UTC and moves only on advance-time. Jobs are
// planned from SQL by the planner and run by a real Executor; the script
// feeds their log sources and looks at what they committed. Verbs:
//
//	catalog              input: CREATE SOURCE/TABLE/SINK statements
//	define [explain]     input: CREATE JOB name [WITH (...)] AS INSERT ...;
//	                     plans and starts the job (explain: print its plan)
//	push source=S        input: one row per line, values separated by ','
//	                     (NULL for null; a time of day hh:mm:ss[.ffffff]
//	                     in a TIMESTAMP column means that time on
//	                     2024-01-01); appends them to S's log in one batch
//	                     and waits until every job reading S has processed
//	                     them (see wait)
//	advance-watermark source=S ts=hh:mm:ss
//	                     appends a watermark punctuation to S's log and
//	                     waits until every stage of every job reading S is
//	                     past it
//	advance-time by=DUR  moves the manual clock (Go duration: 10s, 1m)
//	wait [job=J] [out=N] [watermark=hh:mm:ss]
//	                     waits until the job(s) processed everything pushed:
//	                     every record read, every shuffle queue drained,
//	                     every stage's watermark at least the sources'
//	                     (the largest event time pushed minus the delay, or
//	                     the last punctuation); out=N also waits for N rows
//	                     written in total (panes fired by a processing-time
//	                     tick), watermark=T for every stage to reach T
//	scan-table table=T   prints T's rows, sorted
//	scan-state job=J     prints J's operator state and timers from the store
//	status job=J         prints Job.Status(): counters, stages, operators,
//	                     key ranges and watermarks
//	restart              stops every running job at its last commit, closes
//	                     and reopens the store (a process restart) and
//	                     starts them again from what was committed
//	drain job=J          drains J and waits for it to end
//
// Waiting for results never sleeps: it blocks on the job's commit
// notifications, with a 10 s limit that turns into an error in the output.
// (Only define and restart poll, for jobs that use processing time: until
// their workers have registered their timers on the manual clock, so that
// a following advance-time reaches them; see awaitClockUsers.) Each tick's
// EARLY panes are awaited with wait out=N, since a tick that changes
// nothing commits nothing visible.
func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		e := newDDEnv(t)
		defer e.close()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			out, err := e.run(t, d)
			if err != nil {
				return ddFormatErr(err)
			}
			return out
		})
	})
}

// ddBase is the day that time-of-day shorthands in scripts refer to, and
// the manual clock's start.
var ddBase = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

type ddEnv struct {
	t      *testing.T
	fs     vfs.FS
	store  *state.Store
	cat    *catalog.Catalog
	hub    *connector.LogHub
	clock  *connector.ManualClock
	x      *Executor
	jobs   map[string]*ddJob
	order  []string // job names in definition order
	nextID uint64
	// pushed counts the records appended to each source's log; maxTS is
	// the largest event time pushed, punct the last watermark punctuation.
	pushed map[string]int64
	maxTS  map[string]int64
	punct  map[string]int64
}

type ddJob struct {
	plan *plan.JobPlan
	meta JobMeta
	j    *Job
}

func newDDEnv(t *testing.T) *ddEnv {
	e := &ddEnv{t: t, fs: vfs.NewMem(), cat: catalog.NewMemory(), clock: connector.NewManualClock(ddBase),
		jobs: map[string]*ddJob{}, nextID: 100, pushed: map[string]int64{}, maxTS: map[string]int64{}, punct: map[string]int64{}}
	e.open()
	return e
}

// open opens the store and everything that lives on it.
func (e *ddEnv) open() {
	st, err := state.Open("store", state.Options{FS: e.fs})
	if err != nil {
		e.t.Fatal(err)
	}
	e.store = st
	if e.hub, err = connector.NewLogHub(st); err != nil {
		e.t.Fatal(err)
	}
	// The autoscaler is off: these files pin the ranges they print.
	e.x = New(Config{Store: st, Env: connector.Env{Store: st, Logs: e.hub, Clock: e.clock}, DefaultParallelism: 1, Scale: ScaleConfig{Off: true}})
}

// close stops every job and closes the store.
func (e *ddEnv) close() {
	if err := e.x.Close(); err != nil {
		e.t.Error(err)
	}
	if err := e.store.Close(); err != nil {
		e.t.Error(err)
	}
}

func ddFormatErr(err error) string {
	pe := pgerr.Wrap(err)
	s := "error (" + pe.Code + ")"
	if pe.Line > 0 {
		s += fmt.Sprintf(" %d:%d", pe.Line, pe.Col)
	}
	return s + ": " + pe.Message + "\n"
}

func (e *ddEnv) run(t *testing.T, d *datadriven.TestData) (string, error) {
	switch d.Cmd {
	case "catalog":
		return e.defineObjects(d.Input)
	case "define":
		return e.define(d.Input, d.HasArg("explain"))
	case "push":
		var src string
		d.ScanArgs(t, "source", &src)
		return e.push(src, d.Input)
	case "advance-watermark":
		var src, ts string
		d.ScanArgs(t, "source", &src)
		d.ScanArgs(t, "ts", &ts)
		wm, err := ddParseTime(ts)
		if err != nil {
			return "", err
		}
		if err := e.hub.AppendWatermark(e.sourceID(src), wm); err != nil {
			return "", err
		}
		if p, ok := e.punct[src]; !ok || wm > p {
			e.punct[src] = wm
		}
		return "ok\n", e.waitReaders(src)
	case "advance-time":
		var by string
		d.ScanArgs(t, "by", &by)
		dur, err := time.ParseDuration(by)
		if err != nil {
			t.Fatalf("%s: %v", d.Pos, err)
		}
		e.clock.Advance(dur)
		return fmt.Sprintf("now %s\n", e.clock.Now().UTC().Format("2006-01-02 15:04:05")), nil
	case "wait":
		return e.wait(t, d)
	case "scan-table":
		var name string
		d.ScanArgs(t, "table", &name)
		return e.scanTable(name)
	case "scan-state":
		return e.scanState(e.job(t, d))
	case "status":
		return e.status(e.job(t, d)), nil
	case "restart":
		return e.restart()
	case "drain":
		j := e.job(t, d)
		j.j.Drain()
		<-j.j.Done()
		st, err := j.j.Outcome()
		if err != nil {
			return "", err
		}
		return st + "\n", nil
	}
	t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
	return "", nil
}

func (e *ddEnv) job(t *testing.T, d *datadriven.TestData) *ddJob {
	var name string
	d.ScanArgs(t, "job", &name)
	j := e.jobs[name]
	if j == nil {
		t.Fatalf("%s: no job %q", d.Pos, name)
	}
	return j
}

func (e *ddEnv) defineObjects(input string) (string, error) {
	stmts, err := sql.Parse(input, sql.ParseOptions{})
	if err != nil {
		return "", err
	}
	for _, s := range stmts {
		var err error
		switch s := s.(type) {
		case *sql.CreateSource:
			var o *catalog.Source
			if o, err = planner.BindCreateSource(s); err == nil {
				err = e.cat.CreateSource(o)
			}
		case *sql.CreateTable:
			var o *catalog.Table
			if o, err = planner.BindCreateTable(s); err == nil {
				err = e.cat.CreateTable(o)
			}
		case *sql.CreateSink:
			var o *catalog.Sink
			if o, err = planner.BindCreateSink(s); err == nil {
				err = e.cat.CreateSink(o)
			}
		default:
			err = pgerr.New(pgerr.FeatureNotSupported, "catalog takes CREATE SOURCE/TABLE/SINK, not %T", s)
		}
		if err != nil {
			return "", err
		}
	}
	return "ok\n", nil
}

func (e *ddEnv) define(input string, explain bool) (string, error) {
	st, err := sql.ParseOne(input)
	if err != nil {
		return "", err
	}
	cj, ok := st.(*sql.CreateJob)
	if !ok {
		return "", pgerr.New(pgerr.WrongObjectType, "define needs CREATE JOB, not %T", st)
	}
	jplan, err := planner.PlanCreateJob(e.cat, cj)
	if err != nil {
		return "", err
	}
	e.nextID++
	meta := JobMeta{Name: cj.Name, ID: e.nextID, StateNS: e.nextID}
	before := e.clock.Waiters()
	j, err := e.x.Start(jplan, meta)
	if err != nil {
		return "", err
	}
	dj := &ddJob{plan: jplan, meta: meta, j: j}
	e.jobs[cj.Name] = dj
	e.order = append(e.order, cj.Name)
	if err := e.awaitClockUsers(before, dj); err != nil {
		return "", err
	}
	if explain {
		return planner.ExplainJob(jplan), nil
	}
	return "ok\n", nil
}

func (e *ddEnv) sourceID(name string) uint64 {
	src, err := e.cat.GetSource(name)
	if err != nil {
		e.t.Fatal(err)
	}
	return src.ID
}

// ddParseTime reads a timestamp, or a time of day on ddBase.
func ddParseTime(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if len(s) >= 8 && s[2] == ':' && s[5] == ':' {
		s = ddBase.Format("2006-01-02 ") + s
	}
	return datum.ParseTimestamp(s)
}

func (e *ddEnv) push(name, input string) (string, error) {
	src, err := e.cat.GetSource(name)
	if err != nil {
		return "", err
	}
	tc := src.TimeCol()
	var rows []datum.Row
	for _, line := range strings.Split(strings.TrimSpace(input), "\n") {
		fields := strings.Split(line, ",")
		if len(fields) != len(src.Columns) {
			return "", pgerr.New(pgerr.SyntaxError, "push: %q has %d values, %s has %d columns", line, len(fields), name, len(src.Columns))
		}
		row := make(datum.Row, len(fields))
		for i, f := range fields {
			f = strings.TrimSpace(f)
			c := src.Columns[i]
			switch {
			case f == "NULL":
				row[i] = datum.Null
			case c.Type == datum.TypeTimestamp:
				us, err := ddParseTime(f)
				if err != nil {
					return "", err
				}
				row[i] = datum.NewTimestamp(us)
			default:
				if row[i], err = datum.Parse(c.Type, f); err != nil {
					return "", err
				}
			}
		}
		if tc >= 0 && !row[tc].IsNull() {
			if m, ok := e.maxTS[name]; !ok || row[tc].Micros() > m {
				e.maxTS[name] = row[tc].Micros()
			}
		}
		rows = append(rows, row)
	}
	if _, err := e.hub.Append(src.ID, rows); err != nil {
		return "", err
	}
	e.pushed[name] += int64(len(rows))
	return "ok\n", e.waitReaders(name)
}

// readers returns the running jobs reading source name.
func (e *ddEnv) readers(name string) []*ddJob {
	var out []*ddJob
	for _, n := range e.order {
		j := e.jobs[n]
		for _, s := range j.j.Sources() {
			if s == name {
				out = append(out, j)
				break
			}
		}
	}
	return out
}

func (e *ddEnv) waitReaders(name string) error {
	for _, j := range e.readers(name) {
		if err := e.waitCaughtUp(j, -1, math.MinInt64); err != nil {
			return err
		}
	}
	return nil
}

func (e *ddEnv) wait(t *testing.T, d *datadriven.TestData) (string, error) {
	out := int64(-1)
	d.MaybeScanArgs(t, "out", &out)
	wm := int64(math.MinInt64)
	if d.HasArg("watermark") {
		var s string
		d.ScanArgs(t, "watermark", &s)
		var err error
		if wm, err = ddParseTime(s); err != nil {
			return "", err
		}
	}
	var jobs []*ddJob
	if d.HasArg("job") {
		jobs = append(jobs, e.job(t, d))
	} else {
		for _, n := range e.order {
			jobs = append(jobs, e.jobs[n])
		}
	}
	for _, j := range jobs {
		if err := e.waitCaughtUp(j, out, wm); err != nil {
			return "", err
		}
	}
	return "ok\n", nil
}

// expectedWM is the watermark the job's sources reach once they have read
// everything pushed (ignoring idle advances, which only add to it).
func (e *ddEnv) expectedWM(j *ddJob) int64 {
	wm := int64(math.MaxInt64)
	for _, st := range j.plan.Stages {
		sp := st.Source
		if sp == nil {
			continue
		}
		w := int64(math.MinInt64)
		if m, ok := e.maxTS[sp.Name]; ok && sp.TimeCol >= 0 {
			w = m - sp.WatermarkDelay
		}
		if p, ok := e.punct[sp.Name]; ok && p > w {
			w = p
		}
		if w < wm {
			wm = w
		}
	}
	return wm
}

// waitCaughtUp blocks until job j has read every record pushed to its
// sources, its shuffle queues are empty, every stage's watermark has
// reached what the pushed data implies (and minWM), and (out >= 0) it has
// written out rows in total. It returns early, without error, if the job
// ended.
func (e *ddEnv) waitCaughtUp(j *ddJob, out, minWM int64) error {
	var pushed int64
	for _, s := range j.j.Sources() {
		pushed += e.pushed[s]
	}
	target := e.expectedWM(j)
	if minWM > target {
		target = minWM
	}
	qp := nsKey(queuePrefix, j.meta.StateNS, 0)
	var last string
	cond := func() (bool, error) {
		st := j.j.Status()
		// Log records always decode (no dead letters): every pushed
		// record counts in EventsIn, also one that fails evaluation.
		if st.EventsIn < pushed {
			last = fmt.Sprintf("read %d of %d records", st.EventsIn, pushed)
			return false, nil
		}
		if out >= 0 && st.EventsOut < out {
			last = fmt.Sprintf("wrote %d of %d rows", st.EventsOut, out)
			return false, nil
		}
		for _, ss := range st.Stages {
			if ss.Watermark < target {
				last = fmt.Sprintf("stage %s at watermark %s, waiting for %s", ss.Name, ddFormatWM(ss.Watermark), ddFormatWM(target))
				return false, nil
			}
		}
		queued := 0
		err := e.store.Scan(qp, state.PrefixEnd(qp), func(_, _ []byte) error { queued++; return nil })
		if queued > 0 {
			last = fmt.Sprintf("%d queue entries pending", queued)
			return false, err
		}
		return true, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		j.j.mu.Lock()
		progress := j.j.mu.progress
		j.j.mu.Unlock()
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		select {
		case <-progress:
		case <-j.j.Done():
			_, err := j.j.Outcome()
			return err
		case <-ctx.Done():
			return pgerr.New(pgerr.QueryCanceled, "timed out waiting for job %s: %s", j.meta.Name, last)
		}
	}
}

// awaitClockUsers waits until the workers of jobs that use processing time
// are running: every worker of an emit_early job, and every source worker
// with an idle_timeout, registers a timer on the manual clock first thing
// (the source once it finds nothing to read), so the clock has at least
// that many more waiters than before the jobs started. Without this, an
// advance-time right after a start could run before a worker read the
// clock, and the worker would count from the later time.
func (e *ddEnv) awaitClockUsers(before int, jobs ...*ddJob) error {
	want := before
	for _, j := range jobs {
		for i, ss := range j.j.Status().Stages {
			if j.plan.Options.EmitEarly > 0 {
				want += len(ss.Ranges)
			}
			if sp := j.plan.Stages[i].Source; sp != nil && sp.IdleTimeout > 0 {
				want += len(ss.Ranges)
			}
		}
	}
	// The clock has no notification for new waiters: poll it.
	deadline := time.Now().Add(10 * time.Second)
	for e.clock.Waiters() < want {
		if time.Now().After(deadline) {
			return pgerr.New(pgerr.QueryCanceled, "timed out waiting for %d clock waiters (have %d)", want, e.clock.Waiters())
		}
		time.Sleep(100 * time.Microsecond)
	}
	return nil
}

func ddFormatWM(wm int64) string {
	switch wm {
	case math.MinInt64:
		return "-inf"
	case math.MaxInt64:
		return "+inf"
	}
	return datum.FormatTimestamp(wm)
}

func ddFormatDatum(d datum.Datum) string {
	if d.IsNull() {
		return "NULL"
	}
	return d.Format()
}

func ddFormatRow(r datum.Row) string {
	parts := make([]string, len(r))
	for i, d := range r {
		parts[i] = ddFormatDatum(d)
	}
	return strings.Join(parts, " | ")
}

func (e *ddEnv) scanTable(name string) (string, error) {
	tb, err := e.cat.GetTable(name)
	if err != nil {
		return "", err
	}
	var lines []string
	err = table.Scan(e.store, tb.ID, func(_ []byte, r datum.Row) error {
		lines = append(lines, ddFormatRow(r))
		return nil
	})
	if err != nil {
		return "", err
	}
	if len(lines) == 0 {
		return "<empty>\n", nil
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n", nil
}

// scanState prints every state entry and timer of the job's namespace, as
// committed in the store. Window aggregations' entries are decoded: key,
// window, pane count, flags and the accumulators' current results.
func (e *ddEnv) scanState(j *ddJob) (string, error) {
	windows := map[string]*plan.WindowAggOp{}
	aggs := map[string]*plan.AggOp{}
	for _, st := range j.plan.Stages {
		for _, op := range st.Ops {
			switch op := op.(type) {
			case *plan.WindowAggOp:
				windows[op.OpName()] = op
			case *plan.AggOp:
				aggs[op.OpName()] = op
			}
		}
	}
	var lines []string
	for _, prefix := range []byte{state.PrefixState, state.PrefixTimer} {
		p := nsKey(prefix, j.meta.StateNS, 0)
		err := e.store.Scan(p, state.PrefixEnd(p), func(k, v []byte) error {
			lines = append(lines, e.formatStateEntry(k, v, windows, aggs))
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	if len(lines) == 0 {
		return "<empty>\n", nil
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n", nil
}

func (e *ddEnv) formatStateEntry(k, v []byte, windows map[string]*plan.WindowAggOp, aggs map[string]*plan.AggOp) string {
	raw := fmt.Sprintf("%s -> %x", e.store.FormatKey(k), v)
	i := strings.IndexByte(string(k[9:]), 0)
	if i < 0 {
		return raw
	}
	op := string(k[9 : 9+i])
	rest := k[10+i:]
	if k[0] == state.PrefixTimer {
		// domain(1) ts(8, sign-flipped) hash(8) key; a window timer's key is
		// kind(1) start(8) encoded group key.
		wop := windows[op]
		if wop == nil || len(rest) < 17+9 {
			return raw
		}
		ts := int64(binary.BigEndian.Uint64(rest[1:9]) ^ (1 << 63))
		key := rest[17:]
		kind := "fire"
		if key[0] == timerCleanup {
			kind = "cleanup"
		}
		start := int64(binary.BigEndian.Uint64(key[1:9]))
		keyRow, _, err := datum.DecodeKeyRow(key[9:], len(wop.KeyCols))
		if err != nil {
			return raw
		}
		return fmt.Sprintf("timer %s at %s: %s %s %s", op, datum.FormatTimestamp(ts), kind, ddKey(keyRow), ddWindow(wop.Window, start))
	}
	if len(rest) < 8 {
		return raw
	}
	key := rest[8:]
	if wop := windows[op]; wop != nil && wop.Sliced {
		return formatSlicedEntry(op, wop, key, v, raw) // slicedagg_test.go
	}
	if wop := windows[op]; wop != nil && len(key) >= 8 {
		start := int64(binary.BigEndian.Uint64(key))
		keyRow, _, err := datum.DecodeKeyRow(key[8:], len(wop.KeyCols))
		if err != nil {
			return raw
		}
		pane, n := binary.Varint(v)
		if n <= 0 || len(v) < n+1 {
			return raw
		}
		flags := v[n]
		accs := expr.NewAccSet(wop.Aggs).New()
		if _, err := accs.Decode(v[n+1:]); err != nil {
			return raw
		}
		return fmt.Sprintf("state %s %s %s: panes=%d fired=%t changed=%t aggs=(%s)", op, ddKey(keyRow), ddWindow(wop.Window, start),
			pane, flags&1 != 0, flags&2 != 0, ddResults(accs))
	}
	if aop := aggs[op]; aop != nil {
		keyRow, _, err := datum.DecodeKeyRow(key, len(aop.KeyCols))
		if err != nil {
			return raw
		}
		accs := expr.NewAccSet(aop.Aggs).New()
		if _, err := accs.Decode(v); err != nil {
			return raw
		}
		return fmt.Sprintf("state %s %s: aggs=(%s)", op, ddKey(keyRow), ddResults(accs))
	}
	return raw
}

func ddKey(r datum.Row) string {
	parts := make([]string, len(r))
	for i, d := range r {
		parts[i] = ddFormatDatum(d)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func ddWindow(w plan.WindowSpec, start int64) string {
	return fmt.Sprintf("[%s, %s)", datum.FormatTimestamp(start), datum.FormatTimestamp(start+w.Size))
}

func ddResults(accs expr.AccSet) string {
	res := accs.AppendResults(nil)
	parts := make([]string, len(res))
	for i, d := range res {
		parts[i] = ddFormatDatum(d)
	}
	return strings.Join(parts, ", ")
}

func (e *ddEnv) status(j *ddJob) string {
	st := j.j.Status()
	var b strings.Builder
	fmt.Fprintf(&b, "job %s: %s  in=%d out=%d late_dropped=%d bad=%d\n", j.meta.Name, st.State, st.EventsIn, st.EventsOut, st.LateDropped, st.BadRecords)
	if st.Err != nil {
		fmt.Fprintf(&b, "error: %v\n", st.Err)
	}
	for _, ss := range st.Stages {
		fmt.Fprintf(&b, "stage %s  watermark %s\n", ss.Name, ddFormatWM(ss.Watermark))
		for _, op := range ss.Ops {
			stateful := ""
			if op.Stateful {
				stateful = "  [stateful]"
			}
			fmt.Fprintf(&b, "  op %s%s\n", op.Name, stateful)
		}
		for _, r := range ss.Ranges {
			fmt.Fprintf(&b, "  range %d [%016x, %016x]  watermark %s\n", r.Worker, r.Lo, r.Hi, ddFormatWM(r.Watermark))
		}
	}
	return b.String()
}

// restart stops every running job at its last commit, closes the store and
// reopens it, and starts the jobs again, as a process restart would.
func (e *ddEnv) restart() (string, error) {
	var running []string
	for _, n := range e.order {
		j := e.jobs[n]
		select {
		case <-j.j.Done():
			continue
		default:
		}
		running = append(running, n)
		j.j.Stop()
	}
	e.close()
	e.open()
	var b strings.Builder
	before := e.clock.Waiters()
	var started []*ddJob
	for _, n := range running {
		j := e.jobs[n]
		rj, err := e.x.Start(j.plan, j.meta)
		if err != nil {
			return "", err
		}
		j.j = rj
		started = append(started, j)
		fmt.Fprintf(&b, "restarted %s\n", n)
	}
	if err := e.awaitClockUsers(before, started...); err != nil {
		return "", err
	}
	if b.Len() == 0 {
		return "nothing to restart\n", nil
	}
	return b.String(), nil
}
