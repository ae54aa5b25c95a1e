package planner

import (
	"strings"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/sql"
)

// This file binds aggregation: GROUP BY (with ordinals, output aliases and
// the group-window form TUMBLE(ts, size) / HOP(ts, slide, size)), aggregate
// calls, HAVING, and the select-list functions only a windowed aggregation
// has (TUMBLE_START, HOP_END, PANE_TIMING(), ...).

// needsAggregate reports whether a SELECT aggregates: it has GROUP BY or
// HAVING, or an aggregate call in its select list or ORDER BY.
func needsAggregate(sel *sql.Select, items []selItem) bool {
	if len(sel.GroupBy) > 0 || sel.Having != nil {
		return true
	}
	for _, it := range items {
		if findAST(it.e, isAggCall) != nil {
			return true
		}
	}
	for _, o := range sel.OrderBy {
		if findAST(o.Expr, isAggCall) != nil {
			return true
		}
	}
	return false
}

// aggBinder builds one Aggregate: its group keys are bound first, then the
// select list, HAVING and ORDER BY through ctx, which turns aggregate calls
// and group keys into columns of the Aggregate's output.
type aggBinder struct {
	b     *binder
	input Node
	in    *scope // the aggregate's input columns

	groups    []expr.Expr
	groupKeys map[string]int // exprKey -> index in groups
	names     []string       // output names of the group columns

	aggs    []*expr.AggFunc
	aggKeys map[string]int

	// gw is the group window of the group-window form (GROUP BY TUMBLE(...)).
	gw *groupWindow
	// window is the window assignment a windowed aggregation groups by
	// (either form), and windowKeys the group indexes of its columns.
	window     *WindowAssign
	windowKeys []int

	// paneRefs are the PANE_TIMING()/PANE_INDEX() columns handed out; their
	// indexes are fixed in finish, once the number of aggregates is known.
	paneRefs []*expr.Col
}

// groupWindow is GROUP BY TUMBLE(ts, size) or HOP(ts, slide, size).
type groupWindow struct {
	kind   string // "TUMBLE" or "HOP"
	wa     *WindowAssign
	start  int // group index of window_start
	end    int // group index of window_end
	timeID string
}

func newAggBinder(b *binder, input Node, sc *scope, sel *sql.Select, items []selItem) (*aggBinder, error) {
	a := &aggBinder{b: b, input: input, in: sc, groupKeys: map[string]int{}, aggKeys: map[string]int{}}
	for _, g := range sel.GroupBy {
		if err := a.bindGroup(g, items); err != nil {
			return nil, err
		}
	}
	a.findWindow()
	return a, nil
}

// addGroup adds a group key (once) and returns its index.
func (a *aggBinder) addGroup(e expr.Expr, name string) int {
	k := exprKey(e)
	if i, ok := a.groupKeys[k]; ok {
		return i
	}
	a.groups = append(a.groups, e)
	a.names = append(a.names, name)
	a.groupKeys[k] = len(a.groups) - 1
	return len(a.groups) - 1
}

