package planner

import (
	"fmt"
	"sort"
	"strings"

	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/plan"
)

// This file is the compatibility check of ALTER JOB ... UPDATE: before the
// old job stops, decide whether every stateful operator's state can be
// carried into the new plan. Operators are matched by stable name (plus the
// user's WITH MAPPING for renames); a match must keep the operator's kind
// and its state encoding (group key types, aggregates). Side inputs must
// stay the same, and the source must not be replaced. Window sizes may
// change: they apply to new data only.

// CheckUpdate compares an old job's plan with its replacement. mapping maps
// old operator names to new ones (WITH MAPPING). It returns, for each of the
// old job's stateful operators and its source, the new operator that takes
// its state over; or, if the update must be refused, error 55000 whose
// detail lists every problem, one line per operator.
func CheckUpdate(old, new *plan.JobPlan, mapping map[string]string) (map[string]string, error) {
	matches, problems := CompareForUpdate(old, new, mapping)
	if len(problems) == 0 {
		return matches, nil
	}
	lines := make([]string, len(problems))
	for i, p := range problems {
		lines[i] = p.Operator + ": " + p.Reason
	}
	return nil, pgerr.New(pgerr.ObjectNotInPrerequisiteState,
		"cannot update job %q: %d operator(s) cannot carry their state over", old.Job, len(problems)).
		WithDetail("%s", strings.Join(lines, "\n")).
		WithHint("Nothing was changed; the job keeps running. Rename operators back, or map them: ALTER JOB %s UPDATE AS ... WITH MAPPING ('old_name' = 'new_name').", old.Job)
}

// CompareForUpdate is CheckUpdate returning the problems as data (for
// EXPLAIN JOB ... UPDATE): matches holds the operators that do carry over.
func CompareForUpdate(old, new *plan.JobPlan, mapping map[string]string) (map[string]string, []plan.UpdateProblem) {
	oldOps, newOps := statefulOps(old), statefulOps(new)
	allNew := allOpNames(new)
	matches := map[string]string{}
	var problems []plan.UpdateProblem
	add := func(op, format string, args ...any) {
		problems = append(problems, plan.UpdateProblem{Operator: op, Reason: fmt.Sprintf(format, args...)})
	}
	oldNames := allOpNames(old)
	var mapKeys []string
	for k := range mapping {
		mapKeys = append(mapKeys, k)
	}
	sort.Strings(mapKeys)
	for _, k := range mapKeys {
		if !oldNames[k] {
			add(k, "WITH MAPPING names an operator the old job does not have")
		}
		if !allNew[mapping[k]] {
			add(k, "WITH MAPPING maps it to %q, which the new job does not have", mapping[k])
		}
	}

	// Sources: every source read of the old job (a job may read several:
	// joins, UNION ALL) is read again in the new one, of the same source,
	// under the same operator name (or its mapping); its positions carry
	// over. A source read only by the new job starts from its beginning.
	oldSrc, newSrc := sourcesOf(old), sourcesOf(new)
	newByOp := map[string]*plan.SourceSpec{}
	for _, s := range newSrc {
		newByOp[s.OpName] = s
	}
	for _, os := range oldSrc {
		target := os.OpName
		if m, ok := mapping[os.OpName]; ok {
			target = m
		}
		ns := newByOp[target]
		if ns == nil {
			for _, s := range newSrc {
				if s.ID == os.ID && ns == nil {
					ns = s
				}
			}
			switch {
			case ns != nil:
				add(os.OpName, "the source is read as %s in the new job", ns.OpName)
			case len(oldSrc) == 1 && len(newSrc) == 1:
				add(os.OpName, "the source %s is replaced by %s", os.Name, newSrc[0].Name)
			default:
				add(os.OpName, "the new job does not read the source %s (a source cannot be removed or replaced)", os.Name)
			}
			continue
		}
		if os.Name != ns.Name || os.ID != ns.ID {
			add(os.OpName, "the source %s is replaced by %s", os.Name, ns.Name)
			continue
		}
		matches[os.OpName] = ns.OpName
	}

	// Side inputs.
	if a, b := strings.Join(sortedCopy(old.SideInputs), ","), strings.Join(sortedCopy(new.SideInputs), ","); a != b {
		add("side inputs", "the side inputs change from (%s) to (%s)", a, b)
	}

	for _, name := range sortedKeys(oldOps) {
		o := oldOps[name]
		target := name
		if m, ok := mapping[name]; ok {
			target = m
		}
		n, ok := newOps[target]
		if !ok {
			if allNew[target] {
				add(name, "%s is stateless in the new job", target)
			} else {
				add(name, "no operator of the new job is named %s (renamed or removed; map it WITH MAPPING ('%s' = '<new name>'))", target, name)
			}
			continue
		}
		if o.kind != n.kind {
			add(name, "it is a %s in the old job and a %s in the new one", o.kind, n.kind)
			continue
		}
		if o.keys != n.keys {
			add(name, "its state encoding changes: group key (%s) becomes (%s)", o.keys, n.keys)
			continue
		}
		if o.aggs != n.aggs {
			add(name, "its state encoding changes: aggregates %s become %s", o.aggs, n.aggs)
			continue
		}
		matches[name] = target
	}
	return matches, problems
}

