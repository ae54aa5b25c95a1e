package console

import (
	"context"
	"encoding/hex"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/engine"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/sql"
)

// This file reads what the console shows from the system tables and
// EXPLAIN JOB, through an engine session, as a psql user would.

// exec runs one statement in a fresh session and returns its result.
func (c *Console) exec(ctx context.Context, text string) (*engine.Result, error) {
	s := c.cfg.Engine.NewSession()
	defer s.Close()
	res, err := s.Exec(ctx, text)
	if err != nil {
		return nil, err
	}
	if len(res) == 0 {
		return &engine.Result{}, nil
	}
	return res[len(res)-1], nil
}

// table is a query result with columns by name.
type table struct {
	res *engine.Result
	idx map[string]int
}

func (c *Console) query(ctx context.Context, text string) (*table, error) {
	res, err := c.exec(ctx, text)
	if err != nil {
		return nil, err
	}
	t := &table{res: res, idx: map[string]int{}}
	for i, col := range res.Columns {
		t.idx[col.Name] = i
	}
	return t, nil
}

func (t *table) d(row datum.Row, col string) datum.Datum { return row[t.idx[col]] }

func (t *table) str(row datum.Row, col string) string {
	d := t.d(row, col)
	if d.IsNull() {
		return ""
	}
	return d.Format()
}

func (t *table) int(row datum.Row, col string) int64 {
	d := t.d(row, col)
	if d.IsNull() {
		return 0
	}
	if d.Kind() == datum.KindFloat {
		return int64(d.Float())
	}
	return d.Int()
}

func (t *table) float(row datum.Row, col string) float64 {
	d := t.d(row, col)
	if d.IsNull() {
		return 0
	}
	return d.AsFloat()
}

// parseWatermark reads a watermark as the system tables print it
// (engine.FormatWatermark).
func parseWatermark(s string) int64 {
	switch s {
	case "", "-infinity":
		return math.MinInt64
	case "infinity":
		return math.MaxInt64
	}
	us, err := datum.ParseTimestamp(s)
	if err != nil {
		return math.MinInt64
	}
	return us
}

// lagSeconds is processing time now minus watermark wm, in seconds: 0 once
// the watermark is infinite (everything processed), nil while unknown.
func lagSeconds(now, wm int64) *float64 {
	var v float64
	switch wm {
	case math.MinInt64:
		return nil
	case math.MaxInt64:
		v = 0
	default:
		v = float64(now-wm) / 1e6
	}
	return &v
}

// Job is one launch of a job (a row of weir_jobs) with its live figures.
type Job struct {
	Name        string   `json:"name"`
	JobID       int64    `json:"job_id"`
	State       string   `json:"state"`
	StartedAt   string   `json:"started_at"`
	EndedAt     string   `json:"ended_at,omitempty"`
	EventsIn    int64    `json:"events_in"`
	EventsOut   int64    `json:"events_out"`
	LateDropped int64    `json:"late_dropped"`
	BadRecords  int64    `json:"bad_records"`
	DeadLetters int64    `json:"dead_letters"`
	Error       string   `json:"error,omitempty"`
	SQL         string   `json:"sql,omitempty"`
	Watermark   string   `json:"watermark"`
	LagSeconds  *float64 `json:"lag_seconds"`
	Launches    int      `json:"launches"`
	Workers     int      `json:"workers"`

	wm int64
}

// StageStats are a stage's live figures: its output watermark and lag,
// and sums over its units (weir_key_ranges) and operators.
type StageStats struct {
	Watermark       string   `json:"watermark"`
	LagSeconds      *float64 `json:"lag_seconds"`
	EventsPerSecond float64  `json:"events_per_second"`
	Events          int64    `json:"events"`
	Backlog         int64    `json:"backlog"`
	StateBytes      int64    `json:"state_bytes"`
	Ranges          int      `json:"ranges"`
	Hot             int      `json:"hot"`

	wm int64
}