func (a *aggBinder) bindGroup(g sql.Expr, items []selItem) error {
	ctx := &exprCtx{b: a.b, sc: a.in, clause: "GROUP BY"}
	if f, ok := g.(*sql.FuncCall); ok && groupWindowFuncs[f.Name] {
		return a.bindGroupWindow(f)
	}
	// GROUP BY 2: the second select item.
	if n, ok := ordinal(g); ok {
		if n < 1 || n > len(items) {
			return errAt(g.ExprPos(), pgerr.InvalidColumnReference, "GROUP BY position %d is not in select list", n)
		}
		it := items[n-1]
		if f, ok := it.e.(*sql.FuncCall); ok && windowBoundFuncs[f.Name] {
			return errAt(g.ExprPos(), pgerr.GroupingError, "cannot GROUP BY %s(...); GROUP BY the group window instead", strings.ToUpper(f.Name))
		}
		if findAST(it.e, isAggCall) != nil {
			return errAt(g.ExprPos(), pgerr.GroupingError, "aggregate functions are not allowed in GROUP BY")
		}
		e, err := ctx.bind(it.e)
		if err != nil {
			return err
		}
		a.addGroup(e, it.name)
		return nil
	}
	// GROUP BY name: an input column first, else an output alias
	// (PostgreSQL's rule, the opposite of ORDER BY's).
	if ref, ok := g.(*sql.ColumnRef); ok && ref.Table == "" {
		if _, err := a.in.resolve(ref); err != nil && pgerr.Code(err) == pgerr.UndefinedColumn {
			for _, it := range items {
				if it.name != ref.Name {
					continue
				}
				if findAST(it.e, isAggCall) != nil {
					return errAt(g.ExprPos(), pgerr.GroupingError, "aggregate functions are not allowed in GROUP BY")
				}
				e, err := ctx.bind(it.e)
				if err != nil {
					return err
				}
				a.addGroup(e, it.name)
				return nil
			}
		}
	}
	e, err := ctx.bind(g)
	if err != nil {
		return err
	}
	a.addGroup(e, outputName(g, a.in))
	return nil
}

// bindGroupWindow binds GROUP BY TUMBLE(ts, size[, offset]) or
// HOP(ts, slide, size[, offset]): the input gets a window assignment, and
// window_start and window_end become group keys, exactly as in the TVF form.
func (a *aggBinder) bindGroupWindow(f *sql.FuncCall) error {
	if a.gw != nil {
		return errAt(f.Pos, pgerr.FeatureNotSupported, "only one group window is allowed in GROUP BY")
	}
	kind := strings.ToUpper(f.Name)
	timeCol, size, slide, offset, err := a.windowArgs(kind, f)
	if err != nil {
		return err
	}
	wa, err := a.b.windowAssign(a.input, kind, timeCol, size, slide, offset, f.Pos)
	if err != nil {
		return err
	}
	a.input = wa
	// The window columns are not nameable in this form (Beam SQL and Flink
	// do not expose them): TUMBLE_START and friends read them.
	for _, c := range windowCols {
		a.in.cols = append(a.in.cols, scopeCol{table: "$window", name: c.Name, typ: c.Type, hidden: true})
	}
	a.gw = &groupWindow{kind: kind, wa: wa, timeID: exprKey(timeCol)}
	a.gw.start = a.addGroup(&expr.Col{Idx: wa.StartCol(), Typ: datum.TypeTimestamp, Name: "window_start"}, "window_start")
	a.gw.end = a.addGroup(&expr.Col{Idx: wa.EndCol(), Typ: datum.TypeTimestamp, Name: "window_end"}, "window_end")
	return nil
}

// windowArgs splits a group-window call's (or a TUMBLE_START-style call's)
// arguments: (ts, size[, offset]) for TUMBLE, (ts, slide, size[, offset])
// for HOP.
func (a *aggBinder) windowArgs(kind string, f *sql.FuncCall) (ts *expr.Col, size, slide, offset sql.Expr, err error) {
	n := len(f.Args)
	want := 2
	if kind == "HOP" {
		want = 3
	}
	if n != want && n != want+1 {
		return nil, nil, nil, nil, errAt(f.Pos, pgerr.UndefinedFunction,
			"%s takes %d or %d arguments: %s", strings.ToUpper(f.Name), want, want+1, windowSignature(kind))
	}
	ctx := &exprCtx{b: a.b, sc: a.in, clause: "GROUP BY"}
	e, err := ctx.bind(f.Args[0])
	if err != nil {
		return nil, nil, nil, nil, err
	}
	ts, ok := e.(*expr.Col)
	if !ok {
		return nil, nil, nil, nil, errAt(f.Args[0].ExprPos(), pgerr.FeatureNotSupported,
			"the time argument of %s must be a column", strings.ToUpper(f.Name))
	}
	if kind == "HOP" {
		slide, size = f.Args[1], f.Args[2]
	} else {
		size = f.Args[1]
	}
	if n == want+1 {
		offset = f.Args[n-1]
	}
	return ts, size, slide, offset, nil
}

