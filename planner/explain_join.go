package planner

import (
	"fmt"
	"strings"

	"github.com/weir-sql/weir/plan"
)

// joinOpDesc describes the operators of physical_join.go for ExplainJob.
func joinOpDesc(op plan.Op, in plan.Schema) string {
	switch o := op.(type) {
	case *plan.JoinOp:
		l := o.Schema[:o.Widths[0]]
		r := o.Schema[o.Widths[0] : o.Widths[0]+o.Widths[1]]
		d := "Join " + o.Kind.String() + "  [stateful]"
		if len(o.Keys[0]) == 0 {
			d += "  keys: (none)"
		} else {
			parts := make([]string, len(o.Keys[0]))
			for i := range o.Keys[0] {
				parts[i] = l[o.Keys[0][i]].Name + " = " + r[o.Keys[1][i]].Name
			}
			d += "  keys: " + strings.Join(parts, ", ")
		}
		if o.Residual != nil {
			d += "  on: " + o.Residual.String()
		}
		sides := [2]plan.Schema{l, r}
		for s, name := range []string{"left", "right"} {
			d += "  " + name + " kept " + boundsDesc(o.Expire[s], sides[s])
		}
		if o.Updating {
			d += "  updating"
		}
		return d
	case *plan.LookupJoinOp:
		d := "LookupJoin"
		if o.Outer {
			d += " left"
		} else {
			d += " inner"
		}
		d += " table " + o.Table
		if o.PointLookup() {
			d += " by primary key"
		} else {
			d += " indexed per bundle"
		}
		if len(o.StreamKeys) > 0 {
			parts := make([]string, len(o.StreamKeys))
			for i := range o.StreamKeys {
				parts[i] = in[o.StreamKeys[i]].Name + " = " + o.Table + "." + o.TableSchema[o.TableKeys[i]].Name
			}
			d += "  keys: " + strings.Join(parts, ", ")
		}
		if o.TableFilter != nil {
			d += "  table filter: " + o.TableFilter.String()
		}
		if o.Residual != nil {
			d += "  on: " + o.Residual.String()
		}
		return d
	case *plan.TeeOp:
		return "Tee  (each row to the side chain ↳, then on)"
	case *plan.UnionOp:
		return "Union all"
	case *plan.LateGateOp:
		d := "LateGate " + in[o.TimeCol].Name
		if o.Delta != 0 {
			d += fmt.Sprintf(" (%+d us)", o.Delta)
		}
		return d
	case *plan.RetractAggOp:
		return "RetractAgg" + aggDetail(true, o.KeyCols, in, o.Aggs)
	case *plan.TopNOp:
		d := "TopN"
		if o.N > 0 {
			d += fmt.Sprintf(" %d", o.N)
		}
		parts := make([]string, len(o.Order))
		for i, k := range o.Order {
			parts[i] = in[k.Col].Name
			if k.Desc {
				parts[i] += " DESC"
			}
		}
		keys := make([]string, len(o.Keys))
		for i, c := range o.Keys {
			keys[i] = in[c].Name
		}
		return d + " by " + strings.Join(parts, ", ") + "  [stateful]  per: " + strings.Join(keys, ", ")
	}
	return fmt.Sprintf("%T", op)
}

// boundsDesc says how long a join side keeps its rows.
func boundsDesc(bs []plan.JoinBound, in plan.Schema) string {
	if len(bs) == 0 {
		return "forever"
	}
	parts := make([]string, len(bs))
	for i, b := range bs {
		parts[i] = b.Expr.String()
		if b.Adjust != 0 {
			if b.Adjust > 0 {
				parts[i] += " + " + formatMicros(b.Adjust)
			} else {
				parts[i] += " - " + formatMicros(-b.Adjust)
			}
		}
	}
	if len(parts) == 1 {
		return "until watermark > " + parts[0]
	}
	return "until watermark > least(" + strings.Join(parts, ", ") + ")"
}

// windowShape prints a window without its time column: HOP(2s, 10s).
func windowShape(w plan.WindowSpec) string {
	var s string
	if w.Kind == plan.Hop {
		s = fmt.Sprintf("HOP(%s, %s", formatMicros(w.Slide), formatMicros(w.Size))
	} else {
		s = fmt.Sprintf("TUMBLE(%s", formatMicros(w.Size))
	}
	if w.Offset != 0 {
		s += ", " + formatMicros(w.Offset)
	}
	return s + ")"
}

// walkStageOps calls fn for every op of stage st in plan order with the
// schema of the rows it reads, the side chains of TeeOps after their tee
// (side set).
func walkStageOps(p *plan.JobPlan, st *plan.Stage, fn func(op plan.Op, in plan.Schema, side bool)) {
	in := stageInputSchema(p, st)
	for _, op := range st.Ops {
		fn(op, in, false)
		if t, ok := op.(*plan.TeeOp); ok {
			sin := in
			for _, s := range t.Side {
				fn(s, sin, true)
				sin = s.OutSchema()
			}
		}
		in = op.OutSchema()
	}
}
