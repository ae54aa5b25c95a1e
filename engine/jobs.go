package engine

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/weir-sql/weir/catalog"
	"github.com/weir-sql/weir/connector"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/executor"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/planner"
	"github.com/weir-sql/weir/sql"
)

// planJob plans `CREATE JOB name WITH (opts) AS ins`.
func (e *Engine) planJob(name string, ins *sql.Insert, opts []sql.Option) (*planner.JobPlan, error) {
	return planner.PlanJob(resolver{e}, name, ins, opts)
}

// jobBounded reports whether every source of a plan is bounded.
func jobBounded(p *planner.JobPlan) bool {
	for _, st := range p.Stages {
		if st.Source != nil && !st.Source.Bounded {
			return false
		}
	}
	return true
}

// sessionJob is a job this session launched.
type sessionJob struct {
	name    string
	id      uint64
	bounded bool
}

func (s *Session) createJob(ctx context.Context, n *sql.CreateJob) (*Result, error) {
	e := s.e
	ins, with := n.Insert, n.With
	var fromTemplate string
	switch {
	case n.FromSnapshot != "":
		return s.createJobFromSnapshot(ctx, n) // lifecycle.go
	case n.FromTemplate != "":
		t, err := e.cat.GetTemplate(n.FromTemplate)
		if err != nil {
			return nil, err
		}
		stmt, err := instantiateTemplate(t, n.With)
		if err != nil {
			return nil, err
		}
		ins, with, fromTemplate = stmt, nil, t.Name
	}
	if ins == nil {
		return nil, pgerr.New(pgerr.SyntaxError, "CREATE JOB %s needs AS INSERT INTO ... SELECT ...", n.Name)
	}
	if lj, ok := e.cat.LiveJob(n.Name); ok {
		return nil, pgerr.New(pgerr.DuplicateObject, "job %q is already running (job id %d)", n.Name, lj.ID).
			WithHint("DRAIN JOB or CANCEL JOB %s first, or ALTER JOB %s UPDATE", n.Name, n.Name)
	}
	plan, err := e.planJob(n.Name, ins, with)
	if err != nil {
		return nil, err
	}
	id, err := e.cat.NextID()
	if err != nil {
		return nil, err
	}
	unlock := e.lockJob(n.Name)
	defer unlock()
	// A drained or cancelled predecessor is continued (lifecycle.go).
	ns, prevID, err := e.continueLineage(n.Name, plan, id)
	if err != nil {
		return nil, err
	}
	j := &catalog.Job{Name: n.Name, ID: id, StateNS: ns, State: catalog.JobRunning, SQL: ins.Text, Options: options(with),
		StartedAt: e.Now(), Template: fromTemplate, PrevID: prevID}
	if err := e.cat.CreateJob(j); err != nil {
		return nil, err
	}
	if err := e.startJob(j, plan); err != nil {
		j.State, j.Error, j.EndedAt = catalog.JobFailed, err.Error(), e.Now()
		_ = e.cat.PutJob(j)
		return nil, err
	}
	s.jobs = append(s.jobs, sessionJob{name: n.Name, id: id, bounded: jobBounded(plan)})
	return &Result{Tag: "CREATE JOB"}, nil
}