// opState is what must stay the same for an operator's state to carry over.
type opState struct {
	kind string // "WindowAgg", "Agg"
	keys string // group key types
	aggs string // aggregate functions with argument and result types
}

// statefulOps describes each stateful op of p by name.
func statefulOps(p *plan.JobPlan) map[string]opState {
	out := map[string]opState{}
	for _, st := range p.Stages {
		walkStageOps(p, st, func(op plan.Op, in plan.Schema, _ bool) {
			if _, tee := op.(*plan.TeeOp); tee {
				return // its side ops are listed themselves
			}
			if op.Stateful() {
				var s opState
				switch o := op.(type) {
				case *plan.WindowAggOp:
					s = opState{kind: "WindowAgg", keys: keyTypes(o.KeyCols, in), aggs: aggTypes(o.Aggs)}
					if o.Sliced {
						// Sliced state is laid out by slice: the
						// windowing must stay the same.
						s.kind = "sliced WindowAgg"
						s.keys += " by " + windowShape(o.Window)
					}
				case *plan.AggOp:
					s = opState{kind: "Agg", keys: keyTypes(o.KeyCols, in), aggs: aggTypes(o.Aggs)}
				case *plan.TopNOp:
					s = opState{kind: "TopN", keys: keyTypes(o.Keys, in), aggs: "rows (" + keyTypes(seqInts(len(in)), in) + ")"}
				case *plan.RetractAggOp:
					s = opState{kind: "RetractAgg", keys: keyTypes(o.KeyCols, in), aggs: aggTypes(o.Aggs)}
				case *plan.JoinOp:
					// A side's state is its input rows, keyed by its keys.
					l, r := o.Schema[:o.Widths[0]], o.Schema[o.Widths[0]:o.Widths[0]+o.Widths[1]]
					s = opState{kind: "Join", keys: keyTypes(o.Keys[0], l) + " / " + keyTypes(o.Keys[1], r),
						aggs: "rows (" + keyTypes(seqInts(len(l)), l) + ") / (" + keyTypes(seqInts(len(r)), r) + ")"}
				default:
					s = opState{kind: fmt.Sprintf("%T", op)}
				}
				out[op.OpName()] = s
			}
		})
	}
	return out
}

func keyTypes(cols []int, in plan.Schema) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = in[c].Type.String()
	}
	return strings.Join(parts, ", ")
}

func aggTypes(aggs []*expr.AggFunc) string {
	parts := make([]string, len(aggs))
	for i, a := range aggs {
		s := a.Fn
		if a.Distinct {
			s += " DISTINCT"
		}
		if a.Arg != nil {
			s += "(" + a.Arg.Type().String() + ")"
		} else {
			s += "(*)"
		}
		parts[i] = s + " " + a.Typ.String()
	}
	return strings.Join(parts, ", ")
}

func allOpNames(p *plan.JobPlan) map[string]bool {
	m := map[string]bool{}
	for _, st := range p.Stages {
		if st.Source != nil {
			m[st.Source.OpName] = true
		}
		for _, op := range plan.StageOps(st) {
			m[op.OpName()] = true
		}
	}
	return m
}

func sourcesOf(p *plan.JobPlan) []*plan.SourceSpec {
	var out []*plan.SourceSpec
	for _, st := range p.Stages {
		if st.Source != nil {
			out = append(out, st.Source)
		}
	}
	return out
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
