package planner

import (
	"strconv"
	"strings"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/sql"
)

// This file binds window functions in batch queries: f(...) OVER
// (PARTITION BY ... ORDER BY ... [frame]) in a select list or ORDER BY.
// They are computed by a Window node after WHERE, GROUP BY and HAVING (so
// their arguments may use aggregates) and before DISTINCT, ORDER BY and
// LIMIT; the select list reads their values as columns.

// windowPlaceholder offsets the column indexes handed out for window
// functions until the Window node's input width is known (fix).
const windowPlaceholder = 1 << 24

// rankingFuncs are the window functions that are not aggregates, with
// their argument counts (min, max).
var rankingFuncs = map[string][2]int{
	"row_number": {0, 0}, "rank": {0, 0}, "dense_rank": {0, 0}, "percent_rank": {0, 0},
	"cume_dist": {0, 0}, "ntile": {1, 1}, "lag": {1, 3}, "lead": {1, 3},
	"first_value": {1, 1}, "last_value": {1, 1}, "nth_value": {2, 2},
}

// winBinder collects a query's window functions.
type winBinder struct {
	b     *binder
	funcs []*WindowFunc
	keys  map[string]int
	refs  []*expr.Col
}

// hasWindowFuncs reports whether a select list or ORDER BY has a window
// function call (outside subqueries).
func hasWindowFuncs(items []selItem, order []sql.OrderItem) bool {
	for _, it := range items {
		if findAST(it.e, isWindowCall) != nil {
			return true
		}
	}
	for _, o := range order {
		if findAST(o.Expr, isWindowCall) != nil {
			return true
		}
	}
	return false
}

// wrap returns a context like base whose window function calls are
// bound by w (their arguments, partitions and orderings through base).
func (w *winBinder) wrap(base *exprCtx) *exprCtx {
	c := &exprCtx{b: base.b, sc: base.sc, clause: base.clause}
	c.hook = func(e sql.Expr) (expr.Expr, bool, error) {
		if f, ok := e.(*sql.FuncCall); ok && f.Over != nil {
			r, err := w.bindCall(base, f)
			return r, true, err
		}
		if base.hook != nil {
			if findAST(e, isWindowCall) != nil {
				return nil, false, nil // bind the parts; the calls inside are ours
			}
			return base.hook(e)
		}
		return nil, false, nil
	}
	return c
}