// instantiateTemplate expands a template's ${param}s with checked values.
func instantiateTemplate(t *catalog.Template, with []sql.Option) (*sql.Insert, error) {
	given := options(with)
	values := map[string]string{}
	for _, p := range t.Params {
		v, ok := given[strings.ToLower(p.Name)]
		if !ok {
			return nil, pgerr.New(pgerr.UndefinedParameter, "template %s needs parameter %q (%s)", t.Name, p.Name, p.Type)
		}
		d, err := datum.Parse(p.Type, v)
		if err != nil {
			return nil, pgerr.New(pgerr.DatatypeMismatch, "template %s: parameter %q: %s", t.Name, p.Name, pgerr.Wrap(err).Message)
		}
		if p.Type.Kind() == datum.KindBool {
			values[p.Name] = strings.ToUpper(fmt.Sprint(d.Bool()))
		} else if p.Type.Kind() == datum.KindString || p.Type.Kind() == datum.KindTimestamp || p.Type.Kind() == datum.KindDate || p.Type.Kind() == datum.KindInterval {
			values[p.Name] = "'" + strings.ReplaceAll(d.Format(), "'", "''") + "'"
		} else {
			values[p.Name] = d.Format()
		}
		delete(given, strings.ToLower(p.Name))
	}
	for k := range given {
		return nil, pgerr.New(pgerr.UndefinedParameter, "template %s has no parameter %q", t.Name, k)
	}
	text, err := sql.ExpandParams(t.Body, values)
	if err != nil {
		return nil, err
	}
	st, err := sql.ParseOne(text)
	if err != nil {
		return nil, err
	}
	ins, ok := st.(*sql.Insert)
	if !ok {
		return nil, pgerr.New(pgerr.WrongObjectType, "template %s is not an INSERT INTO ... SELECT", t.Name)
	}
	return ins, nil
}

func (e *Engine) controlJob(ctx context.Context, n *sql.JobControl) (*Result, error) {
	unlock := e.lockJob(n.Name) // not in the middle of an update (lifecycle.go)
	j, ok := e.cat.LiveJob(n.Name)
	rj := e.runningJob(n.Name)
	unlock()
	if !ok || rj == nil {
		if _, any := e.cat.LatestJob(n.Name); any {
			return nil, pgerr.New(pgerr.ObjectNotInPrerequisiteState, "job %s is not running", n.Name)
		}
		return nil, pgerr.New(pgerr.UndefinedObject, "job %q does not exist", n.Name)
	}
	switch n.Action {
	case "DRAIN":
		j.State = catalog.JobDraining
		if err := e.cat.PutJob(j); err != nil {
			return nil, err
		}
		rj.Drain()
		if err := e.WaitJob(ctx, n.Name); err != nil {
			return nil, err
		}
		return &Result{Tag: "DRAIN JOB"}, nil
	case "CANCEL":
		rj.Cancel()
		if err := e.WaitJob(ctx, n.Name); err != nil {
			return nil, err
		}
		return &Result{Tag: "CANCEL JOB"}, nil
	}
	return nil, pgerr.New(pgerr.SyntaxError, "unknown job action %s", n.Action)
}

func (s *Session) explain(ctx context.Context, n *sql.Explain) (*Result, error) {
	e := s.e
	var text string
	switch {
	case n.Update != nil:
		var err error
		if text, err = e.explainUpdate(n.Update); err != nil { // lifecycle.go
			return nil, err
		}
	case n.Job != "":
		var plan *planner.JobPlan
		rj := e.runningJob(n.Job)
		if rj != nil {
			plan = rj.Plan()
		} else {
			j, ok := e.cat.LatestJob(n.Job)
			if !ok {
				return nil, pgerr.New(pgerr.UndefinedObject, "job %q does not exist", n.Job)
			}
			var err error
			if plan, err = e.planJobSQL(j.Name, j.SQL, j.Options); err != nil {
				return nil, err
			}
		}
		text = planner.ExplainJob(plan)
		if rj != nil {
			text += e.explainRuntime(rj)
		}
	default:
		switch st := n.Stmt.(type) {
		case *sql.CreateJob:
			if st.Insert == nil {
				return nil, pgerr.New(pgerr.FeatureNotSupported, "EXPLAIN CREATE JOB needs AS INSERT ...")
			}
			plan, err := e.planJob(st.Name, st.Insert, st.With)
			if err != nil {
				return nil, err
			}
			text = planner.ExplainJob(plan)
		default:
			node, err := planner.BindStatement(resolver{e}, n.Stmt)
			if err != nil {
				return nil, err
			}
			text = planner.ExplainLogical(node)
		}
	}
	r := &Result{Columns: []Column{{"QUERY PLAN", datum.TypeText}}, Tag: "EXPLAIN"}
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		r.Rows = append(r.Rows, datum.Row{datum.NewString(line)})
	}
	return r, nil
}