func windowSignature(kind string) string {
	if kind == "HOP" {
		return "HOP(time_col, slide, size[, offset])"
	}
	return "TUMBLE(time_col, size[, offset])"
}

// findWindow recognizes the TVF form: a group key that is window_start or
// window_end of a window assignment below (through filters and
// pass-through projections) makes the aggregation windowed.
func (a *aggBinder) findWindow() {
	if a.gw != nil {
		a.window = a.gw.wa
		a.windowKeys = []int{a.gw.start, a.gw.end}
		return
	}
	for i, g := range a.groups {
		c, ok := g.(*expr.Col)
		if !ok {
			continue
		}
		wa, _ := traceWindowCol(a.input, c.Idx)
		if wa == nil || (a.window != nil && wa != a.window) {
			continue
		}
		a.window = wa
		a.windowKeys = append(a.windowKeys, i)
	}
}

// traceWindowCol follows column col of n down through filters and
// pass-through projections; if it is a window assignment's window_start or
// window_end, it returns that node and 0 (start) or 1 (end).
func traceWindowCol(n Node, col int) (*WindowAssign, int) {
	for {
		switch x := n.(type) {
		case *Filter:
			n = x.Input
		case *Project:
			c, ok := x.Exprs[col].(*expr.Col)
			if !ok {
				return nil, 0
			}
			n, col = x.Input, c.Idx
		case *WindowAssign:
			switch col {
			case x.StartCol():
				return x, 0
			case x.EndCol():
				return x, 1
			}
			return nil, 0
		default:
			return nil, 0
		}
	}
}

// ctx returns an expression context for a clause bound over the Aggregate.
// pane says whether PANE_TIMING()/PANE_INDEX() are allowed (select list).
func (a *aggBinder) ctx(clause string, pane bool) *exprCtx {
	c := &exprCtx{b: a.b, sc: a.in, clause: clause}
	c.hook = func(e sql.Expr) (expr.Expr, bool, error) { return a.hook(c, e, pane) }
	return c
}

func (a *aggBinder) hook(c *exprCtx, e sql.Expr, pane bool) (expr.Expr, bool, error) {
	if f, ok := e.(*sql.FuncCall); ok && f.Over == nil {
		switch {
		case expr.IsAggregate(f.Name):
			r, err := a.bindAggCall(f)
			return r, true, err
		case windowBoundFuncs[f.Name]:
			r, err := a.bindWindowBound(f)
			return r, true, err
		case paneFuncs[f.Name]:
			r, err := a.bindPane(f, pane)
			return r, true, err
		}
	}
	if findAST(e, isAggregateContextFunc) != nil {
		return nil, false, nil // bind the parts; the calls inside are ours
	}
	// No aggregate inside: it must be a group key, or built from them, or a
	// constant.
	plain := &exprCtx{b: a.b, sc: a.in, clause: c.clause}
	bound, err := plain.bind(e)
	if err != nil {
		return nil, true, err
	}
	if i, ok := a.groupKeys[exprKey(bound)]; ok {
		return a.groupCol(i), true, nil
	}
	if len(colsUsed(bound)) == 0 {
		return bound, true, nil
	}
	if hasCorrelatedSubquery(bound) {
		// A subquery reading the row: over the Aggregate's output, the
		// columns it reads must be group keys.
		mapped, err := mapCols(bound, func(col *expr.Col) (expr.Expr, error) {
			if i, ok := a.groupKeys[exprKey(col)]; ok {
				return a.groupCol(i), nil
			}
			return nil, errAt(e.ExprPos(), pgerr.GroupingError,
				"subquery uses ungrouped column %q from outer query", col.Name)
		})
		return mapped, true, err
	}
	switch x := e.(type) {
	case *sql.ColumnRef:
		return nil, true, errAt(x.Pos, pgerr.GroupingError,
			"column %q must appear in the GROUP BY clause or be used in an aggregate function", refString(x))
	case *colIdxRef:
		return nil, true, errAt(x.pos, pgerr.GroupingError,
			"column %q must appear in the GROUP BY clause or be used in an aggregate function", a.in.cols[x.idx].name)
	}
	return nil, false, nil
}

