package engine

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/weir-sql/weir/catalog"
	"github.com/weir-sql/weir/connector"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/executor"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/state"
	"github.com/weir-sql/weir/table"
)

// resolver resolves names for the planner: user objects from the catalog,
// then virtual tables; it brings the engine's function registry.
type resolver struct{ e *Engine }

func (r resolver) LookupRelation(schema, name string) (*catalog.Relation, error) {
	e := r.e
	if schema == "" || schema == "public" {
		rel, err := e.cat.LookupRelation("", name)
		if err == nil {
			return rel, nil
		}
		if pgerr.Code(err) != pgerr.UndefinedTable {
			return nil, err
		}
	}
	e.mu.Lock()
	vt := e.mu.virtual[schema+"."+name]
	if vt == nil && schema == "" {
		vt = e.mu.virtual["pg_catalog."+name]
		if vt == nil {
			vt = e.mu.virtual["public."+name]
		}
	}
	e.mu.Unlock()
	if vt == nil {
		if schema != "" {
			return nil, pgerr.New(pgerr.UndefinedTable, "relation \"%s.%s\" does not exist", schema, name)
		}
		return nil, pgerr.New(pgerr.UndefinedTable, "relation %q does not exist", name)
	}
	cols := make([]catalog.Column, len(vt.Columns))
	for i, c := range vt.Columns {
		cols[i] = catalog.Column{Name: c.Name, Type: c.Type}
	}
	return &catalog.Relation{Kind: catalog.RelSystem, Schema: vt.Schema, Name: vt.Name, Columns: cols}, nil
}

func (r resolver) Funcs() *expr.Registry { return r.e.funcs }

// scanRelation returns every row of a relation, for batch queries.
func (e *Engine) scanRelation(ctx context.Context, rel *catalog.Relation) ([]datum.Row, error) {
	switch rel.Kind {
	case catalog.RelTable:
		var rows []datum.Row
		err := table.Scan(e.store, rel.ID, func(_ []byte, r datum.Row) error {
			rows = append(rows, r)
			if len(rows)%4096 == 0 && ctx.Err() != nil {
				return pgerr.New(pgerr.QueryCanceled, "canceling statement due to user request")
			}
			return nil
		})
		return rows, err
	case catalog.RelSource:
		if rel.Source != nil && rel.Source.Connector() != "log" {
			return nil, pgerr.New(pgerr.FeatureNotSupported, "cannot SELECT from %s source %s directly; create a job that reads it", rel.Source.Connector(), rel.Name)
		}
		return e.readLog(rel)
	case catalog.RelSink:
		return nil, pgerr.New(pgerr.WrongObjectType, "%s is a sink; sinks cannot be queried", rel.Name)
	case catalog.RelSystem:
		e.mu.Lock()
		vt := e.mu.virtual[rel.Schema+"."+rel.Name]
		e.mu.Unlock()
		if vt == nil {
			return nil, pgerr.New(pgerr.UndefinedTable, "relation %q does not exist", rel.Name)
		}
		return vt.Rows(e)
	}
	return nil, pgerr.New(pgerr.InternalError, "cannot scan %s", rel.Name)
}

func cols(spec ...any) []Column {
	out := make([]Column, 0, len(spec)/2)
	for i := 0; i < len(spec); i += 2 {
		out = append(out, Column{Name: spec[i].(string), Type: spec[i+1].(datum.Type)})
	}
	return out
}

func ts(us int64) datum.Datum {
	if us == 0 {
		return datum.Null
	}
	return datum.NewTimestamp(us)
}

// FormatWatermark prints a watermark: a timestamp, or -infinity before
// anything is known and infinity once everything is done.
func FormatWatermark(wm int64) string {
	switch wm {
	case math.MinInt64:
		return "-infinity"
	case math.MaxInt64:
		return "infinity"
	}
	return datum.FormatTimestamp(wm)
}

