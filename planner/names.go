package planner

import (
	"fmt"
	"sort"
	"strings"

	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/sql"
)

// Operator names key a job's state and match operators across updates, so
// they must be deterministic, readable, unique within the job, and stable
// under edits that do not change the operator itself. The scheme:
//
//	source_<source>            the source read (SourceSpec.OpName)
//	window_agg_<k1>_<k2>       a windowed aggregation; keys are the group
//	                           key names (window columns excluded), sorted,
//	                           or "global"
//	agg_<k1>_<k2>              a continuous aggregation (and DISTINCT)
//	<name>.partial             the combiner half of a lifted aggregation
//	sink_<target>              the write into the target
//	join_<k1>_<k2>             a join of two streams; keys are the equi-join
//	                           key names of the left input, sorted, then the
//	                           right's not among them, or "cross"
//	lookup_<table>             a lookup join with a table (a side input)
//	topn_<k1>_<k2>             ROW_NUMBER() per window; keys are the
//	                           partition's column names, sorted
//	s<N>.filter, s<N>.project, s<N>.window, s<N>.gate, s<N>.union
//	                           stateless operators of stage N, numbered
//	                           per kind (s1.project_2): they keep no state,
//	                           so their names need no stability
//
// A stateful name depends only on the group keys: adding or removing a
// filter or projection, reordering the select list, or changing the window
// size or the aggregates keeps it; grouping by other keys changes it. (An
// aggregate change that alters the state encoding is caught by the update
// compatibility check, not by the name.) Collisions get _2, _3 in plan
// order. The job option 'name.<default>' = '<name>' renames an operator;
// its partial half follows as '<name>.partial'.

// assignNames names every operator of p and applies the name.* options.
// posOf says where the option name.<key> was written, for errors.
func assignNames(p *plan.JobPlan, opts plan.JobOptions, posOf func(key string) sql.Pos) error {
	used := map[string]bool{}
	unique := func(base string) string {
		name := base
		for i := 2; used[name]; i++ {
			name = fmt.Sprintf("%s_%d", base, i)
		}
		used[name] = true
		return name
	}
	type named struct {
		set  func(string)
		name string
	}
	var all []*named // every nameable operator, in plan order
	var partials []plan.Op
	mergeOf := map[plan.Op]plan.Op{} // partial -> its merge
	for _, st := range p.Stages {
		if st.Source != nil {
			s := st.Source
			s.OpName = unique("source_" + sanitizeName(s.Name))
			all = append(all, &named{set: func(n string) { s.OpName = n }, name: s.OpName})
		}
		counters := map[string]int{}
		for _, op := range plan.StageOps(st) {
			base := opBase(op)
			var kind string
			switch o := op.(type) {
			case *plan.FilterOp:
				kind = "filter"
			case *plan.ProjectOp:
				kind = "project"
			case *plan.WindowAssignOp:
				kind = "window"
			case *plan.LateGateOp:
				kind = "gate"
			case *plan.UnionOp:
				kind = "union"
			case *plan.TeeOp:
				kind = "tee"
			case *plan.WindowAggOp:
				if o.Partial {
					partials = append(partials, op)
					continue
				}
			case *plan.AggOp:
				if o.Partial {
					partials = append(partials, op)
					continue
				}
			}
			if kind != "" {
				counters[kind]++
				base = st.Name + "." + kind
				if n := counters[kind]; n > 1 {
					base = fmt.Sprintf("%s_%d", base, n)
				}
			}
			b := opBaseOf(op)
			b.Name = unique(base)
			all = append(all, &named{set: func(n string) { b.Name = n }, name: b.Name})
		}
	}
	// Pair each partial with the merge of the stage it feeds.
	for _, part := range partials {
		for _, st := range p.Stages {
			if len(st.Ops) == 0 || len(st.Inputs) == 0 {
				continue
			}
			up := p.Stages[st.Inputs[0].Stage]
			if up.Ops[len(up.Ops)-1] == part {
				mergeOf[part] = st.Ops[0]
			}
		}
	}

	// name.<default> = '<custom>'.
	overrides, keys := nameOverrides(opts)
	byName := map[string]*named{}
	for _, n := range all {
		byName[n.name] = n
	}
	final := map[string]bool{}
	for _, n := range all {
		final[n.name] = true
	}
	for _, k := range keys {
		n, ok := byName[k]
		if !ok {
			var names []string
			for _, x := range all {
				names = append(names, x.name)
			}
			sort.Strings(names)
			return errAt(posOf(k), pgerr.UndefinedObject, "job option \"name.%s\": the job has no operator named %q", k, k).
				WithHint("Operators: %s.", strings.Join(names, ", "))
		}
		to := overrides[k]
		if to == k {
			continue
		}
		if final[to] || strings.HasSuffix(to, ".partial") {
			return errAt(posOf(k), pgerr.DuplicateObject, "job option \"name.%s\": operator name %q is already used in this job", k, to)
		}
		delete(final, k)
		final[to] = true
		n.set(to)
		n.name = to
	}
	for _, part := range partials {
		m, ok := mergeOf[part]
		if !ok {
			return pgerr.New(pgerr.InternalError, "planner: partial aggregation without its merge")
		}
		opBaseOf(part).Name = m.OpName() + ".partial"
	}
	return nil
}