func isAggregateContextFunc(e sql.Expr) bool {
	f, ok := e.(*sql.FuncCall)
	return ok && f.Over == nil && (expr.IsAggregate(f.Name) || windowBoundFuncs[f.Name] || paneFuncs[f.Name])
}

// hasCorrelatedSubquery reports whether e holds a subquery that reads the
// row e is evaluated on.
func hasCorrelatedSubquery(e expr.Expr) bool {
	found := false
	walkExpr(e, func(x expr.Expr) {
		if s, ok := x.(*Subquery); ok && len(s.Outer) > 0 {
			found = true
		}
	})
	return found
}

func (a *aggBinder) groupCol(i int) *expr.Col {
	return &expr.Col{Idx: i, Typ: a.groups[i].Type(), Name: a.names[i]}
}

// bindAggCall binds an aggregate call over the input; the result is the
// aggregate's output column.
func (a *aggBinder) bindAggCall(f *sql.FuncCall) (expr.Expr, error) {
	for _, arg := range f.Args {
		if n := findAST(arg, isAggCall); n != nil {
			return nil, errAt(n.ExprPos(), pgerr.GroupingError, "aggregate function calls cannot be nested")
		}
	}
	ctx := &exprCtx{b: a.b, sc: a.in, clause: "aggregate function calls"}
	var arg expr.Expr
	var extra []expr.Expr // string_agg's delimiter
	name := strings.TrimPrefix(f.Name, "pg_catalog.")
	switch {
	case f.Star:
		if name != "count" {
			return nil, errAt(f.Pos, pgerr.UndefinedFunction, "function %s(*) does not exist", f.Name)
		}
	case len(f.Args) == 1, len(f.Args) == 2 && name == "string_agg":
		args, err := ctx.bindList(f.Args)
		if err != nil {
			return nil, err
		}
		arg, extra = args[0], args[1:]
	default:
		return nil, errAt(f.Pos, pgerr.UndefinedFunction, "function %s with %d arguments does not exist", f.Name, len(f.Args))
	}
	if f.Filter != nil {
		// agg(x) FILTER (WHERE c) is agg(CASE WHEN c THEN x END): every
		// aggregate ignores NULLs (count(*) becomes count(CASE ... THEN 1)).
		cond, err := ctx.bindBool(f.Filter, "FILTER")
		if err != nil {
			return nil, err
		}
		then := arg
		if then == nil {
			then = &expr.Const{Val: datum.NewInt(1), Typ: datum.TypeInt4}
		}
		if arg, err = expr.ResolveCase(nil, []expr.When{{Cond: cond, Then: then}}, nil); err != nil {
			return nil, positioned(err, f.Pos)
		}
	}
	var args []expr.Expr
	if arg != nil {
		args = append([]expr.Expr{arg}, extra...)
	}
	agg, err := expr.ResolveAggArgs(f.Name, args, f.Distinct)
	if err != nil {
		return nil, positioned(err, f.Pos)
	}
	k := agg.Fn + "|" + boolKey(agg.Distinct) + "|" + agg.Delim + "|"
	if agg.Arg != nil {
		k += exprKey(agg.Arg)
	}
	if len(f.OrderBy) > 0 && (agg.Fn == "array_agg" || agg.Fn == "string_agg") {
		// The order only matters to the aggregates that collect their
		// inputs; the others ignore it, as their results are the same.
		for _, o := range f.OrderBy {
			e, err := ctx.bind(o.Expr)
			if err != nil {
				return nil, err
			}
			sk := sortKey(0, o)
			agg.Order = append(agg.Order, expr.AggOrder{Expr: e, Desc: sk.Desc, NullsFirst: sk.NullsFirst})
			k += "|" + exprKey(e) + boolKey(sk.Desc) + boolKey(sk.NullsFirst)
		}
	}
	i, ok := a.aggKeys[k]
	if !ok {
		a.aggs = append(a.aggs, agg)
		i = len(a.aggs) - 1
		a.aggKeys[k] = i
	}
	return &expr.Col{Idx: len(a.groups) + i, Typ: agg.Typ, Name: agg.Fn}, nil
}