// explainRuntime adds a running job's workers, units and watermarks: per
// stage, every unit (a key range: its hash bounds and buckets; a source
// range: its partition) with its owning worker, events processed in this
// process, rate over the autoscaler's last interval (the same figure as
// weir_key_ranges.events_per_second), backlog (rows waiting in its buckets
// or unread in its log source), a HOT marker
// for a one-bucket range saturating its worker, and its watermark.
func (e *Engine) explainRuntime(rj *executor.Job) string {
	st := rj.Status()
	elapsed := float64(e.Now()-rj.StartedAt()) / 1e6
	var b strings.Builder
	fmt.Fprintf(&b, "runtime: job id %d, %s, events in %d, out %d, late dropped %d\n", rj.Meta().ID, st.State, st.EventsIn, st.EventsOut, st.LateDropped)
	fmt.Fprintf(&b, "  workers %d, reconfigurations %d", st.Workers, st.Reconfigurations)
	for i, busy := range st.WorkerBusy {
		fmt.Fprintf(&b, "; worker %d busy %s", i, busy.Round(time.Millisecond))
	}
	b.WriteString("\n")
	for _, ss := range st.Stages {
		fmt.Fprintf(&b, "  stage %s  watermark %s\n", ss.Name, FormatWatermark(ss.Watermark))
		for _, r := range ss.Ranges {
			fmt.Fprintf(&b, "    range [%016x, %016x]", r.Lo, r.Hi)
			if r.Partition >= 0 {
				fmt.Fprintf(&b, "  partition %d", r.Partition)
			} else {
				fmt.Fprintf(&b, "  buckets %s", bucketsText(r.Buckets))
			}
			fmt.Fprintf(&b, "  worker %d  events %d  rate %.0f/s  backlog %d  busy %s", r.Worker, r.Events, e.unitRate(r, elapsed), r.Backlog, r.Busy.Round(time.Millisecond))
			if r.StateBytes > 0 {
				fmt.Fprintf(&b, "  state %d B", r.StateBytes)
			}
			if r.Hot {
				b.WriteString("  HOT")
			}
			if r.Done {
				b.WriteString("  done")
			}
			fmt.Fprintf(&b, "  watermark %s\n", FormatWatermark(r.Watermark))
		}
	}
	return b.String()
}

// AdvanceWatermark appends a watermark punctuation to a log source: jobs
// reading it treat every event time below ts as complete (the sqllogictest
// runner's advance-watermark directive).
func (e *Engine) AdvanceWatermark(source string, ts int64) error {
	src, err := e.cat.GetSource(source)
	if err != nil {
		return err
	}
	if src.Connector() != "log" {
		return pgerr.New(pgerr.WrongObjectType, "only log sources take watermarks, %s is a %s source", source, src.Connector())
	}
	lay, err := connector.LogLayoutOf(src.Options, connectorColumns(src.Columns))
	if err != nil {
		return err
	}
	return e.logs.AppendWatermarkN(src.ID, lay.Partitions, ts)
}

// WaitSourceWatermark waits until every running job that reads source has
// processed everything below ts (its every stage's watermark reached ts).
func (e *Engine) WaitSourceWatermark(ctx context.Context, source string, ts int64) error {
	for _, rj := range e.liveJobs() {
		for _, s := range rj.Sources() {
			if s == source {
				if err := rj.WaitWatermark(ctx, ts); err != nil {
					return pgerr.New(pgerr.QueryCanceled, "waiting for job %s to reach watermark %s: %v", rj.Meta().Name, FormatWatermark(ts), err)
				}
			}
		}
	}
	return nil
}
