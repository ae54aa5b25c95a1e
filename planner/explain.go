package planner

import (
	"fmt"
	"sort"
	"strings"

	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/plan"
)

// ExplainJob prints a job's stage graph as an indented tree, stages in
// data-flow order, each with its fused operators (stable name, kind, keys,
// window, aggregates, [stateful]) and the shuffle that leaves it:
//
//	job per_minute_job
//	├── stage s0  source readings  parallelism auto
//	│   ├── source_readings  Source log  time ts  watermark ts - 5s  unbounded
//	│   ├── window_agg_device.partial  WindowAgg TUMBLE(ts, 1m) partial  keys: device  aggs: count(*), avg(temp)
//	│   └── ▼ shuffle by hash(device) to s1
//	└── stage s1  keyed by (device)  parallelism auto
//	    ├── window_agg_device  WindowAgg TUMBLE(ts, 1m) merge  [stateful]  keys: device  aggs: count(*), avg(temp)
//	    ├── s1.project  Project window_start, device, count AS n, avg AS avg_temp
//	    └── sink_per_minute  Sink table per_minute upsert (window_start, device)
//
// The output is deterministic: EXPLAIN JOB and tests compare it as text.
func ExplainJob(p *plan.JobPlan) string {
	var b strings.Builder
	b.WriteString("job " + p.Job)
	var opts []string
	for k, v := range p.Options.Raw {
		opts = append(opts, k+"="+v)
	}
	sort.Strings(opts)
	if len(opts) > 0 {
		b.WriteString("  (" + strings.Join(opts, ", ") + ")")
	}
	b.WriteString("\n")
	for i, st := range p.Stages {
		last := i == len(p.Stages)-1
		b.WriteString(branch(last) + stageHeader(p, st) + "\n")
		indent := childIndent(last)
		var lines []string
		if s := st.Source; s != nil {
			lines = append(lines, s.OpName+"  "+sourceDesc(s))
		}
		walkStageOps(p, st, func(op plan.Op, in plan.Schema, side bool) {
			prefix := ""
			if side {
				prefix = "↳ " // a tee's side chain
			}
			lines = append(lines, prefix+op.OpName()+"  "+opDesc(op, in))
		})
		if o := st.Output; o != nil {
			lines = append(lines, fmt.Sprintf("▼ shuffle by %s to %s", keyDesc(o.KeyCols, o.Schema), p.Stages[o.Stage].Name))
		}
		for j, l := range lines {
			b.WriteString(indent + branch(j == len(lines)-1) + l + "\n")
		}
	}
	for _, w := range p.Warnings {
		b.WriteString("WARNING: " + w + "\n")
	}
	return b.String()
}

func branch(last bool) string {
	if last {
		return "└── "
	}
	return "├── "
}

func childIndent(last bool) string {
	if last {
		return "    "
	}
	return "│   "
}

func stageHeader(p *plan.JobPlan, st *plan.Stage) string {
	h := "stage " + st.Name
	if st.Source != nil {
		h += "  source " + st.Source.Name
	}
	for _, in := range st.Inputs {
		up := p.Stages[in.Stage]
		if up.Output != nil {
			h += "  keyed by " + keyList(up.Output.KeyCols, up.Output.Schema)
		}
	}
	if st.Parallelism == 0 {
		h += "  parallelism auto"
	} else {
		h += fmt.Sprintf("  parallelism %d", st.Parallelism)
	}
	return h
}

func keyList(cols []int, s plan.Schema) string {
	if len(cols) == 0 {
		return "() (one global key)"
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = s[c].Name
	}
	return "(" + strings.Join(names, ", ") + ")"
}

func keyDesc(cols []int, s plan.Schema) string {
	if len(cols) == 0 {
		return "nothing (one global key)"
	}
	return "hash" + keyList(cols, s)
}

func sourceDesc(s *plan.SourceSpec) string {
	d := "Source " + s.Connector
	if s.TimeCol >= 0 {
		d += "  time " + s.Schema[s.TimeCol].Name
		wm := s.Schema[s.TimeCol].Name
		if s.WatermarkDelay > 0 {
			wm += " - " + formatMicros(s.WatermarkDelay)
		}
		d += "  watermark " + wm
	}
	if s.IdleTimeout > 0 {
		d += "  idle_timeout " + formatMicros(s.IdleTimeout)
	}
	if s.Bounded {
		d += "  bounded"
	} else {
		d += "  unbounded"
	}
	return d
}

// opDesc describes one op reading rows of schema in.
func opDesc(op plan.Op, in plan.Schema) string {
	switch o := op.(type) {
	case *plan.FilterOp:
		return "Filter " + o.Pred.String()
	case *plan.ProjectOp:
		parts := make([]string, len(o.Exprs))
		for i, e := range o.Exprs {
			parts[i] = e.String()
			if c, ok := e.(*expr.Col); !ok || c.Name != o.Schema[i].Name {
				parts[i] += " AS " + o.Schema[i].Name
			}
		}
		return "Project " + strings.Join(parts, ", ")
	case *plan.WindowAssignOp:
		return "WindowAssign " + windowString(o.Window, in)
	case *plan.WindowAggOp:
		w := windowString(o.Window, in)
		if o.Prewindowed != 0 {
			w = "by " + in[o.Window.TimeCol].Name + " of " + windowShape(o.Window)
		}
		d := "WindowAgg " + w + aggRole(o.Partial, o.Merge)
		if o.Sliced {
			d += " sliced"
		}
		return d + aggDetail(o.Stateful(), o.KeyCols, in, o.Aggs)
	case *plan.JoinOp, *plan.LookupJoinOp, *plan.UnionOp, *plan.LateGateOp, *plan.RetractAggOp, *plan.TopNOp, *plan.TeeOp:
		return joinOpDesc(op, in)
	case *plan.AggOp:
		d := "Agg" + aggRole(o.Partial, o.Merge)
		return d + aggDetail(o.Stateful(), o.KeyCols, in, o.Aggs)
	case *plan.SinkOp:
		if !o.IsTable {
			return fmt.Sprintf("Sink %s %s", o.Connector, o.Target)
		}
		if len(o.PrimaryKey) == 0 {
			return "Sink table " + o.Target + " append"
		}
		if o.Changelog {
			return "Sink table " + o.Target + " upsert/delete " + keyList(o.PrimaryKey, o.Schema)
		}
		return "Sink table " + o.Target + " upsert " + keyList(o.PrimaryKey, o.Schema)
	}
	return fmt.Sprintf("%T", op)
}

func aggRole(partial, merge bool) string {
	switch {
	case partial:
		return " partial"
	case merge:
		return " merge"
	}
	return ""
}

func aggDetail(stateful bool, keys []int, in plan.Schema, aggs []*expr.AggFunc) string {
	var d string
	if stateful {
		d += "  [stateful]"
	}
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = in[k].Name
	}
	if len(keys) == 0 {
		d += "  keys: (global)"
	} else {
		d += "  keys: " + strings.Join(names, ", ")
	}
	if len(aggs) > 0 {
		d += "  aggs: " + aggList(aggs)
	}
	return d
}

// ExplainLogical prints a logical plan as an indented tree, one node per
// line, children below their parent.
func ExplainLogical(n Node) string {
	var b strings.Builder
	b.WriteString(n.describe() + "\n")
	explainChildren(&b, n, "")
	return b.String()
}

func explainChildren(b *strings.Builder, n Node, prefix string) {
	in := n.Inputs()
	for i, c := range in {
		last := i == len(in)-1
		b.WriteString(prefix + branch(last) + c.describe() + "\n")
		explainChildren(b, c, prefix+childIndent(last))
	}
}