// Range is a unit of a stage (a row of weir_key_ranges).
type Range struct {
	Stage           string  `json:"stage"`
	Unit            int64   `json:"unit"`
	Start           string  `json:"range_start"`
	End             string  `json:"range_end"`
	Buckets         string  `json:"buckets,omitempty"`
	Partition       *int64  `json:"partition,omitempty"`
	Worker          int64   `json:"worker"`
	EventsPerSecond float64 `json:"events_per_second"`
	Events          int64   `json:"events"`
	Backlog         int64   `json:"backlog"`
	Hot             bool    `json:"hot"`
	Done            bool    `json:"done"`
	BusyMS          float64 `json:"busy_ms"`
	StateBytes      int64   `json:"state_bytes"`
	Watermark       string  `json:"watermark"`
}

// Worker is a row of weir_workers.
type Worker struct {
	Worker int64   `json:"worker"`
	Ranges int64   `json:"ranges"`
	BusyMS float64 `json:"busy_ms"`
}

// Snapshot is a row of weir_snapshots.
type Snapshot struct {
	Name       string `json:"name"`
	JobID      int64  `json:"job_id"`
	WithSource bool   `json:"with_source"`
	CreatedAt  string `json:"created_at"`
	Bytes      int64  `json:"bytes"`
	Operators  string `json:"operators"`
}

// DeadLetter is a row of weir_dead_letters.
type DeadLetter struct {
	JobID    int64  `json:"job_id"`
	Source   string `json:"source"`
	Position int64  `json:"position"`
	RawHex   string `json:"raw_hex"`
	RawText  string `json:"raw_text"`
	Error    string `json:"error"`
	Time     string `json:"time"`
}

// Output is the first rows of the table the job writes into.
type Output struct {
	Table   string     `json:"table"`
	Columns []string   `json:"columns"`
	Rows    [][]string `json:"rows"`
	Error   string     `json:"error,omitempty"`
}

// JobPage is everything the job page shows.
type JobPage struct {
	Job         *Job         `json:"job"`
	Launches    []*Job       `json:"launches"`
	Graph       *Graph       `json:"graph"`
	GraphError  string       `json:"graph_error,omitempty"`
	Ranges      []Range      `json:"ranges"`
	Workers     []Worker     `json:"workers"`
	Snapshots   []Snapshot   `json:"snapshots"`
	Tables      bool         `json:"tables"` // DeadLetters and Output were read
	DeadLetters []DeadLetter `json:"dead_letters"`
	Output      *Output      `json:"output,omitempty"`
	Series      []Sample     `json:"series"`
	Now         string       `json:"now"`
	NowMicros   int64        `json:"now_us"`
}

// deadLetterLimit bounds the dead letters a job page lists.
const deadLetterLimit = 100

// outputLimit bounds the output rows a job page lists.
const outputLimit = 100