func (w *winBinder) bindCall(base *exprCtx, f *sql.FuncCall) (expr.Expr, error) {
	for _, a := range f.Args {
		if n := findAST(a, isWindowCall); n != nil {
			return nil, errAt(n.ExprPos(), pgerr.GroupingError, "window function calls cannot be nested")
		}
	}
	name := strings.TrimPrefix(f.Name, "pg_catalog.")
	wf := &WindowFunc{Frame: DefaultFrame}
	var err error
	switch arity, ranking := rankingFuncs[name]; {
	case ranking:
		if f.Star || f.Distinct || f.Filter != nil {
			return nil, errAt(f.Pos, pgerr.WrongObjectType, "%s is not an aggregate function", name)
		}
		if len(f.Args) < arity[0] || len(f.Args) > arity[1] {
			return nil, errAt(f.Pos, pgerr.UndefinedFunction, "function %s with %d arguments does not exist", name, len(f.Args))
		}
		wf.Fn = name
		if wf.Args, err = base.bindList(f.Args); err != nil {
			return nil, err
		}
		if err := typeRankingFunc(wf); err != nil {
			return nil, positioned(err, f.Pos)
		}
	case expr.IsAggregate(name):
		if f.Distinct {
			return nil, errAt(f.Pos, pgerr.FeatureNotSupported, "DISTINCT is not implemented for window functions")
		}
		var arg expr.Expr
		var extra []expr.Expr
		switch {
		case f.Star:
			if name != "count" {
				return nil, errAt(f.Pos, pgerr.UndefinedFunction, "function %s(*) does not exist", name)
			}
		case len(f.Args) == 1, len(f.Args) == 2 && name == "string_agg":
			args, err := base.bindList(f.Args)
			if err != nil {
				return nil, err
			}
			arg, extra = args[0], args[1:]
		default:
			return nil, errAt(f.Pos, pgerr.UndefinedFunction, "function %s with %d arguments does not exist", name, len(f.Args))
		}
		if f.Filter != nil {
			cond, err := base.bindBool(f.Filter, "FILTER")
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
		if wf.Agg, err = expr.ResolveAggArgs(name, args, false); err != nil {
			return nil, positioned(err, f.Pos)
		}
		wf.Typ = wf.Agg.Typ
	default:
		return nil, errAt(f.Pos, pgerr.UndefinedFunction, "function %s() is not a window function", name)
	}
	spec := f.Over
	if wf.PartitionBy, err = base.bindList(spec.PartitionBy); err != nil {
		return nil, err
	}
	for _, o := range spec.OrderBy {
		e, err := base.bind(o.Expr)
		if err != nil {
			return nil, err
		}
		k := sortKey(0, o)
		wf.OrderBy = append(wf.OrderBy, WindowOrder{Expr: e, Desc: k.Desc, NullsFirst: k.NullsFirst})
	}
	if spec.Frame != "" {
		if wf.Frame, err = parseFrame(spec.Frame); err != nil {
			return nil, positioned(err, f.Pos)
		}
	}
	key := wf.String()
	for _, a := range wf.Args {
		key += "|" + exprKey(a)
	}
	for _, p := range wf.PartitionBy {
		key += "|" + exprKey(p)
	}
	for _, o := range wf.OrderBy {
		key += "|" + exprKey(o.Expr)
	}
	if wf.Agg != nil && wf.Agg.Arg != nil {
		key += "|" + exprKey(wf.Agg.Arg)
	}
	if w.keys == nil {
		w.keys = map[string]int{}
	}
	i, ok := w.keys[key]
	if !ok {
		w.funcs = append(w.funcs, wf)
		i = len(w.funcs) - 1
		w.keys[key] = i
	}
	ref := &expr.Col{Idx: windowPlaceholder + i, Typ: wf.Typ, Name: name}
	w.refs = append(w.refs, ref)
	return ref, nil
}

// typeRankingFunc checks and types a window function that is not an
// aggregate.
func typeRankingFunc(wf *WindowFunc) error {
	switch wf.Fn {
	case "row_number", "rank", "dense_rank":
		wf.Typ = datum.TypeInt8
	case "percent_rank", "cume_dist":
		wf.Typ = datum.TypeFloat8
	case "ntile":
		n, err := assignCast(wf.Args[0], datum.TypeInt4)
		if err != nil || n.Type() != datum.TypeInt4 {
			return pgerr.New(pgerr.UndefinedFunction, "function ntile(%s) does not exist", pgTypeName(wf.Args[0].Type()))
		}
		wf.Args[0] = n
		wf.Typ = datum.TypeInt4
	case "lag", "lead":
		x := wf.Args[0]
		if x.Type() == datum.TypeUnknown {
			c, err := expr.ResolveCast(x, datum.TypeText)
			if err != nil {
				return err
			}
			wf.Args[0], x = c, c
		}
		wf.Typ = x.Type()
		if len(wf.Args) >= 2 {
			n, err := assignCast(wf.Args[1], datum.TypeInt8)
			if err != nil || n.Type() != datum.TypeInt8 {
				return pgerr.New(pgerr.UndefinedFunction, "function %s(%s, %s) does not exist", wf.Fn, pgTypeName(x.Type()), pgTypeName(wf.Args[1].Type()))
			}
			wf.Args[1] = n
		}
		if len(wf.Args) == 3 {
			d, err := expr.ResolveCast(wf.Args[2], wf.Typ)
			if err != nil {
				return err
			}
			wf.Args[2] = d
		}
	case "first_value", "last_value", "nth_value":
		x := wf.Args[0]
		if x.Type() == datum.TypeUnknown {
			c, err := expr.ResolveCast(x, datum.TypeText)
			if err != nil {
				return err
			}
			wf.Args[0] = c
		}
		wf.Typ = wf.Args[0].Type()
		if wf.Fn == "nth_value" {
			n, err := assignCast(wf.Args[1], datum.TypeInt8)
			if err != nil || n.Type() != datum.TypeInt8 {
				return pgerr.New(pgerr.UndefinedFunction, "function nth_value(%s, %s) does not exist", pgTypeName(wf.Typ), pgTypeName(wf.Args[1].Type()))
			}
			wf.Args[1] = n
		}
	}
	return nil
}

// parseFrame reads a frame clause as the parser prints it: {ROWS|RANGE}
// BETWEEN bound AND bound. RANGE frames support only UNBOUNDED and
// CURRENT ROW bounds; GROUPS frames are not supported.
func parseFrame(s string) (WindowFrame, error) {
	words := strings.Fields(strings.ToUpper(s))
	var f WindowFrame
	if len(words) < 2 {
		return f, pgerr.New(pgerr.SyntaxError, "malformed window frame %q", s)
	}
	switch words[0] {
	case "ROWS":
		f.Rows = true
	case "RANGE":
	default:
		return f, pgerr.New(pgerr.FeatureNotSupported, "%s window frames are not supported", words[0])
	}
	rest := words[1:]
	if rest[0] != "BETWEEN" {
		return f, pgerr.New(pgerr.SyntaxError, "malformed window frame %q", s)
	}
	rest = rest[1:]
	and := -1
	for i, w := range rest {
		if w == "AND" {
			and = i
		}
	}
	if and < 0 {
		return f, pgerr.New(pgerr.SyntaxError, "malformed window frame %q", s)
	}
	var err error
	if f.Start, err = parseBound(rest[:and], f.Rows); err != nil {
		return f, err
	}
	if f.End, err = parseBound(rest[and+1:], f.Rows); err != nil {
		return f, err
	}
	if f.Start.Kind == UnboundedFollowing {
		return f, pgerr.New("42P20", "frame start cannot be UNBOUNDED FOLLOWING")
	}
	if f.End.Kind == UnboundedPreceding {
		return f, pgerr.New("42P20", "frame end cannot be UNBOUNDED PRECEDING")
	}
	if f.Start.Kind > f.End.Kind {
		return f, pgerr.New("42P20", "frame starting from %s cannot end with %s", strings.ToLower(f.Start.String()), strings.ToLower(f.End.String()))
	}
	return f, nil
}

func parseBound(ws []string, rows bool) (FrameBound, error) {
	s := strings.Join(ws, " ")
	switch s {
	case "UNBOUNDED PRECEDING":
		return FrameBound{Kind: UnboundedPreceding}, nil
	case "UNBOUNDED FOLLOWING":
		return FrameBound{Kind: UnboundedFollowing}, nil
	case "CURRENT ROW":
		return FrameBound{Kind: CurrentRow}, nil
	}
	if len(ws) == 2 && (ws[1] == "PRECEDING" || ws[1] == "FOLLOWING") {
		n, err := strconv.ParseInt(strings.Trim(ws[0], "'"), 10, 64)
		if err != nil || n < 0 {
			return FrameBound{}, pgerr.New(pgerr.FeatureNotSupported, "window frame offset %s: only non-negative integer constants are supported", ws[0])
		}
		if !rows {
			return FrameBound{}, pgerr.New(pgerr.FeatureNotSupported, "RANGE frames with an offset are not supported")
		}
		if ws[1] == "PRECEDING" {
			return FrameBound{Kind: OffsetPreceding, Offset: n}, nil
		}
		return FrameBound{Kind: OffsetFollowing, Offset: n}, nil
	}
	return FrameBound{}, pgerr.New(pgerr.SyntaxError, "malformed window frame bound %q", s)
}

// finish builds the Window node over in and points the handed-out columns
// at its outputs.
func (w *winBinder) finish(in Node) Node {
	if len(w.funcs) == 0 {
		return in
	}
	base := len(in.Schema())
	n := &Window{Input: in, Funcs: w.funcs, Cols: append(plan.Schema(nil), in.Schema()...)}
	for _, f := range w.funcs {
		name := f.Fn
		if f.Agg != nil {
			name = f.Agg.Fn
		}
		n.Cols = append(n.Cols, plan.Column{Name: name, Type: f.Typ})
	}
	for _, r := range w.refs {
		r.Idx = r.Idx - windowPlaceholder + base
	}
	return n
}