func (e *Engine) registerSystemTables() {
	str, i64, b := datum.TypeText, datum.TypeInt8, datum.TypeBool
	tsT := datum.TypeTimestamp
	e.RegisterVirtualTable(VirtualTable{Name: "weir_jobs",
		Columns: cols("name", str, "job_id", i64, "state", str, "started_at", tsT, "ended_at", tsT, "events_in", i64, "events_out", i64,
			"late_dropped", i64, "bad_records", i64, "error", str, "sql", str),
		Rows: func(e *Engine) ([]datum.Row, error) { return e.jobRows() }})
	e.RegisterVirtualTable(VirtualTable{Name: "weir_operators",
		Columns: cols("job", str, "job_id", i64, "stage", str, "operator", str, "stateful", b, "watermark", str, "state_bytes", i64),
		Rows:    func(e *Engine) ([]datum.Row, error) { return e.operatorRows(), nil }})
	e.RegisterVirtualTable(VirtualTable{Name: "weir_key_ranges",
		Columns: cols("job", str, "job_id", i64, "stage", str, "range_start", str, "range_end", str, "worker", i64, "events_per_second", datum.TypeFloat8,
			"events", i64, "watermark", str, "unit", i64, "buckets", str, "partition", i64, "backlog", i64, "hot", b, "done", b,
			"busy_ms", datum.TypeFloat8, "state_bytes", i64),
		Rows: func(e *Engine) ([]datum.Row, error) { return e.rangeRows(), nil }})
	e.RegisterVirtualTable(VirtualTable{Name: "weir_workers",
		Columns: cols("job", str, "job_id", i64, "worker", i64, "ranges", i64, "busy_ms", datum.TypeFloat8),
		Rows:    func(e *Engine) ([]datum.Row, error) { return e.workerRows(), nil }})
	e.RegisterVirtualTable(VirtualTable{Name: "weir_snapshots",
		Columns: cols("name", str, "job", str, "job_id", i64, "with_source", b, "created_at", tsT, "bytes", i64, "operators", str),
		Rows: func(e *Engine) ([]datum.Row, error) {
			var rows []datum.Row
			for _, s := range e.cat.ListSnapshots() {
				rows = append(rows, datum.Row{datum.NewString(s.Name), datum.NewString(s.Job), datum.NewInt(int64(s.JobID)), datum.NewBool(s.WithSource),
					ts(s.CreatedAt), datum.NewInt(s.Bytes), datum.NewString(strings.Join(s.Operators, ", "))})
			}
			return rows, nil
		}})
	e.RegisterVirtualTable(VirtualTable{Name: "weir_dead_letters",
		Columns: cols("job", str, "job_id", i64, "source", str, "position", i64, "raw", datum.TypeBytea, "error", str, "time", tsT),
		Rows: func(e *Engine) ([]datum.Row, error) {
			var rows []datum.Row
			p := executor.DeadLetterPrefix()
			err := e.store.Scan(p, state.PrefixEnd(p), func(_, v []byte) error {
				r, _, err := datum.DecodeRow(v)
				if err != nil {
					return err
				}
				rows = append(rows, r)
				return nil
			})
			return rows, err
		}})
}

func (e *Engine) jobRows() ([]datum.Row, error) {
	jobs := e.cat.Jobs()
	sort.Slice(jobs, func(i, j int) bool { return jobs[i].ID < jobs[j].ID })
	var rows []datum.Row
	for _, j := range jobs {
		var p executor.Progress
		state := j.State
		if rj := e.runningJob(j.Name); rj != nil && rj.Meta().ID == j.ID {
			st := rj.Status()
			p = executor.Progress{EventsIn: st.EventsIn, EventsOut: st.EventsOut, LateDropped: st.LateDropped, BadRecords: st.BadRecords}
		} else {
			var err error
			if p, err = executor.ReadProgress(e.store, j.StateNS); err != nil {
				return nil, err
			}
		}
		errText := datum.Null
		if j.Error != "" {
			errText = datum.NewString(j.Error)
		}
		rows = append(rows, datum.Row{datum.NewString(j.Name), datum.NewInt(int64(j.ID)), datum.NewString(state), ts(j.StartedAt), ts(j.EndedAt),
			datum.NewInt(p.EventsIn), datum.NewInt(p.EventsOut), datum.NewInt(p.LateDropped), datum.NewInt(p.BadRecords), errText, datum.NewString(j.SQL)})
	}
	return rows, nil
}

func (e *Engine) liveJobs() []*executor.Job {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*executor.Job, 0, len(e.mu.jobs))
	for _, lj := range e.mu.jobs {
		out = append(out, lj.job)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Meta().ID < out[j].Meta().ID })
	return out
}

func (e *Engine) operatorRows() []datum.Row {
	var rows []datum.Row
	for _, rj := range e.liveJobs() {
		m := rj.Meta()
		for _, st := range rj.Status().Stages {
			for _, op := range st.Ops {
				rows = append(rows, datum.Row{datum.NewString(m.Name), datum.NewInt(int64(m.ID)), datum.NewString(st.Name), datum.NewString(op.Name),
					datum.NewBool(op.Stateful), datum.NewString(FormatWatermark(st.Watermark)), datum.NewInt(op.StateBytes)})
			}
		}
	}
	return rows
}

