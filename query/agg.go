package query

import (
	"slices"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/planner"
)

// Pane columns of a windowed aggregation run as a batch query: every window
// is complete, so each is reported once, on time.
const paneOnTime = "ON_TIME"

// countStarArg is what count(*) accumulates per row (any non-NULL value).
var countStarArg = datum.NewBool(true)

// execAggregate groups the input by GroupBy (NULLs form one group) and
// emits one row per group, in order of first appearance: the group values,
// the aggregates and, for a windowed aggregation, pane_timing 'ON_TIME'
// and pane_index 0. Without GROUP BY (and not windowed) an empty input
// still gives one row (count 0, other aggregates NULL).
func (r *runner) execAggregate(n *planner.Aggregate, emit emitFunc) error {
	keyEvals, err := r.compileAll(n.GroupBy)
	if err != nil {
		return err
	}
	argEvals := make([]evaluator, len(n.Aggs))
	orderEvals := make([][]evaluator, len(n.Aggs)) // aggregates with ORDER BY
	ordered := false
	for i, a := range n.Aggs {
		if a == nil {
			return internalf("nil aggregate")
		}
		for _, o := range a.Order {
			ev, err := r.compile(o.Expr)
			if err != nil {
				return err
			}
			orderEvals[i] = append(orderEvals[i], ev)
			ordered = true
		}
		if a.Arg == nil {
			continue
		}
		if argEvals[i], err = r.compile(a.Arg); err != nil {
			return err
		}
	}
	// An aggregate with ORDER BY collects its inputs with their sort keys
	// per group (pending[group][agg]: rows of value, keys...) and is fed
	// them in order when the group's result is made.
	var pending [][][]datum.Row
	var singlePending [][]datum.Row
	factory := expr.NewAccSet(n.Aggs)
	groups := newRowTable()
	var accs []expr.AccSet // by group id
	nk := len(keyEvals)
	key := make(datum.Row, nk)
	var single expr.AccSet // no GROUP BY: the one group
	if nk == 0 {
		single = factory.New()
	}
	err = r.exec(n.Input, func(row datum.Row) error {
		var as expr.AccSet
		var pend [][]datum.Row
		if nk == 0 {
			as = single
			if ordered && singlePending == nil {
				singlePending = make([][]datum.Row, len(n.Aggs))
			}
			pend = singlePending
		} else {
			for i, ev := range keyEvals {
				d, err := ev(row)
				if err != nil {
					return err
				}
				key[i] = d
			}
			h := hashRow(key)
			id := groups.find(key, h)
			if id < 0 {
				id = groups.insertHashed(key.Copy(), h)
				accs = append(accs, factory.New())
				if ordered {
					pending = append(pending, make([][]datum.Row, len(n.Aggs)))
				}
			}
			as = accs[id]
			if ordered {
				pend = pending[id]
			}
		}
		for i, ev := range argEvals {
			v := countStarArg
			if ev != nil {
				d, err := ev(row)
				if err != nil {
					return err
				}
				v = d
			}
			if oe := orderEvals[i]; oe != nil {
				item := make(datum.Row, 1+len(oe))
				item[0] = v
				for j, ev := range oe {
					d, err := ev(row)
					if err != nil {
						return err
					}
					item[1+j] = d
				}
				pend[i] = append(pend[i], item)
				continue
			}
			if err := as.Add(i, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	windowed := n.Window != nil
	width := nk + len(n.Aggs)
	if windowed {
		width += 2
	}
	result := func(key datum.Row, as expr.AccSet, pend [][]datum.Row) error {
		for i, items := range pend {
			if items == nil {
				continue
			}
			keys := make([]plan.SortKey, len(n.Aggs[i].Order))
			for j, o := range n.Aggs[i].Order {
				keys[j] = plan.SortKey{Col: 1 + j, Desc: o.Desc, NullsFirst: o.NullsFirst}
			}
			slices.SortStableFunc(items, func(a, b datum.Row) int { return compareKeys(a, b, keys) })
			for _, it := range items {
				if err := as.Add(i, it[0]); err != nil {
					return err
				}
			}
		}
		out := make(datum.Row, nk, width)
		copy(out, key)
		out = as.AppendResults(out)
		out = out[:width]
		if windowed {
			out[width-2] = datum.NewString(paneOnTime)
			out[width-1] = datum.NewInt(0)
		}
		return emit(out)
	}
	if nk == 0 {
		// A windowed aggregation always groups by its window; without
		// keys it is a global aggregate: one row, even over no input.
		return result(nil, single, singlePending)
	}
	for id, key := range groups.rows {
		var pend [][]datum.Row
		if ordered {
			pend = pending[id]
		}
		if err := result(key, accs[id], pend); err != nil {
			return err
		}
	}
	return nil
}