// jobs returns every launch in weir_jobs, oldest first, with the live
// launches' watermarks and worker counts and each name's dead letters.
func (c *Console) jobs(ctx context.Context) ([]*Job, error) {
	jt, err := c.query(ctx, "SELECT * FROM weir_jobs ORDER BY job_id")
	if err != nil {
		return nil, err
	}
	ops, err := c.query(ctx, "SELECT job, job_id, stage, watermark FROM weir_operators")
	if err != nil {
		return nil, err
	}
	wk, err := c.query(ctx, "SELECT job, job_id, count(*) AS n FROM weir_workers GROUP BY job, job_id")
	if err != nil {
		return nil, err
	}
	dead, err := c.deadLetterCounts(ctx)
	if err != nil {
		return nil, err
	}
	now := c.now()
	type key struct {
		name string
		id   int64
	}
	wms := map[key]int64{}
	for _, r := range ops.res.Rows {
		k := key{ops.str(r, "job"), ops.int(r, "job_id")}
		wm := parseWatermark(ops.str(r, "watermark"))
		if cur, ok := wms[k]; !ok || wm < cur {
			wms[k] = wm
		}
	}
	workers := map[key]int{}
	for _, r := range wk.res.Rows {
		workers[key{wk.str(r, "job"), wk.int(r, "job_id")}] = int(wk.int(r, "n"))
	}
	launches := map[string]int{}
	var out []*Job
	for _, r := range jt.res.Rows {
		j := &Job{Name: jt.str(r, "name"), JobID: jt.int(r, "job_id"), State: jt.str(r, "state"),
			StartedAt: jt.str(r, "started_at"), EndedAt: jt.str(r, "ended_at"), EventsIn: jt.int(r, "events_in"),
			EventsOut: jt.int(r, "events_out"), LateDropped: jt.int(r, "late_dropped"), BadRecords: jt.int(r, "bad_records"),
			Error: jt.str(r, "error"), SQL: jt.str(r, "sql"), wm: math.MinInt64}
		k := key{j.Name, j.JobID}
		if wm, ok := wms[k]; ok {
			j.wm = wm
		} else if finished(j.State) {
			j.wm = math.MaxInt64 // everything processed
		}
		j.Watermark = engine.FormatWatermark(j.wm)
		j.LagSeconds = lagSeconds(now, j.wm)
		if isEnded(j.State) {
			j.LagSeconds = nil
		}
		j.Workers = workers[k]
		j.DeadLetters = dead[j.Name]
		launches[j.Name]++
		out = append(out, j)
	}
	for _, j := range out {
		j.Launches = launches[j.Name]
	}
	return out, nil
}

// finished reports whether a launch ended with everything it read
// processed (its watermark went to infinity): DONE or DRAINED. A cancelled,
// failed or updated launch's last watermark is not kept.
func finished(state string) bool { return state == "DONE" || state == "DRAINED" }

// isEnded reports whether a launch has ended.
func isEnded(state string) bool {
	switch state {
	case "RUNNING", "DRAINING", "UPDATING":
		return false
	}
	return true
}