// rangeRows lists every unit of every live job (executor.RangeStatus),
// finished ones too (done = true): a key range of a keyed stage or a
// partition range of a source stage, its owning worker, its load and its
// watermark. backlog is the rows waiting: in a key range's buckets, or
// published and not yet read from a log source (0 for sources that cannot
// tell).
//
// events_per_second is the unit's rate over the autoscaler's last
// measurement interval (RangeStatus.Rate). Before the job has run one
// interval in this process, or with the autoscaler off, there is no such
// measurement yet; the rate is then the unit's average since the job
// started (its events over the elapsed time) rather than a misleading 0.
func (e *Engine) rangeRows() []datum.Row {
	var rows []datum.Row
	for _, rj := range e.liveJobs() {
		m := rj.Meta()
		elapsed := float64(e.Now()-rj.StartedAt()) / 1e6
		for _, st := range rj.Status().Stages {
			for _, r := range st.Ranges {
				buckets, part := datum.Null, datum.Null
				if r.Partition >= 0 {
					part = datum.NewInt(int64(r.Partition))
				} else {
					buckets = datum.NewString(bucketsText(r.Buckets))
				}
				rows = append(rows, datum.Row{datum.NewString(m.Name), datum.NewInt(int64(m.ID)), datum.NewString(st.Name),
					datum.NewString(fmt.Sprintf("%016x", r.Lo)), datum.NewString(fmt.Sprintf("%016x", r.Hi)), datum.NewInt(int64(r.Worker)),
					datum.NewFloat(e.unitRate(r, elapsed)), datum.NewInt(r.Events), datum.NewString(FormatWatermark(r.Watermark)),
					datum.NewInt(int64(r.Unit)), buckets, part, datum.NewInt(int64(r.Backlog)), datum.NewBool(r.Hot), datum.NewBool(r.Done),
					datum.NewFloat(float64(r.Busy.Microseconds()) / 1000), datum.NewInt(r.StateBytes)})
			}
		}
	}
	return rows
}

// workerRows lists the live jobs' workers: the units each owns and the
// time it spent running bundles (this process).
func (e *Engine) workerRows() []datum.Row {
	var rows []datum.Row
	for _, rj := range e.liveJobs() {
		m := rj.Meta()
		st := rj.Status()
		owned := make([]int64, len(st.WorkerBusy))
		for _, ss := range st.Stages {
			for _, r := range ss.Ranges {
				if !r.Done && r.Worker < len(owned) {
					owned[r.Worker]++
				}
			}
		}
		for i, busy := range st.WorkerBusy {
			rows = append(rows, datum.Row{datum.NewString(m.Name), datum.NewInt(int64(m.ID)), datum.NewInt(int64(i)),
				datum.NewInt(owned[i]), datum.NewFloat(float64(busy.Microseconds()) / 1000)})
		}
	}
	return rows
}

// unitRate is a unit's events per second (see rangeRows): the autoscaler's
// last measurement, or the average since the start (elapsed seconds) while
// there is none.
func (e *Engine) unitRate(r executor.RangeStatus, elapsed float64) float64 {
	if r.Rate != 0 {
		return float64(r.Rate)
	}
	iv := e.opts.Scale.Interval
	if iv <= 0 {
		iv = time.Second
	}
	if (e.opts.Scale.Off || elapsed < iv.Seconds()) && elapsed > 0 {
		return float64(r.Events) / elapsed
	}
	return 0
}

// bucketsText prints a key range's buckets [lo, hi) as 'lo-last'.
func bucketsText(b [2]int) string { return fmt.Sprintf("%d-%d", b[0], b[1]-1) }

// readLog returns every published record of a log source.
func (e *Engine) readLog(rel *catalog.Relation) ([]datum.Row, error) {
	src, err := connector.OpenSource(connector.SourceConfig{Name: rel.Name, ID: rel.ID, Connector: "log", Options: rel.Source.Options,
		Schema: connectorColumns(rel.Columns), TimeCol: rel.Source.TimeCol()}, e.connectorEnv())
	if err != nil {
		return nil, err
	}
	var rows []datum.Row
	n := src.Partitions(1)
	for p := 0; p < n; p++ {
		if rows, err = readLogPartition(src, p, n, rows); err != nil {
			return nil, err
		}
	}
	return rows, nil
}

// readLogPartition appends the published records of partition p of a log
// source to rows.
func readLogPartition(src connector.Source, p, n int, rows []datum.Row) ([]datum.Row, error) {
	r, err := src.Open(p, n, 0)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var buf []connector.Record
	for {
		recs, eof, err := r.Read(buf[:0], 4096)
		if err != nil {
			return nil, err
		}
		for _, rec := range recs {
			if rec.Err == nil && !rec.IsWatermark {
				rows = append(rows, rec.Row)
			}
		}
		if eof || len(recs) == 0 {
			return rows, nil
		}
		buf = recs
	}
}