// opBase is an operator's default name before stage numbering and
// de-duplication.
func opBase(op plan.Op) string {
	switch o := op.(type) {
	case *plan.WindowAggOp:
		return "window_agg_" + keyNames(o.KeyCols, o.Schema)
	case *plan.AggOp:
		return "agg_" + keyNames(o.KeyCols, o.Schema)
	case *plan.SinkOp:
		return "sink_" + sanitizeName(o.Target)
	case *plan.JoinOp:
		return "join_" + joinKeyNames(o)
	case *plan.LookupJoinOp:
		return "lookup_" + sanitizeName(o.Table)
	case *plan.RetractAggOp:
		return "agg_" + keyNames(o.KeyCols, o.Schema)
	case *plan.TopNOp:
		return "topn_" + keyNamesOf(o.Keys, o.Schema)
	}
	return "op"
}

// joinKeyNames names a join by its key columns: the left input's, sorted,
// then the right input's that the left does not have.
func joinKeyNames(o *plan.JoinOp) string {
	if len(o.Keys[0]) == 0 {
		return "cross"
	}
	var left, right []string
	seen := map[string]bool{}
	for _, c := range o.Keys[0] {
		n := sanitizeName(o.Schema[c].Name)
		if !seen[n] {
			seen[n] = true
			left = append(left, n)
		}
	}
	for _, c := range o.Keys[1] {
		n := sanitizeName(o.Schema[o.Widths[0]+c].Name)
		if !seen[n] {
			seen[n] = true
			right = append(right, n)
		}
	}
	sort.Strings(left)
	sort.Strings(right)
	return strings.Join(append(left, right...), "_")
}

// keyNames joins the sorted names of an aggregation's group keys. For a
// merge (or an unlifted op) the keys are its output's first columns, named
// after the group columns.
func keyNames(keyCols []int, out plan.Schema) string {
	if len(keyCols) == 0 {
		return "global"
	}
	names := make([]string, len(keyCols))
	for i := range keyCols {
		names[i] = sanitizeName(out[i].Name)
	}
	sort.Strings(names)
	return strings.Join(names, "_")
}

// keyNamesOf joins the sorted names of the columns cols of s.
func keyNamesOf(cols []int, s plan.Schema) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = sanitizeName(s[c].Name)
	}
	sort.Strings(names)
	return strings.Join(names, "_")
}

// opBaseOf returns the OpBase of one of this package's ops.
func opBaseOf(op plan.Op) *plan.OpBase {
	switch o := op.(type) {
	case *plan.FilterOp:
		return &o.OpBase
	case *plan.ProjectOp:
		return &o.OpBase
	case *plan.WindowAssignOp:
		return &o.OpBase
	case *plan.WindowAggOp:
		return &o.OpBase
	case *plan.AggOp:
		return &o.OpBase
	case *plan.SinkOp:
		return &o.OpBase
	case *plan.JoinOp:
		return &o.OpBase
	case *plan.LookupJoinOp:
		return &o.OpBase
	case *plan.UnionOp:
		return &o.OpBase
	case *plan.LateGateOp:
		return &o.OpBase
	case *plan.RetractAggOp:
		return &o.OpBase
	case *plan.TopNOp:
		return &o.OpBase
	case *plan.TeeOp:
		return &o.OpBase
	}
	panic(fmt.Sprintf("planner: unknown op %T", op))
}

// sanitizeName makes a readable identifier: lower-case letters, digits and
// single underscores.
func sanitizeName(s string) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
			under = false
		default:
			if !under && b.Len() > 0 {
				b.WriteByte('_')
				under = true
			}
		}
	}
	out := strings.TrimSuffix(b.String(), "_")
	if out == "" {
		return "expr"
	}
	return out
}

// keyName is the name a group key gets in operator names: the column's
// name, or the expression's text.
func keyName(e expr.Expr, name string) string {
	if name != "" && name != "?column?" {
		return name
	}
	return sanitizeName(e.String())
}