// latest returns the newest launch of each name, by name.
func latest(all []*Job) []*Job {
	by := map[string]*Job{}
	for _, j := range all {
		if cur := by[j.Name]; cur == nil || j.JobID > cur.JobID {
			by[j.Name] = j
		}
	}
	out := make([]*Job, 0, len(by))
	for _, j := range by {
		out = append(out, j)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out
}

// errNoJob is the error for a name weir_jobs does not know, worded as the
// engine words it.
func errNoJob(name string) error {
	return pgerr.New(pgerr.UndefinedObject, "job %q does not exist", name)
}

// heavyEvery is how often the console re-reads what costs a scan of a
// whole table (the batch evaluator materializes a relation before LIMIT):
// the dead-letter counts, and a job page's dead letters and output rows
// unless the page asks for them (after a button press).
const heavyEvery = 10 * time.Second

// deadLetterCounts returns the rows of weir_dead_letters per job name,
// read at most every heavyEvery of the console's clock.
func (c *Console) deadLetterCounts(ctx context.Context) (map[string]int64, error) {
	now := c.now()
	c.mu.Lock()
	if c.mu.dead != nil && now-c.mu.deadAt < heavyEvery.Microseconds() && now >= c.mu.deadAt {
		m := c.mu.dead
		c.mu.Unlock()
		return m, nil
	}
	c.mu.Unlock()
	dl, err := c.query(ctx, "SELECT job, count(*) AS n FROM weir_dead_letters GROUP BY job")
	if err != nil {
		return nil, err
	}
	dead := map[string]int64{}
	for _, r := range dl.res.Rows {
		dead[dl.str(r, "job")] = dl.int(r, "n")
	}
	c.mu.Lock()
	c.mu.dead, c.mu.deadAt = dead, now
	c.mu.Unlock()
	return dead, nil
}

// forgetDeadLetterCounts makes the next deadLetterCounts read the table.
func (c *Console) forgetDeadLetterCounts() {
	c.mu.Lock()
	c.mu.dead = nil
	c.mu.Unlock()
}

// jobPage gathers the job page of name (its newest launch); with tables,
// also its dead letters and the first rows of its output table (a scan of
// each: the page asks for them every heavyEvery, and after a button press).
func (c *Console) jobPage(ctx context.Context, name string, tables bool) (*JobPage, error) {
	if tables {
		c.forgetDeadLetterCounts()
	}
	all, err := c.jobs(ctx)
	if err != nil {
		return nil, err
	}
	p := &JobPage{NowMicros: c.now()}
	p.Now = datum.FormatTimestamp(p.NowMicros)
	for _, j := range all {
		if j.Name == name {
			p.Launches = append(p.Launches, j)
			if p.Job == nil || j.JobID > p.Job.JobID {
				p.Job = j
			}
		}
	}
	if p.Job == nil {
		return nil, errNoJob(name)
	}
	q := sql.QuoteIdent(name)
	lit := sql.QuoteString(name)
	if ex, err := c.exec(ctx, "EXPLAIN JOB "+q); err != nil {
		p.GraphError = errorText(err)
	} else {
		lines := make([]string, len(ex.Rows))
		for i, r := range ex.Rows {
			lines[i] = r[0].Str()
		}
		p.Graph = parseExplain(lines)
	}
	id := p.Job.JobID
	stats := map[string]*StageStats{}
	if p.Graph != nil {
		for _, st := range p.Graph.Stages {
			st.wm = math.MinInt64
			if finished(p.Job.State) {
				st.wm = math.MaxInt64
			}
			stats[st.Name] = &st.StageStats
		}
	}
	ops, err := c.query(ctx, "SELECT * FROM weir_operators WHERE job = "+lit)
	if err != nil {
		return nil, err
	}
	opBytes := map[string]int64{}
	for _, r := range ops.res.Rows {
		if ops.int(r, "job_id") != id {
			continue
		}
		if s := stats[ops.str(r, "stage")]; s != nil {
			s.wm = parseWatermark(ops.str(r, "watermark"))
			s.StateBytes += ops.int(r, "state_bytes")
		}
		opBytes[ops.str(r, "stage")+"\x00"+ops.str(r, "operator")] = ops.int(r, "state_bytes")
	}
	rt, err := c.query(ctx, "SELECT * FROM weir_key_ranges WHERE job = "+lit+" ORDER BY stage, range_start")
	if err != nil {
		return nil, err
	}
	for _, r := range rt.res.Rows {
		if rt.int(r, "job_id") != id {
			continue
		}
		rg := Range{Stage: rt.str(r, "stage"), Unit: rt.int(r, "unit"), Start: rt.str(r, "range_start"), End: rt.str(r, "range_end"),
			Buckets: rt.str(r, "buckets"), Worker: rt.int(r, "worker"), EventsPerSecond: rt.float(r, "events_per_second"),
			Events: rt.int(r, "events"), Backlog: rt.int(r, "backlog"), Hot: rt.d(r, "hot").Bool(), Done: rt.d(r, "done").Bool(),
			BusyMS: rt.float(r, "busy_ms"), StateBytes: rt.int(r, "state_bytes"), Watermark: rt.str(r, "watermark")}
		if d := rt.d(r, "partition"); !d.IsNull() {
			v := d.Int()
			rg.Partition = &v
		}
		p.Ranges = append(p.Ranges, rg)
		if s := stats[rg.Stage]; s != nil {
			s.Ranges++
			s.Events += rg.Events
			s.Backlog += rg.Backlog
			if !rg.Done {
				s.EventsPerSecond += rg.EventsPerSecond
			}
			if rg.Hot {
				s.Hot++
			}
		}
	}
	for _, s := range stats {
		s.Watermark = engine.FormatWatermark(s.wm)
		s.LagSeconds = lagSeconds(p.NowMicros, s.wm)
	}
	if p.Graph != nil {
		for _, st := range p.Graph.Stages {
			for i := range st.Ops {
				st.Ops[i].StateBytes = opBytes[st.Name+"\x00"+st.Ops[i].Name]
			}
		}
	}
	wt, err := c.query(ctx, "SELECT * FROM weir_workers WHERE job = "+lit+" ORDER BY worker")
	if err != nil {
		return nil, err
	}
	for _, r := range wt.res.Rows {
		if wt.int(r, "job_id") == id {
			p.Workers = append(p.Workers, Worker{Worker: wt.int(r, "worker"), Ranges: wt.int(r, "ranges"), BusyMS: wt.float(r, "busy_ms")})
		}
	}
	st, err := c.query(ctx, "SELECT * FROM weir_snapshots WHERE job = "+lit+" ORDER BY created_at, name")
	if err != nil {
		return nil, err
	}
	for _, r := range st.res.Rows {
		p.Snapshots = append(p.Snapshots, Snapshot{Name: st.str(r, "name"), JobID: st.int(r, "job_id"), WithSource: st.d(r, "with_source").Bool(),
			CreatedAt: st.str(r, "created_at"), Bytes: st.int(r, "bytes"), Operators: st.str(r, "operators")})
	}
	p.Series = c.series(name, 0)
	if !tables {
		return p, nil
	}
	p.Tables = true
	dt, err := c.query(ctx, "SELECT * FROM weir_dead_letters WHERE job = "+lit+" ORDER BY time DESC, position DESC LIMIT "+itoa(deadLetterLimit))
	if err != nil {
		return nil, err
	}
	for _, r := range dt.res.Rows {
		raw := dt.d(r, "raw").Bytes()
		p.DeadLetters = append(p.DeadLetters, DeadLetter{JobID: dt.int(r, "job_id"), Source: dt.str(r, "source"), Position: dt.int(r, "position"),
			RawHex: hex.EncodeToString(raw), RawText: printable(raw), Error: dt.str(r, "error"), Time: dt.str(r, "time")})
	}
	if p.Graph != nil {
		if tbl := p.Graph.sinkTable(); tbl != "" {
			p.Output = c.output(ctx, tbl)
		}
	}
	return p, nil
}

// output reads the first rows of the job's target table.
func (c *Console) output(ctx context.Context, tbl string) *Output {
	o := &Output{Table: tbl}
	res, err := c.exec(ctx, "SELECT * FROM "+sql.QuoteIdent(tbl)+" LIMIT "+itoa(outputLimit))
	if err != nil {
		o.Error = errorText(err)
		return o
	}
	for _, col := range res.Columns {
		o.Columns = append(o.Columns, col.Name)
	}
	for _, r := range res.Rows {
		row := make([]string, len(r))
		for i, d := range r {
			if d.IsNull() {
				row[i] = "NULL"
			} else {
				row[i] = d.Format()
			}
		}
		o.Rows = append(o.Rows, row)
	}
	return o
}

// printable shows raw bytes as text: valid UTF-8 as is, other bytes and
// control characters as \xNN.
func printable(b []byte) string {
	var sb strings.Builder
	for len(b) > 0 {
		r, n := rune(b[0]), 1
		if b[0] >= 0x80 {
			var s string
			s, n = decodeRune(b)
			if s == "" {
				sb.WriteString(`\x` + hex.EncodeToString(b[:1]))
				b = b[1:]
				continue
			}
			sb.WriteString(s)
			b = b[n:]
			continue
		}
		switch {
		case r == '\\':
			sb.WriteString(`\\`)
		case r < 0x20 || r == 0x7f:
			sb.WriteString(`\x` + hex.EncodeToString(b[:1]))
		default:
			sb.WriteByte(b[0])
		}
		b = b[n:]
	}
	return sb.String()
}
