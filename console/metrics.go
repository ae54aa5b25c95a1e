package console

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// serveMetrics writes the Prometheus text format (version 0.0.4). The
// metric and label names are stable (README.md lists them):
//
//	weir_job_events_in_total{job,job_id,state}        counter
//	weir_job_events_out_total{job,job_id,state}       counter
//	weir_job_late_dropped_total{job,job_id,state}     counter
//	weir_job_bad_records_total{job,job_id,state}      counter
//	weir_job_dead_letters{job}                        gauge (rows in weir_dead_letters)
//	weir_job_running{job,job_id}                      gauge (1 while live)
//	weir_job_watermark_seconds{job,job_id}            gauge (live launches)
//	weir_job_watermark_lag_seconds{job,job_id}        gauge
//	weir_job_workers{job,job_id}                      gauge
//	weir_stage_watermark_seconds{job,job_id,stage}    gauge
//	weir_stage_watermark_lag_seconds{job,job_id,stage} gauge
//	weir_stage_events_total{job,job_id,stage}         counter (this process)
//	weir_stage_events_per_second{job,job_id,stage}    gauge
//	weir_stage_backlog_rows{job,job_id,stage}         gauge
//	weir_stage_state_bytes{job,job_id,stage}          gauge
//	weir_stage_ranges{job,job_id,stage}               gauge
//	weir_stage_hot_ranges{job,job_id,stage}           gauge
//	weir_operator_state_bytes{job,job_id,stage,operator} gauge
//	weir_worker_busy_seconds_total{job,job_id,worker} counter (this process)
//
// A watermark of infinity (drained, done) is +Inf; an unknown one
// (nothing read yet) is left out, as is its lag.
func (c *Console) serveMetrics(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	all, err := c.jobs(ctx)
	if err != nil {
		http.Error(w, errorText(err), http.StatusInternalServerError)
		return
	}
	ops, err := c.query(ctx, "SELECT * FROM weir_operators")
	if err != nil {
		http.Error(w, errorText(err), http.StatusInternalServerError)
		return
	}
	rt, err := c.query(ctx, "SELECT * FROM weir_key_ranges")
	if err != nil {
		http.Error(w, errorText(err), http.StatusInternalServerError)
		return
	}
	wt, err := c.query(ctx, "SELECT * FROM weir_workers")
	if err != nil {
		http.Error(w, errorText(err), http.StatusInternalServerError)
		return
	}
	now := c.now()
	m := &metricWriter{}
	for _, j := range all {
		l := labels("job", j.Name, "job_id", strconv.FormatInt(j.JobID, 10), "state", j.State)
		m.add("weir_job_events_in_total", "counter", "Events read by the job's sources.", l, float64(j.EventsIn))
		m.add("weir_job_events_out_total", "counter", "Rows the job wrote to its table or sink.", l, float64(j.EventsOut))
		m.add("weir_job_late_dropped_total", "counter", "Records dropped as later than the allowed lateness.", l, float64(j.LateDropped))
		m.add("weir_job_bad_records_total", "counter", "Malformed source records sent to weir_dead_letters.", l, float64(j.BadRecords))
	}
	for _, j := range latest(all) {
		m.add("weir_job_dead_letters", "gauge", "Rows of weir_dead_letters for the job name.", labels("job", j.Name), float64(j.DeadLetters))
	}
	for _, j := range all {
		if isEnded(j.State) {
			continue
		}
		l := labels("job", j.Name, "job_id", strconv.FormatInt(j.JobID, 10))
		m.add("weir_job_running", "gauge", "1 for a live launch (RUNNING, DRAINING, UPDATING).", l, 1)
		if j.wm != math.MinInt64 {
			m.add("weir_job_watermark_seconds", "gauge", "The job's watermark (the minimum over its stages), seconds since the epoch.", l, wmSeconds(j.wm))
			m.add("weir_job_watermark_lag_seconds", "gauge", "Processing time minus the job's watermark.", l, *lagSeconds(now, j.wm))
		}
		m.add("weir_job_workers", "gauge", "The job's workers.", l, float64(j.Workers))
	}
	type stageKey struct{ job, id, stage string }
	type stageAgg struct {
		wm                          int64
		events, backlog, bytes      float64
		rate                        float64
		ranges, hot                 float64
		haveWM, haveRanges, haveOps bool
	}
	stages := map[stageKey]*stageAgg{}
	get := func(k stageKey) *stageAgg {
		if s := stages[k]; s != nil {
			return s
		}
		s := &stageAgg{}
		stages[k] = s
		return s
	}
	for _, r := range ops.res.Rows {
		k := stageKey{ops.str(r, "job"), ops.str(r, "job_id"), ops.str(r, "stage")}
		s := get(k)
		s.wm, s.haveWM, s.haveOps = parseWatermark(ops.str(r, "watermark")), true, true
		s.bytes += float64(ops.int(r, "state_bytes"))
		m.add("weir_operator_state_bytes", "gauge", "Estimated on-disk state of an operator.",
			labels("job", k.job, "job_id", k.id, "stage", k.stage, "operator", ops.str(r, "operator")), float64(ops.int(r, "state_bytes")))
	}
	for _, r := range rt.res.Rows {
		s := get(stageKey{rt.str(r, "job"), rt.str(r, "job_id"), rt.str(r, "stage")})
		s.haveRanges = true
		s.ranges++
		s.events += float64(rt.int(r, "events"))
		s.backlog += float64(rt.int(r, "backlog"))
		if !rt.d(r, "done").Bool() {
			s.rate += rt.float(r, "events_per_second")
		}
		if rt.d(r, "hot").Bool() {
			s.hot++
		}
	}
	keys := make([]stageKey, 0, len(stages))
	for k := range stages {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool {
		x, y := keys[a], keys[b]
		if x.job != y.job {
			return x.job < y.job
		}
		if x.id != y.id {
			return x.id < y.id
		}
		return x.stage < y.stage
	})
	for _, k := range keys {
		s := stages[k]
		l := labels("job", k.job, "job_id", k.id, "stage", k.stage)
		if s.haveWM && s.wm != math.MinInt64 {
			m.add("weir_stage_watermark_seconds", "gauge", "A stage's output watermark, seconds since the epoch.", l, wmSeconds(s.wm))
			m.add("weir_stage_watermark_lag_seconds", "gauge", "Processing time minus the stage's watermark.", l, *lagSeconds(now, s.wm))
		}
		m.add("weir_stage_events_total", "counter", "Records the stage's units processed in this process.", l, s.events)
		m.add("weir_stage_events_per_second", "gauge", "Records per second over the autoscaler's last interval, summed over the stage's units.", l, s.rate)
		m.add("weir_stage_backlog_rows", "gauge", "Rows waiting in the stage's key ranges or unread in its log source.", l, s.backlog)
		if s.haveOps {
			m.add("weir_stage_state_bytes", "gauge", "Estimated on-disk state of the stage's operators.", l, s.bytes)
		}
		m.add("weir_stage_ranges", "gauge", "Units (key ranges or source partition ranges) of the stage.", l, s.ranges)
		m.add("weir_stage_hot_ranges", "gauge", "One-bucket ranges saturating their worker (hot keys).", l, s.hot)
	}
	for _, r := range wt.res.Rows {
		m.add("weir_worker_busy_seconds_total", "counter", "Time a worker spent running bundles in this process.",
			labels("job", wt.str(r, "job"), "job_id", wt.str(r, "job_id"), "worker", wt.str(r, "worker")), wt.float(r, "busy_ms")/1000)
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	m.write(w)
}

func wmSeconds(wm int64) float64 {
	if wm == math.MaxInt64 {
		return math.Inf(1)
	}
	return float64(wm) / 1e6
}

// metricWriter groups samples by metric name (the text format wants each
// family's samples together, after its HELP and TYPE lines).
type metricWriter struct {
	order    []string
	families map[string]*family
}

type family struct {
	typ, help string
	lines     []string
}

func (m *metricWriter) add(name, typ, help, labels string, v float64) {
	if m.families == nil {
		m.families = map[string]*family{}
	}
	f := m.families[name]
	if f == nil {
		f = &family{typ: typ, help: help}
		m.families[name] = f
		m.order = append(m.order, name)
	}
	f.lines = append(f.lines, name+labels+" "+formatValue(v))
}

func (m *metricWriter) write(w io.Writer) {
	for _, name := range m.order {
		f := m.families[name]
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, f.help, name, f.typ)
		for _, l := range f.lines {
			io.WriteString(w, l+"\n")
		}
	}
}

// labels formats {k="v",...} with the text format's escaping of values
// (backslash, double quote, newline).
func labels(kv ...string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(kv[i])
		b.WriteString(`="`)
		b.WriteString(labelEscaper.Replace(kv[i+1]))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func formatValue(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