func boolKey(b bool) string {
	if b {
		return "d"
	}
	return ""
}

// bindWindowBound binds TUMBLE_START(ts, size) and friends: they must name
// the GROUP BY's group window, and read its window_start or window_end.
func (a *aggBinder) bindWindowBound(f *sql.FuncCall) (expr.Expr, error) {
	fn := strings.ToUpper(f.Name)
	kind, bound, _ := strings.Cut(fn, "_")
	if a.gw == nil || a.gw.kind != kind {
		return nil, errAt(f.Pos, pgerr.GroupingError,
			"%s(...) requires GROUP BY %s", fn, windowSignature(kind))
	}
	ts, size, slide, offset, err := a.windowArgs(kind, f)
	if err != nil {
		return nil, err
	}
	probe, err := a.b.windowAssign(a.gw.wa.Input, kind, ts, size, slide, offset, f.Pos)
	if err != nil {
		return nil, err
	}
	if exprKey(ts) != a.gw.timeID || probe.Spec() != a.gw.wa.Spec() {
		return nil, errAt(f.Pos, pgerr.GroupingError,
			"%s(...) must have the same arguments as the GROUP BY %s(...)", fn, kind)
	}
	if bound == "START" {
		return a.groupCol(a.gw.start), nil
	}
	return a.groupCol(a.gw.end), nil
}

// bindPane binds PANE_TIMING() / PANE_INDEX(): columns of a windowed
// aggregation's output, allowed in its select list only.
func (a *aggBinder) bindPane(f *sql.FuncCall, allowed bool) (expr.Expr, error) {
	fn := strings.ToUpper(f.Name)
	if !allowed || a.window == nil {
		return nil, errAt(f.Pos, pgerr.GroupingError, "%s() is only allowed in the select list of a windowed aggregation", fn)
	}
	if len(f.Args) != 0 || f.Star {
		return nil, errAt(f.Pos, pgerr.UndefinedFunction, "%s() takes no arguments", fn)
	}
	c := &expr.Col{Idx: 0, Typ: datum.TypeText, Name: "pane_timing"}
	if f.Name == "pane_index" {
		c = &expr.Col{Idx: 1, Typ: datum.TypeInt8, Name: "pane_index"}
	}
	a.paneRefs = append(a.paneRefs, c)
	return c, nil
}

// finish builds the Aggregate once every clause has been bound.
func (a *aggBinder) finish() *Aggregate {
	n := &Aggregate{Input: a.input, GroupBy: a.groups, Aggs: a.aggs, Window: a.window, WindowKeys: a.windowKeys}
	for i, g := range a.groups {
		n.Cols = append(n.Cols, plan.Column{Name: a.names[i], Type: g.Type(), NotNull: isNotNull(g, a.input.Schema())})
	}
	for _, agg := range a.aggs {
		n.Cols = append(n.Cols, plan.Column{Name: agg.Fn, Type: agg.Typ, NotNull: agg.Fn == "count"})
	}
	if a.window != nil {
		base := len(n.Cols)
		n.Cols = append(n.Cols,
			plan.Column{Name: "pane_timing", Type: datum.TypeText, NotNull: true},
			plan.Column{Name: "pane_index", Type: datum.TypeInt8, NotNull: true})
		for _, c := range a.paneRefs {
			c.Idx += base
		}
	}
	return n
}
